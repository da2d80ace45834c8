// The package.json that goes into the tarball: this repository's without its `scripts`. They all
// serve the repository (build, test, the sample app's `start`, `prepare` for `npm install` here),
// and an installed package that declares `prepare` makes npm 11 warn in every consumer's install
// ("install scripts not yet covered by allowScripts").
//
//   node scripts/pack-manifest.mjs strip     `prepack`, after the build: the stripped file in place
//   node scripts/pack-manifest.mjs restore   `postpack`: the original back
//
// npm reads package.json for the tarball from disk between the two, and offers no other hook. The
// committed file never changes, so `npm ci` still runs `prepare`. A pack that fails after
// `prepack` (a --pack-destination that does not exist, a full disk, Ctrl-C) skips `postpack`, so
// the original must come back without it:
// - the original is kept aside, with the pid of the npm process that packs;
// - `strip` starts a detached watcher that restores it as soon as that npm process is gone,
//   unless `postpack` has already;
// - a destination that does not exist, or another pack of this folder in progress, is refused
//   before anything changes.
// Only a watcher killed too (SIGKILL, a reboot) leaves the stripped file: `git diff` shows it, and
// `node scripts/pack-manifest.mjs restore` puts the original back. (The stripped file has no
// prepack, so the next pack cannot do it.)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const manifestFile = join(root, 'package.json');
/** The original, with the packing npm's pid; under node_modules/.cache so git never sees it. */
const savedFile = join(root, 'node_modules', '.cache', 'kostrack', 'pack-manifest.json');
const SHELLS = new Set(['sh', 'bash', 'dash', 'zsh', 'ash', 'ksh', 'busybox', 'cmd.exe', 'powershell.exe', 'pwsh']);

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Parent pid and command name of `pid`: /proc on Linux, `ps` elsewhere; null when neither answers. */
function processInfo(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at its last ")".
    const close = stat.lastIndexOf(')');
    return { ppid: Number(stat.slice(close + 2).split(' ')[1]), name: stat.slice(stat.indexOf('(') + 1, close) };
  } catch {
    const ps = spawnSync('ps', ['-o', 'ppid=,comm=', '-p', String(pid)], { encoding: 'utf8' });
    const m = ps.status === 0 ? /^\s*(\d+)\s+(.+?)\s*$/.exec(ps.stdout) : null;
    return m ? { ppid: Number(m[1]), name: basename(m[2]) } : null;
  }
}

/**
 * The npm process running this script: the first ancestor that is not the shell npm ran it in.
 * Null when the process table cannot be read (no /proc, no `ps`): watching the shell instead would
 * restore the original while npm still packs.
 */
function packingNpmPid() {
  let pid = process.ppid;
  for (let depth = 0; depth < 4; depth++) {
    const info = processInfo(pid);
    if (!info) return null;
    if (!SHELLS.has(info.name)) return pid;
    pid = info.ppid;
  }
  return null;
}

function writeAtomically(file, text) {
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, text);
  renameSync(partial, file);
}

function readSaved() {
  try {
    return JSON.parse(readFileSync(savedFile, 'utf8'));
  } catch {
    return null;
  }
}

/** Puts the original back if one is kept aside (and, with `owner`, only if that pack kept it). */
function restore(owner) {
  const saved = readSaved();
  if (!saved || (owner !== undefined && saved.npmPid !== owner)) return false;
  writeAtomically(manifestFile, saved.packageJson);
  rmSync(savedFile, { force: true });
  return true;
}

function strip() {
  const npmPid = packingNpmPid();
  // Another pack's copy: this one would keep its stripped file aside as "the original".
  const previous = readSaved();
  if (previous?.npmPid && previous.npmPid !== npmPid && isAlive(previous.npmPid))
    throw new Error(`another npm pack of ${root} is running (npm pid ${previous.npmPid}); package.json left as it is`);
  const destination = process.env.npm_config_pack_destination;
  if (destination && !(existsSync(resolve(destination)) && statSync(resolve(destination)).isDirectory()))
    throw new Error(`--pack-destination ${destination} is not a folder; package.json left as it is`);

  const original = readFileSync(manifestFile, 'utf8');
  const manifest = JSON.parse(original);
  delete manifest.scripts;
  mkdirSync(dirname(savedFile), { recursive: true });
  writeAtomically(savedFile, JSON.stringify({ npmPid, packageJson: original }));
  // Detached and with no stdio of npm's: npm neither waits for it nor takes it down with Ctrl-C.
  if (npmPid) spawn(process.execPath, [fileURLToPath(import.meta.url), 'watch', String(npmPid)], { detached: true, stdio: 'ignore' }).unref();
  writeAtomically(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
}

/** The watcher: waits for the packing npm to exit, then restores unless postpack did. */
function watch(npmPid) {
  const timer = setInterval(() => {
    if (isAlive(npmPid) && readSaved()?.npmPid === npmPid) return;
    clearInterval(timer);
    if (restore(npmPid)) console.warn('pack-manifest: npm exited before postpack; package.json restored');
  }, 200);
}

const [command, arg] = process.argv.slice(2);
try {
  if (command === 'strip') strip();
  else if (command === 'restore') restore();
  else if (command === 'watch') watch(Number(arg));
  else throw new Error(`usage: pack-manifest.mjs strip|restore|watch <pid>`);
} catch (e) {
  console.error(`pack-manifest: ${e.message}`);
  process.exitCode = 1;
}
