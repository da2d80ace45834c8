// Builds the sample app for `npm start`: lib/, sample-app/ and loopback/ transpiled file by file
// into dist-sample/, without type-checking (`npm run typecheck` does that), in well under a second.
//
// Why not `tsc -p`: it type-checks the whole program on every start (15-30 s on a small VM, most of
// a first start). Why not esbuild or tsx: they do not emit decorator metadata, and Nest's DI reads
// `design:paramtypes`. The transformer is oxc (rolldown's, installed with vite for the test
// suite; no install script), with the decorator options vitest.config.ts gives it: the tests run
// lib/ through the same transformer. If rolldown is ever missing, TypeScript's own
// `transpileModule` (also no type-check, emits metadata; a few seconds) takes over.
// Only files whose size or mtime changed since the last build are transpiled again.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'dist-sample');
const manifestFile = join(outDir, '.build-manifest.json');
const SOURCE_DIRS = ['lib', 'sample-app', 'loopback'];

// What oxc's legacy-decorator output calls (the same functions as TypeScript's __decorate,
// __metadata and __param), written once into dist-sample/ instead of @oxc-project/runtime,
// which is not installed.
const HELPERS = {
  decorate: `export default function decorate(decorators, target, key, desc) {
  var c = arguments.length, r = c < 3 ? target : desc === null ? (desc = Object.getOwnPropertyDescriptor(target, key)) : desc, d;
  if (typeof Reflect === 'object' && typeof Reflect.decorate === 'function') r = Reflect.decorate(decorators, target, key, desc);
  else for (var i = decorators.length - 1; i >= 0; i--) if ((d = decorators[i])) r = (c < 3 ? d(r) : c > 3 ? d(target, key, r) : d(target, key)) || r;
  return c > 3 && r && Object.defineProperty(target, key, r), r;
}
`,
  decorateMetadata: `export default function decorateMetadata(k, v) {
  if (typeof Reflect === 'object' && typeof Reflect.metadata === 'function') return Reflect.metadata(k, v);
}
`,
  decorateParam: `export default function decorateParam(index, decorator) {
  return function (target, key) {
    decorator(target, key, index);
  };
}
`,
};
const HELPER_DIR = join(outDir, '.helpers');

/** Two builds at once (an e2e test and a manual `npm start`) must never leave half a file to import. */
function writeAtomically(path, text) {
  const partial = `${path}.${process.pid}.tmp`;
  writeFileSync(partial, text);
  renameSync(partial, path);
}

/** @returns {string[]} source files, relative to the root */
function sources() {
  const files = [];
  const walk = (dir) => {
    for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = `${dir}/${e.name}`;
      if (e.isDirectory()) walk(path);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.spec.ts') && !e.name.endsWith('.d.ts')) files.push(path);
    }
  };
  for (const dir of SOURCE_DIRS) walk(dir);
  return files.sort();
}

