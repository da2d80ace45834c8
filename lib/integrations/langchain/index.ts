export { KostrackCallbackHandler, type KostrackCallbackOptions } from './kostrack.callback-handler.js';
