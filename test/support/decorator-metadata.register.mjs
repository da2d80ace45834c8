import { register } from 'node:module';

register('./decorator-metadata.loader.mjs', import.meta.url);
