import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';

/**
 * What this file uses of a PGlite instance, written out instead of imported: the public
 * declarations reach this module (through embedded.database.ts), and PGlite's own .d.ts needs
 * @types/emscripten, which a host compiling with `skipLibCheck: false` does not have.
 */
export interface ClusterDatabase {
  dumpDataDir(compression?: 'none'): Promise<Blob>;
}

/**
 * PGlite's class as this file calls it. The constructor is only there to name the instance type
 * (`InstanceType<C>`): callers get their real PGlite back, this file sees `ClusterDatabase`.
 */
export interface ClusterOpener {
  new (...args: never[]): ClusterDatabase;
  create(dataDir?: string): Promise<ClusterDatabase>;
  create(options: { loadDataDir: Blob }): Promise<ClusterDatabase>;
}

/**
 * Opens the cluster in `dir` (null: in memory). A new cluster needs initdb, which is most of a first
 * start (3 to 9 s on a shared 2-core VM, by its load; the WASM itself compiles in 0.1 s). So the
 * first initdb of an installed PGlite version is saved as a template, an uncompressed tar of the
 * empty cluster (40 MB, written in 0.3 s), in `node_modules/.cache/kostrack/` beside PGlite itself,
 * and every later new cluster starts from a copy of it (about 1 s): the embedded database of a
 * second app or checkout, memory:// test databases, a deleted .kostrack folder. The template is
 * PGlite's own `dumpDataDir()` output; memory clusters load it with `loadDataDir`, folders get it
 * extracted first (PGlite writes a loaded tar into a folder several times slower). Anything wrong
 * with the template (missing, unreadable cache folder, bad tar) falls back to a plain initdb.
 */
export async function openCluster<C extends ClusterOpener>(
  PGlite: C,
  dir: string | null,
  templateFile: string | undefined = clusterTemplateFile(),
): Promise<InstanceType<C>> {
  // PGlite.create resolves to a PGlite: the cast gives back the type ClusterOpener narrowed away.
  return (await openWith(PGlite, dir, templateFile)) as InstanceType<C>;
}

async function openWith(PGlite: ClusterOpener, dir: string | null, templateFile: string | undefined): Promise<ClusterDatabase> {
  const fresh = dir === null || readdirSync(dir).length === 0;
  if (!fresh) return PGlite.create(dir);
  let template: Buffer | undefined;
  try {
    if (templateFile && existsSync(templateFile)) template = readFileSync(templateFile);
  } catch {
    template = undefined;
  }
  if (template) {
    try {
      const entries = readTar(template);
      if (dir === null) return await PGlite.create({ loadDataDir: new Blob([new Uint8Array(template)]) });
      extractTar(entries, dir);
      return await PGlite.create(dir);
    } catch {
      // A template that cannot be used is replaced by the next initdb's.
      if (dir !== null) for (const entry of readdirSync(dir)) rmSync(join(dir, entry), { recursive: true, force: true });
    }
  }
  const db = await PGlite.create(dir ?? undefined);
  if (templateFile) await saveTemplate(db, templateFile);
  return db;
}

/** Never fails the start: a read-only or missing cache folder only means the next start runs initdb too. */
async function saveTemplate(db: ClusterDatabase, file: string): Promise<void> {
  // Written aside and renamed: processes starting at once never read half a template.
  const partial = `${file}.${process.pid}.${Date.now()}.tmp`;
  try {
    const tar = Buffer.from(await (await db.dumpDataDir('none')).arrayBuffer());
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(partial, tar);
    renameSync(partial, file);
  } catch {
    rmSync(partial, { force: true });
  }
}

/** `<node_modules>/.cache/kostrack/pglite-<version>-cluster.tar` for the PGlite this process loads; undefined if it cannot be located. */
export function clusterTemplateFile(): string | undefined {
  try {
    let dir = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'));
    for (;;) {
      const manifest = join(dir, 'package.json');
      if (existsSync(manifest)) {
        const { name, version } = JSON.parse(readFileSync(manifest, 'utf8')) as { name?: string; version?: string };
        if (name === '@electric-sql/pglite' && version) {
          const nodeModules = resolve(dir, '..', '..');
          return join(nodeModules, '.cache', 'kostrack', `pglite-${version}-cluster.tar`);
        }
      }
      const parent = dirname(dir);
      if (parent === dir) return undefined;
      dir = parent;
    }
  } catch {
    return undefined;
  }
}

interface TarEntries {
  folders: string[];
  files: [path: string, data: Buffer][];
}

/**
 * Reads the ustar archive PGlite's `dumpDataDir('none')` writes (files and folders only), checking
 * it whole: PGlite itself, handed a damaged archive, fails with an error thrown outside any promise.
 */
function readTar(tar: Buffer): TarEntries {
  const field = (at: number, length: number) => {
    const raw = tar.subarray(at, at + length);
    const end = raw.indexOf(0);
    return raw.subarray(0, end === -1 ? length : end).toString('utf8');
  };
  const entries: TarEntries = { folders: [], files: [] };
  for (let at = 0; ; ) {
    if (at + 512 > tar.length) throw new Error('the cluster template is truncated');
    const name = field(at, 100);
    if (name === '') break; // the zero blocks that end the archive
    if (field(at + 257, 5) !== 'ustar') throw new Error('the cluster template is not a ustar archive');
    const prefix = field(at + 345, 155);
    const sizeField = field(at + 124, 12).trim();
    const size = /^[0-7]+$/.test(sizeField) ? parseInt(sizeField, 8) : NaN;
    const path = (prefix ? `${prefix}/${name}` : name).replace(/^\/+/, '');
    if (!Number.isFinite(size) || at + 512 + size > tar.length || path.split('/').includes('..'))
      throw new Error(`bad cluster template entry ${JSON.stringify(path)}`);
    const type = field(at + 156, 1) || '0';
    if (type === '5') entries.folders.push(path);
    else if (type === '0') entries.files.push([path, tar.subarray(at + 512, at + 512 + size)]);
    else throw new Error(`unexpected entry type ${type} in the cluster template`);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  if (!entries.files.some(([path]) => path === 'PG_VERSION')) throw new Error('the cluster template has no PG_VERSION');
  return entries;
}

/** Writes the entries into `dir`, PG_VERSION last: a folder with it is a cluster to PGlite, so a half-written one must not have it. */
function extractTar({ folders, files }: TarEntries, dir: string): void {
  for (const folder of folders) mkdirSync(join(dir, folder), { recursive: true });
  const ordered = [...files.filter(([p]) => p !== 'PG_VERSION'), ...files.filter(([p]) => p === 'PG_VERSION')];
  for (const [path, data] of ordered) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), data);
  }
}
