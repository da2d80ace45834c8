import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { APP_PREFIX, REPO_ROOT, run, RUN_ID, tail } from './support/packed-tarball.js';

/**
 * The tarball's package.json carries none of the repository's scripts (npm 11 warns about a
 * `prepare` in every consumer's install), and packing never leaves the repository's package.json
 * changed, also when npm fails after `prepack`. Exercised on a small package wired like the
 * repository (its prepack and postpack, scripts/pack-manifest.mjs) that packs in a second; the real
 * tarball is checked in nest12.spec.ts.
 */
const repoScripts = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
const BUILD = 'npm run build && ';
const folders: string[] = [];

afterAll(() => {
  for (const f of folders) rmSync(f, { recursive: true, force: true });
});

function folder(label: string): string {
  const dir = mkdtempSync(join(tmpdir(), `${APP_PREFIX}${RUN_ID}-${label}-`));
  folders.push(dir);
  return dir;
}

/** A package with repository-only scripts, packed by the repository's own prepack (minus its build) and postpack. */
function fixturePackage(): { dir: string; original: string } {
  const dir = folder('manifest');
  mkdirSync(join(dir, 'scripts'));
  copyFileSync(join(REPO_ROOT, 'scripts', 'pack-manifest.mjs'), join(dir, 'scripts', 'pack-manifest.mjs'));
  writeFileSync(join(dir, 'index.js'), 'module.exports = 1;\n');
  const manifest = {
    name: 'kostrack-manifest-fixture',
    version: '1.2.3',
    files: ['index.js'],
    peerDependencies: { pg: '^8.11.0' },
    scripts: {
      prepare: 'node -e "process.exit(0)"',
      start: 'node index.js',
      prepack: repoScripts.prepack.slice(BUILD.length),
      postpack: repoScripts.postpack,
    },
  };
  // Formatted unlike JSON.stringify's output, so "unchanged" means byte for byte.
  const original = JSON.stringify(manifest, null, 4).replace(/\n/g, '\r\n');
  writeFileSync(join(dir, 'package.json'), original);
  return { dir, original };
}

const pack = (dir: string, destination: string) => run('npm', ['pack', '--pack-destination', destination], dir, 120_000);
const manifestOf = (dir: string) => readFileSync(join(dir, 'package.json'), 'utf8');
const savedCopy = (dir: string) => join(dir, 'node_modules', '.cache', 'kostrack', 'pack-manifest.json');

/** package/package.json of a .tgz (ustar: 512-byte headers, name at 0, octal size at 124). */
function packedManifest(tgz: string): Record<string, unknown> {
  const tar = gunzipSync(readFileSync(tgz));
  for (let at = 0; at + 512 <= tar.length; ) {
    const name = tar.subarray(at, at + 100).toString('utf8').replace(/\0.*$/s, '');
    if (!name) break;
    const size = parseInt(tar.subarray(at + 124, at + 136).toString('utf8').replace(/\0.*$/s, '').trim(), 8);
    if (name === 'package/package.json') return JSON.parse(tar.subarray(at + 512, at + 512 + size).toString('utf8')) as Record<string, unknown>;
    at += 512 + Math.ceil(size / 512) * 512;
  }
  throw new Error(`${tgz} has no package/package.json`);
}

/** Waits for the detached watcher (it polls every 200 ms) to put the original back; the deadline only bounds a failure. */
async function restoredWithin(dir: string, original: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  while (manifestOf(dir) !== original && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  return manifestOf(dir);
}

describe('the packed package.json', () => {
  it('the repository packs through scripts/pack-manifest.mjs: its build, then strip; restore after', () => {
    expect(repoScripts.prepack).toBe(`${BUILD}node scripts/pack-manifest.mjs strip`);
    expect(repoScripts.postpack).toBe('node scripts/pack-manifest.mjs restore');
    expect(repoScripts.prepare).toBe('node scripts/prepare-sample.mjs');
  });

  it('is the package.json without its scripts; the folder keeps its own byte for byte', async () => {
    const { dir, original } = fixturePackage();
    const out = folder('manifest-out');
    const res = await pack(dir, out);
    expect(res.code, tail(res.stderr)).toBe(0);
    const { scripts, ...rest } = JSON.parse(original) as Record<string, unknown>;
    expect(scripts).toHaveProperty('prepare');
    expect(packedManifest(join(out, 'kostrack-manifest-fixture-1.2.3.tgz'))).toEqual(rest);
    expect(manifestOf(dir)).toBe(original);
    expect(existsSync(savedCopy(dir))).toBe(false);
  });

  it('npm failing after prepack (the tarball cannot be written) still leaves package.json as it was', async () => {
    const { dir, original } = fixturePackage();
    const out = folder('manifest-blocked');
    // A folder where the tarball's file should go: npm fails writing it, after prepack, and skips postpack.
    mkdirSync(join(out, 'kostrack-manifest-fixture-1.2.3.tgz'));
    const res = await pack(dir, out);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toMatch(/EISDIR/);
    expect(await restoredWithin(dir, original, 20_000)).toBe(original);
    expect(existsSync(savedCopy(dir))).toBe(false);
  });

  it('a --pack-destination that does not exist is refused before package.json is touched', async () => {
    const { dir, original } = fixturePackage();
    const res = await pack(dir, join(folder('manifest-missing'), 'nowhere'));
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain('is not a folder; package.json left as it is');
    expect(manifestOf(dir)).toBe(original);
    expect(existsSync(savedCopy(dir))).toBe(false);
  });

  it('a second pack of the folder while one is in progress is refused before package.json is touched', async () => {
    const { dir, original } = fixturePackage();
    // The first pack's copy of the original, owned by an npm that is still running (this process stands in for it).
    mkdirSync(join(dir, 'node_modules', '.cache', 'kostrack'), { recursive: true });
    const first = JSON.stringify({ npmPid: process.pid, packageJson: original });
    writeFileSync(savedCopy(dir), first);
    const res = await pack(dir, folder('manifest-second'));
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(`another npm pack of ${dir} is running (npm pid ${process.pid}); package.json left as it is`);
    expect(manifestOf(dir)).toBe(original);
    expect(readFileSync(savedCopy(dir), 'utf8')).toBe(first);
  });
});
