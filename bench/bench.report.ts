import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Runs `op` in timed rounds after a warm-up; returns the median ns per operation. */
export async function nsPerOp(op: () => unknown, { iterations = 100_000, rounds = 7 } = {}): Promise<number> {
  // Await only real promises: a microtask per sync op would be measured as its cost.
  const run = async (n: number) => {
    for (let i = 0; i < n; i++) {
      const r = op();
      if (r instanceof Promise) await r;
    }
  };
  await run(iterations / 4);
  const samples: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint();
    await run(iterations);
    samples.push(Number(process.hrtime.bigint() - start) / iterations);
  }
  return median(samples);
}

export function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export function percentile(values: number[], p: number): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Writes `bench/results/<name>.md` with the machine it ran on, and prints it. */
export function writeReport(name: string, title: string, body: string): void {
  const dir = join(dirname(fileURLToPath(import.meta.url)), 'results');
  mkdirSync(dir, { recursive: true });
  const header = `# ${title}\n\nRun ${new Date().toISOString()} on ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}.\n\n`;
  writeFileSync(join(dir, `${name}.md`), header + body + '\n');
  console.log(header + body);
}