async function loadTransformer() {
  try {
    const { transformSync } = await import('rolldown/experimental');
    const { version } = JSON.parse(readFileSync(join(root, 'node_modules/rolldown/package.json'), 'utf8'));
    return {
      id: `oxc (rolldown ${version})`,
      /** @returns {{ code: string, map: { mappings: string, names: string[] } }} */
      transform(file, text) {
        const r = transformSync(file, text, {
          lang: 'ts',
          sourceType: 'module',
          target: 'es2022',
          sourcemap: true,
          decorator: { legacy: true, emitDecoratorMetadata: true },
        });
        if (r.errors.length) throw new Error(r.errors.map((e) => e.message).join('\n'));
        let code = r.code;
        for (const [name, specifier] of Object.entries(r.helpersUsed ?? {})) {
          if (!HELPERS[name]) throw new Error(`oxc needs the helper "${name}" (${specifier}), which this script does not provide`);
          const local = relative(dirname(join(outDir, file)), join(HELPER_DIR, `${name}.js`)).split('\\').join('/');
          code = code.split(JSON.stringify(specifier)).join(JSON.stringify(local.startsWith('.') ? local : `./${local}`));
        }
        return { code, map: r.map };
      },
    };
  } catch (e) {
    // rolldown absent, or no longer exporting ./experimental: fall back; anything else is a bug to see.
    if (!['ERR_MODULE_NOT_FOUND', 'MODULE_NOT_FOUND', 'ERR_PACKAGE_PATH_NOT_EXPORTED'].includes(e?.code)) throw e;
  }
  const { default: ts } = await import('typescript');
  const parsed = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => undefined });
  // tsconfig.json's decorator and target settings; ESM output whatever package.json lookup says.
  const options = { ...parsed.options };
  for (const key of ['rootDir', 'outDir', 'paths', 'declaration', 'noEmit', 'incremental', 'tsBuildInfoFile']) delete options[key];
  const compilerOptions = { ...options, module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler, sourceMap: true, inlineSources: false, inlineSourceMap: false };
  return {
    id: `typescript ${ts.version} transpileModule`,
    transform(file, text) {
      const r = ts.transpileModule(text, { compilerOptions, fileName: join(root, file), reportDiagnostics: true });
      const errors = (r.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
      if (errors.length) throw new Error(ts.flattenDiagnosticMessageText(errors[0].messageText, '\n'));
      return { code: r.outputText.replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n'), map: JSON.parse(r.sourceMapText) };
    },
  };
}

const started = performance.now();
const transformer = await loadTransformer();
// A change to this script (how files are emitted) rebuilds everything, like a new transformer.
const buildId = `${transformer.id}; ${createHash('sha256').update(readFileSync(fileURLToPath(import.meta.url))).digest('hex').slice(0, 12)}`;
let manifest = { transformer: '', files: {} };
try {
  manifest = JSON.parse(readFileSync(manifestFile, 'utf8'));
} catch {
  // First build, or a dist-sample/ left by `tsc`: start clean.
}
if (manifest.transformer !== buildId) {
  rmSync(outDir, { recursive: true, force: true });
  manifest = { transformer: buildId, files: {} };
}
mkdirSync(HELPER_DIR, { recursive: true });
for (const [name, code] of Object.entries(HELPERS)) {
  const path = join(HELPER_DIR, `${name}.js`);
  if (!existsSync(path)) writeAtomically(path, code);
}

const files = sources();
const next = {};
let built = 0;
const failures = [];
for (const file of files) {
  const { size, mtimeMs } = statSync(join(root, file));
  const stamp = `${size}:${mtimeMs}`;
  const out = join(outDir, file.replace(/\.ts$/, '.js'));
  if (manifest.files[file] === stamp && existsSync(out)) {
    next[file] = stamp;
    continue;
  }
  try {
    const { code, map } = transformer.transform(file, readFileSync(join(root, file), 'utf8'));
    mkdirSync(dirname(out), { recursive: true });
    const sourceMap = { version: 3, file: basename(out), sources: [relative(dirname(out), join(root, file)).split('\\').join('/')], names: map.names, mappings: map.mappings };
    writeAtomically(`${out}.map`, JSON.stringify(sourceMap));
    writeAtomically(out, `${code.replace(/\s*$/, '\n')}//# sourceMappingURL=${basename(out)}.map\n`);
    next[file] = stamp;
    built++;
  } catch (e) {
    failures.push(`${file}: ${e.message}`);
  }
}
// Outputs of sources that were deleted or renamed must not linger and be imported by mistake.
for (const file of Object.keys(manifest.files)) {
  if (file in next) continue;
  const out = join(outDir, file.replace(/\.ts$/, '.js'));
  rmSync(out, { force: true });
  rmSync(`${out}.map`, { force: true });
}
writeAtomically(manifestFile, JSON.stringify({ transformer: buildId, files: next }));
if (failures.length) {
  console.error(`build-sample: ${failures.length} file(s) failed to transpile:\n${failures.join('\n')}`);
  process.exit(1);
}
if (!process.env.npm_config_loglevel?.match(/silent/))
  console.log(`build-sample: ${built} of ${files.length} files transpiled by ${transformer.id} in ${Math.round(performance.now() - started)} ms`);
