// `npm install` / `npm ci` in this repository (the root `prepare` script): readies the first
// `npm start`. It builds the sample app (scripts/build-sample.mjs) and creates the embedded
// database's cluster template (node_modules/.cache/kostrack/, see lib/storage/embedded.database.ts),
// so the first start copies a cluster in about a second instead of running PGlite's initdb (3 to
// 9 s on a shared 2-core VM, by its load). The test suite's embedded database starts from the
// same template.
//
// Never fails an install: whatever goes wrong here, `npm start` does the same work itself.
// Skipped by `npm pack` / `npm publish` (they run `prepare` too), and when this package is being
// installed into another project (a git dependency): the sample app is of no use there.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
if (process.env.INIT_CWD && resolve(process.env.INIT_CWD) !== root) process.exit(0);
if (['pack', 'publish'].includes(process.env.npm_command ?? '')) process.exit(0);

const started = performance.now();
try {
  const build = spawnSync(process.execPath, [join(root, 'scripts/build-sample.mjs')], { stdio: 'inherit' });
  if (build.status !== 0) throw new Error(`build-sample exited with ${build.status}`);
  const { clusterTemplateFile, startEmbeddedDatabase } = await import(pathToFileURL(join(root, 'dist-sample/lib/storage/embedded.database.js')).href);
  const template = clusterTemplateFile();
  if (!template || !existsSync(template)) {
    const db = await startEmbeddedDatabase({ dataDir: 'memory://' });
    await db.stop();
  }
  console.log(`prepare-sample: sample app built, embedded database template ready (${((performance.now() - started) / 1000).toFixed(1)} s)`);
} catch (e) {
  console.warn(`prepare-sample: skipped (${e?.message ?? e}); \`npm start\` will do this work at its first start`);
}
