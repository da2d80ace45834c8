import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clusterTemplateFile, openCluster } from '../../lib/storage/embedded.cluster.js';
import { startEmbeddedDatabase } from '../../lib/storage/embedded.database.js';

/**
 * A new embedded cluster starts from a template of one initdb made (initdb is most of a first
 * start). Each test brings its own template file, so the shared cache in node_modules/.cache is
 * never touched here. Template use is proven by content, never by timing: a template carrying a
 * marker table gives clusters that have it.
 */
const root = mkdtempSync(join(tmpdir(), 'kt-template-'));
const opened: PGlite[] = [];
const open = async (dir: string | null, template: string) => {
  const db = await openCluster(PGlite, dir, template);
  opened.push(db);
  return db;
};
const hasMarker = async (db: PGlite) =>
  (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'template_marker'`)).rows[0].n === 1;

afterAll(async () => {
  for (const db of opened) if (!db.closed) await db.close();
});

describe('embedded cluster template', () => {
  it('lives beside the installed PGlite, named by its version', () => {
    const file = clusterTemplateFile()!;
    const { version } = JSON.parse(readFileSync(join(process.cwd(), 'node_modules/@electric-sql/pglite/package.json'), 'utf8')) as { version: string };
    expect(file).toBe(join(process.cwd(), 'node_modules', '.cache', 'kostrack', `pglite-${version}-cluster.tar`));
  });

  // One initdb for the two tests below: the cluster that saves the template, then marked.
  const marked = join(root, 'a', 'cluster.tar');
  let savedBytes = 0;
  beforeAll(async () => {
    const first = await open(null, marked);
    savedBytes = statSync(marked).size;
    // Put a marker into the template, as if initdb had made it, to see which clusters come from it.
    await first.exec('CREATE TABLE template_marker (id int)');
    writeFileSync(marked, Buffer.from(await (await first.dumpDataDir('none')).arrayBuffer()));
  });

  it('the first new cluster saves one; later new clusters, in memory or in a folder, start from it', async () => {
    expect(savedBytes).toBeGreaterThan(1_000_000);
    const memory = await open(null, marked);
    expect(await hasMarker(memory)).toBe(true);
    const dir = join(root, 'a', 'pgdata');
    mkdirSync(dir);
    const inFolder = await open(dir, marked);
    expect(await hasMarker(inFolder)).toBe(true);
    await inFolder.exec(`INSERT INTO template_marker VALUES (7)`);
    await inFolder.close();
    // A folder that already holds a cluster is reopened as it is.
    const again = await open(dir, marked);
    expect((await again.query<{ id: number }>('SELECT id FROM template_marker')).rows).toEqual([{ id: 7 }]);
  });

  it('a folder that is not empty is left to PGlite, never overwritten by the template', async () => {
    const dir = join(root, 'b', 'pgdata');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    const db = await open(dir, marked);
    expect(await hasMarker(db)).toBe(false);
    expect(readFileSync(join(dir, 'notes.txt'), 'utf8')).toBe('mine');
  });

  it('a damaged template falls back to initdb and is replaced by a good one', async () => {
    // Garbage, for a folder cluster.
    const garbage = join(root, 'c', 'cluster.tar');
    mkdirSync(join(root, 'c'));
    writeFileSync(garbage, Buffer.alloc(4096, 7));
    const dir = join(root, 'c', 'pgdata');
    mkdirSync(dir);
    const inFolder = await open(dir, garbage);
    expect((await inFolder.query<{ one: number }>('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
    expect(existsSync(join(dir, 'PG_VERSION'))).toBe(true);
    expect(statSync(garbage).size).toBeGreaterThan(1_000_000);
    // A truncated one, for a memory cluster (PGlite given half an archive throws outside any promise).
    const truncated = join(root, 'c', 'truncated.tar');
    writeFileSync(truncated, readFileSync(marked).subarray(0, 1_000_000));
    const memory = await open(null, truncated);
    expect(await hasMarker(memory)).toBe(false);
    expect(statSync(truncated).size).toBeGreaterThan(1_000_000);
  });

  it('startEmbeddedDatabase serves a new folder cluster over pg', async () => {
    const embedded = await startEmbeddedDatabase({ dataDir: join(root, 'd', 'pgdata') });
    const client = new pg.Client({ connectionString: embedded.url });
    try {
      await client.connect();
      expect((await client.query('SELECT current_database() AS db')).rows).toEqual([{ db: 'postgres' }]);
    } finally {
      await client.end();
      await embedded.stop();
    }
  });
});
