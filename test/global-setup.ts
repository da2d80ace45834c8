import type { TestProject } from 'vitest/node';
import { startEmbeddedDatabase, type EmbeddedDatabase } from '../lib/storage/embedded.database.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** The database every test uses: `DATABASE_URL`, or an embedded PGlite served on loopback. */
    databaseUrl: string;
    /** `postgres` or `embedded`, for tests that must skip what one engine cannot do. */
    databaseKind: 'postgres' | 'embedded';
  }
}

let embedded: EmbeddedDatabase | undefined;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let url = process.env.DATABASE_URL;
  if (!url) {
    // One in-memory PGlite for the whole run; test files isolate themselves by schema.
    embedded = await startEmbeddedDatabase({ dataDir: 'memory://', maxConnections: 64 });
    url = embedded.url;
  }
  project.provide('databaseUrl', url);
  project.provide('databaseKind', embedded ? 'embedded' : 'postgres');
  // Code under test that opens storage without a `database` option lands here, not in ./.kostrack.
  process.env.KOSTRACK_DATABASE_URL ??= url;
  return async () => {
    await embedded?.stop();
  };
}
