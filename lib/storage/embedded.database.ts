import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { KostrackConfigError } from '../core/errors.js';
// PGlite's own types appear here only inside function bodies, and embedded.cluster.ts (which the
// public declarations reach through clusterTemplateFile) types it structurally: a host compiling
// with `skipLibCheck: false` must not type-check PGlite's files (they need @types/emscripten).
import { openCluster } from './embedded.cluster.js';

export { clusterTemplateFile } from './embedded.cluster.js';

export interface EmbeddedDatabaseOptions {
  /** Folder of the data files; `memory://` keeps everything in memory. Default `.kostrack/pgdata`. */
  dataDir?: string | undefined;
  /** Loopback port; 0 picks a free one. Default 0. */
  port?: number | undefined;
  /** Concurrent `pg` connections the server accepts. Default 16. */
  maxConnections?: number | undefined;
}

export interface EmbeddedDatabase {
  /** A `postgresql://` URL any `pg` client (or psql) can use while the server runs. */
  readonly url: string;
  readonly port: number;
  stop(): Promise<void>;
}

export const DEFAULT_EMBEDDED_DATA_DIR = '.kostrack/pgdata';

/**
 * Starts PGlite (PostgreSQL compiled to WASM) in this process and serves it on a loopback port
 * through pglite-socket, so the rest of Kostrack speaks plain `pg` to it exactly as to a server.
 * PGlite is one session: the socket server runs one query at a time and keeps a transaction on
 * the connection that opened it, which is why storage never relies on session state.
 */
export async function startEmbeddedDatabase(options: EmbeddedDatabaseOptions = {}): Promise<EmbeddedDatabase> {
  const dataDir = options.dataDir ?? DEFAULT_EMBEDDED_DATA_DIR;
  if (typeof dataDir !== 'string' || dataDir === '')
    throw new KostrackConfigError(`Kostrack embedded database: dataDir must be a folder path or "memory://", got ${JSON.stringify(dataDir)}`);
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new KostrackConfigError(`Kostrack embedded database: port must be 0..65535, got ${JSON.stringify(port)}`);
  const maxConnections = options.maxConnections ?? 16;
  if (!Number.isInteger(maxConnections) || maxConnections < 1)
    throw new KostrackConfigError(`Kostrack embedded database: maxConnections must be a positive integer, got ${JSON.stringify(maxConnections)}`);

  let PGlite: typeof import('@electric-sql/pglite').PGlite;
  let PGLiteSocketServer: typeof import('@electric-sql/pglite-socket').PGLiteSocketServer;
  const noDatabase = (why: string) =>
    new KostrackConfigError(
      `Kostrack has no database (${why}): set the \`database\` option (or KOSTRACK_DATABASE_URL) to a PostgreSQL URL ` +
        'or TypeORM options (or `{ dataSource: name }`), or make the embedded default work: install ' +
        '@electric-sql/pglite and @electric-sql/pglite-socket, and give each process its own `embedded.dataDir`. ' +
        '`database: false` turns storage off.',
    );
  try {
    ({ PGlite } = await import('@electric-sql/pglite'));
    ({ PGLiteSocketServer } = await import('@electric-sql/pglite-socket'));
  } catch {
    throw noDatabase('the embedded engine is not installed');
  }

  const memory = dataDir === 'memory://';
  let db: InstanceType<typeof PGlite>;
  try {
    if (!memory) mkdirSync(resolve(dataDir), { recursive: true });
    db = await openCluster(PGlite, memory ? null : resolve(dataDir));
  } catch (e) {
    throw noDatabase(`the embedded engine could not open ${dataDir}: ${(e as Error)?.message ?? String(e)}`);
  }
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port, maxConnections });
  try {
    await server.start();
  } catch (e) {
    await db.close();
    throw noDatabase(`the embedded engine could not listen on 127.0.0.1:${port}: ${(e as Error)?.message ?? String(e)}`);
  }
  const actualPort = Number(server.getServerConn().split(':').pop());
  let stopped = false;
  return {
    url: `postgresql://postgres@127.0.0.1:${actualPort}/postgres`,
    port: actualPort,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.stop();
      await db.close();
    },
  };
}
