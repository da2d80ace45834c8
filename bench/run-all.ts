/** `npm run bench`: runs every bench/*.bench.ts in its own process, one after another. */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = dirname(fileURLToPath(import.meta.url));
const only = process.argv.slice(2);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.ts') && (only.length === 0 || only.some((o) => f.includes(o))))
  .sort();
/**
 * Arguments some benchmarks take. scale.bench.ts generates 1M and 10M calls and takes most of an
 * hour on 2 cores; BENCH_SCALE_CALLS (e.g. 1000000) runs it at fewer sizes.
 */
const ARGS: Record<string, string[]> = {
  'scale.bench.ts': process.env.BENCH_SCALE_CALLS ? ['--calls', process.env.BENCH_SCALE_CALLS] : [],
};
const failed: string[] = [];
for (const file of files) {
  console.log(`\n=== ${file} ===`);
  // Separate processes: one benchmark's heap and JIT state must not colour the next.
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', join(dir, file), ...(ARGS[file] ?? [])], { stdio: 'inherit' });
  if (r.status !== 0) failed.push(file);
}
console.log(`\n${files.length - failed.length} benchmarks ran; results in bench/results/${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
process.exit(failed.length ? 1 : 0);
