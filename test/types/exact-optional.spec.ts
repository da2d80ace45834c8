import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';

/**
 * Issue 13: option types rejected `apiKey: process.env.X` in apps compiled with
 * `exactOptionalPropertyTypes`. tsconfig.exact.json compiles the library and
 * test/types/exact-optional.types.ts (an app's typical options, all read from the environment)
 * with that flag; it must type-check cleanly.
 */
it('options accept `string | undefined` from the environment under exactOptionalPropertyTypes', async () => {
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const tsc = fileURLToPath(new URL('../../node_modules/typescript/bin/tsc', import.meta.url));
  const result = await promisify(execFile)(process.execPath, [tsc, '-p', 'tsconfig.exact.json', '--pretty', 'false'], { cwd: root }).then(
    (r) => ({ code: 0, out: r.stdout + r.stderr }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
  );
  expect(result.out).toBe('');
  expect(result.code).toBe(0);
}, 120_000);
