import { execFile } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The library's own folder: what `npm pack` packs. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/**
 * One test run: vitest's main process, whose forks run the spec files. Folders named after it are
 * shared by this run's package specs and swept once it is gone (a killed run leaves no litter
 * behind for long).
 */
export const RUN_ID = process.ppid;

/** Prefixes of every temporary folder the package specs create under os.tmpdir(). */
export const PACK_PREFIX = 'kostrack-pack-';
export const APP_PREFIX = 'kostrack-app-';

const PACK_TIMEOUT_MS = 240_000;

/** How this run's package specs agree on one tarball. */
interface PackResult {
  tarball?: string;
  error?: string;
  packMs?: number;
}

function packDir(): string {
  return join(tmpdir(), `${PACK_PREFIX}${RUN_ID}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: the process exists but belongs to someone else.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes package-spec folders left by runs that no longer exist (crashed, killed, or filtered runs). */
export function sweepStaleFolders(): void {
  for (const name of readdirSync(tmpdir())) {
    const m = new RegExp(`^(?:${PACK_PREFIX}|${APP_PREFIX})(\\d+)(?:-|$)`).exec(name);
    if (!m || Number(m[1]) === RUN_ID || isAlive(Number(m[1]))) continue;
    rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
}

/**
 * Environment for npm and node children: the caller's, minus what an enclosing `npm test` sets
 * for its own project (its prefix and package fields would point child npm commands at this
 * repository) and minus vitest's worker settings.
 */
export function childEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^npm_(package_|lifecycle_|config_(local_prefix|prefix|global_prefix)$)/i.test(k)) continue;
    if (/^(npm_command|npm_execpath|npm_node_execpath|INIT_CWD|NODE_OPTIONS|VITEST.*|TINYPOOL.*)$/i.test(k)) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export function run(cmd: string, args: string[], cwd: string, timeoutMs: number, env = childEnv()): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
      const killed = error && (error as { killed?: boolean }).killed ? `\n[killed after ${timeoutMs} ms]` : '';
      resolve({ code, stdout: String(stdout), stderr: String(stderr) + killed });
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The library packed once per test run with `npm pack` (its `prepack` builds dist/), shared by
 * every package spec: the first spec to ask packs under a lock file, the others wait for its
 * result. A pack failure is shared too, so every spec fails with the same message.
 */
export async function packedTarball(): Promise<string> {
  sweepStaleFolders();
  const dir = packDir();
  mkdirSync(dir, { recursive: true });
  const lock = join(dir, 'pack.lock');
  const resultFile = join(dir, 'result.json');
  const deadline = Date.now() + PACK_TIMEOUT_MS + 30_000;
  for (;;) {
    if (existsSync(resultFile)) {
      const result = JSON.parse(readFileSync(resultFile, 'utf8')) as PackResult;
      if (result.error || !result.tarball) throw new Error(result.error ?? 'npm pack left no tarball');
      return result.tarball;
    }
    let fd: number | undefined;
    try {
      fd = openSync(lock, 'wx');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    if (fd !== undefined) {
      writeSync(fd, String(process.pid));
      closeSync(fd);
      const result = await pack(dir);
      writeFileSync(`${resultFile}.tmp`, JSON.stringify(result));
      renameSync(`${resultFile}.tmp`, resultFile);
      unlinkSync(lock);
      continue;
    }
    // Someone else packs; take over if it died holding the lock.
    const holder = Number(readFileSync(lock, 'utf8') || 0);
    if (holder && !isAlive(holder)) {
      rmSync(lock, { force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`npm pack by process ${holder} did not finish within ${PACK_TIMEOUT_MS / 1000} s (lock ${lock})`);
    await sleep(250);
  }
}

async function pack(dir: string): Promise<PackResult> {
  const started = Date.now();
  const out = await run('npm', ['pack', '--pack-destination', dir, '--json'], REPO_ROOT, PACK_TIMEOUT_MS);
  const packMs = Date.now() - started;
  const tarballs = readdirSync(dir).filter((f) => f.endsWith('.tgz'));
  if (out.code !== 0 || tarballs.length !== 1)
    return { error: `npm pack of ${REPO_ROOT} failed (exit ${out.code}, ${tarballs.length} tarballs):\n${tail(out.stdout)}\n${tail(out.stderr)}`, packMs };
  console.info(`[package] npm pack (prepack build included): ${(packMs / 1000).toFixed(1)} s`);
  return { tarball: join(dir, tarballs[0]), packMs };
}

/**
 * Marks this spec file done with the tarball; the last of the folder's specs removes it. (A run
 * that selected only some of them leaves it to the next run's sweep.)
 */
export function releaseTarball(specFile: string, specCount: number): void {
  const dir = packDir();
  if (!existsSync(dir)) return;
  writeFileSync(join(dir, `done-${specFile.replace(/[^\w.-]/g, '_')}`), String(process.pid));
  const done = readdirSync(dir).filter((f) => f.startsWith('done-')).length;
  if (done >= specCount) rmSync(dir, { recursive: true, force: true });
}

export function tail(text: string, lines = 40): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
