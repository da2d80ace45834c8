import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APP_PREFIX, childEnv, REPO_ROOT, run, RUN_ID, tail } from './packed-tarball.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/', import.meta.url));
/** The repository's own TypeScript compiles the consumer apps: no compiler to install per app. */
const TSC = join(dirname(createRequire(import.meta.url).resolve('typescript/package.json')), 'bin', 'tsc');
/** Line prefix of the one JSON result a fixture prints on stdout (Nest logs go there too). */
export const RESULT_PREFIX = 'KOSTRACK_RESULT ';
/** npm gives up on one request after FETCH_TIMEOUT_MS (its default, 5 min, would outlast the test); two retries. */
const FETCH_TIMEOUT_MS = 120_000;
const INSTALL_TIMEOUT_MS = 360_000;

export interface NodeRun<R> {
  code: number;
  stdout: string;
  stderr: string;
  /** The fixture's result line, parsed; undefined when it printed none. */
  result: R | undefined;
}

/** Installed npm packages and how long it took, for the report. */
export interface InstallTiming {
  label: string;
  seconds: number;
}

export const installTimings: InstallTiming[] = [];

/**
 * A consumer's project in a temporary folder: a package.json, packages installed with npm as a
 * user would, fixture sources compiled with `tsc`, scripts run with `node` as child processes.
 */
export class ConsumerApp {
  /** What npm printed on each install (its warnings included). */
  readonly installOutput: string[] = [];

  private constructor(
    readonly dir: string,
    private readonly label: string,
  ) {}

  /** `packageJson` is the app's own (e.g. with or without `"type": "module"`). */
  static create(label: string, packageJson: Record<string, unknown>): ConsumerApp {
    const dir = mkdtempSync(join(tmpdir(), `${APP_PREFIX}${RUN_ID}-${label}-`));
    const app = new ConsumerApp(dir, label);
    app.write('package.json', JSON.stringify({ name: `kostrack-consumer-${label}`, version: '1.0.0', private: true, ...packageJson }, null, 2));
    return app;
  }

  path(rel: string): string {
    return join(this.dir, rel);
  }

  write(rel: string, content: string): void {
    mkdirSync(dirname(this.path(rel)), { recursive: true });
    writeFileSync(this.path(rel), content);
  }

  writeJson(rel: string, value: unknown): void {
    this.write(rel, `${JSON.stringify(value, null, 2)}\n`);
  }

  copyFixture(name: string, rel = name): void {
    mkdirSync(dirname(this.path(rel)), { recursive: true });
    copyFileSync(join(FIXTURES, name), this.path(rel));
  }

  /**
   * `npm install` of `specs` (registry names with ranges, or a tarball path). Fails with npm's
   * own output and an `npm ping` diagnosis when the registry cannot be reached: never a skip.
   */
  async install(step: string, specs: string[]): Promise<number> {
    const started = Date.now();
    const out = await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', `--fetch-timeout=${FETCH_TIMEOUT_MS}`, '--fetch-retries=2', ...specs], this.dir, INSTALL_TIMEOUT_MS);
    const seconds = (Date.now() - started) / 1000;
    if (out.code !== 0) {
      const ping = await run('npm', ['ping'], this.dir, 60_000);
      const reach =
        ping.code === 0
          ? 'npm ping answered, so the registry is reachable; see npm output'
          : `npm cannot reach the registry (npm ping exit ${ping.code}: ${tail(ping.stderr || ping.stdout, 5)}). These tests need the npm registry; they are never skipped`;
      throw new Error(`npm install for ${this.label} (${step}) failed after ${seconds.toFixed(1)} s. ${reach}.\n$ npm install ${specs.join(' ')}\n${tail(out.stderr)}\n${tail(out.stdout)}`);
    }
    this.installOutput.push(out.stdout, out.stderr);
    installTimings.push({ label: `${this.label}: ${step}`, seconds });
    console.info(`[package] npm install ${this.label} (${step}): ${seconds.toFixed(1)} s`);
    return seconds;
  }

  /** Compiles (or with `noEmit`, type-checks) with the tsconfig at `configRel`; type errors fail with tsc's output. */
  async tsc(configRel: string): Promise<void> {
    const out = await run(process.execPath, [TSC, '-p', this.path(configRel)], this.dir, 180_000);
    if (out.code !== 0) throw new Error(`tsc -p ${configRel} failed in ${this.dir} (exit ${out.code}):\n${tail(out.stdout, 60)}\n${tail(out.stderr)}`);
  }

  /** Runs `node <scriptRel>` in the app folder (cwd), with `env` added, and parses its result line. */
  async node<R = Record<string, unknown>>(scriptRel: string, env: Record<string, string> = {}, timeoutMs = 120_000): Promise<NodeRun<R>> {
    const out = await run(process.execPath, [this.path(scriptRel)], this.dir, timeoutMs, childEnv(env));
    const line = out.stdout.split('\n').find((l) => l.startsWith(RESULT_PREFIX));
    return { ...out, result: line ? (JSON.parse(line.slice(RESULT_PREFIX.length)) as R) : undefined };
  }

  /** `node` that must succeed and print a result; otherwise fails with the child's output. */
  async nodeOk<R = Record<string, unknown>>(scriptRel: string, env: Record<string, string> = {}): Promise<R> {
    const out = await this.node<R>(scriptRel, env);
    if (out.code !== 0 || out.result === undefined)
      throw new Error(`node ${scriptRel} in ${this.dir} exited ${out.code} without a result:\n--- stdout\n${tail(out.stdout)}\n--- stderr\n${tail(out.stderr)}`);
    return out.result;
  }

  remove(): void {
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Compiler options of a Nest consumer (what `nest new` generates, plus this repo's @types/node). */
export function nestCompilerOptions(overrides: Record<string, unknown>): Record<string, unknown> {
  return {
    target: 'ES2022',
    experimentalDecorators: true,
    emitDecoratorMetadata: true,
    strict: true,
    strictPropertyInitialization: false,
    esModuleInterop: true,
    skipLibCheck: true,
    declaration: false,
    sourceMap: false,
    // The fixtures use node:http and fetch; @types/node comes from this repository, not the app.
    typeRoots: [join(REPO_ROOT, 'node_modules', '@types')],
    types: ['node'],
    ...overrides,
  };
}
