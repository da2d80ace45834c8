import { DEFAULT_EMBEDDED_DATA_DIR } from './embedded.database.js';
import { redact, type PostgresConnectionOptions, type ResolvedDatabase } from './storage.options.js';

/**
 * The one line said at start about where calls are stored: an unset variable that quietly
 * selected the embedded database shows up in the first log lines, not weeks later. Passwords
 * are masked.
 */
export function describeDatabase(db: ResolvedDatabase, at: { schema: string; embeddedUrl?: string | null | undefined; dataSource?: string | undefined }): string {
  const schema = `schema "${at.schema}"`;
  switch (db.kind) {
    case 'off':
      return 'off (database: false): calls are traced in process, nothing is stored';
    case 'url':
      return `PostgreSQL at ${redact(db.url)}, ${schema}`;
    case 'options':
      return `PostgreSQL at ${whereOf(db.options)} (TypeORM options), ${schema}`;
    case 'dataSource':
      return `the host's TypeORM DataSource${typeof db.dataSource === 'string' ? ` "${db.dataSource}"` : ''}${at.dataSource ? ` (${at.dataSource})` : ''}, ${schema}`;
    case 'embedded': {
      const dir = db.options.dataDir ?? DEFAULT_EMBEDDED_DATA_DIR;
      const where = dir.startsWith('memory://') ? 'in memory' : `in ${dir}`;
      return `the embedded PGlite database ${where}${at.embeddedUrl ? `, served at ${at.embeddedUrl}` : ''}, ${schema} (for development: set \`database\` in production)`;
    }
  }
}

/** host:port/database of TypeORM postgres options, or their URL masked. */
export function whereOf(o: Pick<PostgresConnectionOptions, 'url' | 'host' | 'port' | 'database'>): string {
  if (o.url) return redact(o.url);
  return `${o.host ?? 'localhost'}:${o.port ?? 5432}/${o.database ?? ''}`;
}
