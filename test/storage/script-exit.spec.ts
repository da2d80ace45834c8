import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';

it('a script whose database is down still exits by itself, its rows spooled for the next start', async () => {
  // A port that refuses connections: bound, then closed.
  const port = await new Promise<number>((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const dir = mkdtempSync(join(tmpdir(), 'kt-down-'));
  const spool = join(dir, 'spool');
  const child = new URL('./support/down-script.child.ts', import.meta.url).pathname;
  const proc = spawn(process.execPath, ['--import', 'tsx', child, `postgres://root@127.0.0.1:${port}/test`, spool, join(dir, 'dl.jsonl')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  // A script that does not exit by itself never does: the bound only has to be far beyond a
  // loaded machine's slow start (a cold tsx start alone took over 10 s under load), and within
  // the test's 60 s.
  const HUNG_MS = 50_000;
  const started = Date.now();
  const code = await new Promise<number | null>((resolve) => {
    const killer = setTimeout(() => proc.kill('SIGKILL'), HUNG_MS);
    proc.on('exit', (c) => (clearTimeout(killer), resolve(c)));
  });
  expect(out).toContain('RECORDED');
  expect(code).toBe(0);
  expect(Date.now() - started).toBeLessThan(HUNG_MS);
  const lines = readdirSync(spool).flatMap((f) => readFileSync(join(spool, f), 'utf8').split('\n').filter(Boolean));
  // Three calls and the root span, every one kept for replay.
  expect(lines.map((l) => JSON.parse(l).kind).sort()).toEqual(['call', 'call', 'call', 'span']);
});
