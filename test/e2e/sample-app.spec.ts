import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usd, usdToString } from '../../lib/core/money.js';
import { useTestDatabase } from '../support/database.js';

/**
 * Starts the sample app exactly as `npm start` does (a child process: scripts/build-sample.mjs, then node), on a
 * free port, against this suite's database in a fresh schema, with no provider keys (simulated
 * providers), and checks that each workflow's total agrees in the response, in `llm_traces`, in
 * `llm_calls` and in the admin API, to the last decimal.
 */
const db = useTestDatabase('e2e');
const ADMIN_KEY = 'e2e-admin-key-0123456789';
let app: ChildProcess;
let url = '';
let output = '';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

beforeAll(async () => {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), DATABASE_URL: db.url, KOSTRACK_SCHEMA: db.schema, KOSTRACK_ADMIN_KEY: ADMIN_KEY };
  for (const key of ['OPENAI_API_KEY', 'ANTHROPIC_API_KEY', 'DEEPSEEK_API_KEY']) delete env[key];
  // Its own process group, so the test can stop npm and the node process it starts together.
  app = spawn('npm', ['start', '--silent'], { env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  url = await new Promise<string>((resolve, reject) => {
    const onData = (d: Buffer) => {
      output += d.toString();
      const m = /SAMPLE_APP_LISTENING (\S+)/.exec(output);
      if (m) resolve(m[1]);
    };
    app.stdout!.on('data', onData);
    app.stderr!.on('data', (d: Buffer) => (output += d.toString()));
    app.once('exit', (code) => reject(new Error(`npm start exited with ${code}:\n${output.slice(-3000)}`)));
  });
}, 180_000);

afterAll(async () => {
  if (app?.pid && app.exitCode === null && app.signalCode === null) {
    const exited = new Promise((r) => app.once('exit', r));
    process.kill(-app.pid, 'SIGTERM');
    await exited;
  }
});

interface Report {
  traceId: string;
  totalCostUsd: string;
  callCount: number;
  breakdown: { model: string; costUsd: string; pct: number; calls: number }[];
}

async function run(workflow: string): Promise<Report> {
  const res = await fetch(`${url}/workflows/${workflow}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  expect(res.status).toBe(200);
  return (await res.json()) as Report;
}

/** The writer flushes in the background; wait until the rollup holds every call of the run. */
async function storedTrace(traceId: string, calls: number) {
  // Only a bound for a row that never lands; a loaded machine may take a while to flush.
  const end = Date.now() + 45_000;
  for (;;) {
    const rows = await db.inSchema<{ total_cost_usd: string; call_count: string }>(
      'SELECT total_cost_usd::text, call_count::text FROM llm_traces WHERE trace_id = $1',
      [traceId],
    );
    if (rows[0] && Number(rows[0].call_count) === calls) return rows[0];
    if (Date.now() > end) throw new Error(`llm_traces never reached ${calls} calls for ${traceId}: ${JSON.stringify(rows)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const exact = (decimal: string) => usdToString(usd(decimal));

describe('sample app, started like `npm start`', () => {
  it.each([
    ['invoice-pipeline', ['classify', 'post', 'validate'], ['anthropic', 'openai']],
    ['month-end-close', ['extract', 'reason'], ['anthropic', 'deepseek']],
  ])('%s: response, llm_traces, llm_calls and the admin API agree to the last decimal', async (workflow, spanNames, providers) => {
    const report = await run(workflow);
    expect(report.callCount).toBeGreaterThan(0);
    expect(usd(report.totalCostUsd)).toBeGreaterThan(0n);
    // The breakdown adds up to the total exactly, and its shares to 100.
    expect(usdToString(report.breakdown.reduce((a, i) => a + usd(i.costUsd), 0n))).toBe(exact(report.totalCostUsd));
    expect(Math.round(report.breakdown.reduce((a, i) => a + i.pct, 0) * 10)).toBe(1000);

    const stored = await storedTrace(report.traceId, report.callCount);
    expect(exact(stored.total_cost_usd)).toBe(exact(report.totalCostUsd));
    const calls = await db.inSchema<{ cost_usd: string; provider: string; span_name: string; service_id: string; feature: string }>(
      `SELECT cost_usd::text, provider, tags->>'span_name' AS span_name, service_id, tags->>'feature' AS feature FROM llm_calls WHERE trace_id = $1`,
      [report.traceId],
    );
    expect(usdToString(calls.reduce((a, c) => a + usd(c.cost_usd), 0n))).toBe(exact(report.totalCostUsd));
    expect([...new Set(calls.map((c) => c.span_name))].sort()).toEqual(spanNames);
    expect([...new Set(calls.map((c) => c.provider))].sort()).toEqual(providers);
    expect(calls.every((c) => c.service_id === 'sample-app' && c.feature === workflow)).toBe(true);

    const admin = await fetch(`${url}/kostrack/traces/${report.traceId}`, { headers: { 'x-kostrack-api-key': ADMIN_KEY } });
    expect(admin.status).toBe(200);
    const detail = (await admin.json()) as { trace: { totalCostUsd: string; callCount: number } };
    expect(exact(detail.trace.totalCostUsd)).toBe(exact(report.totalCostUsd));
    expect(detail.trace.callCount).toBe(report.callCount);

    // Printed like the seed.
    const printed = `Total: $${Number(report.totalCostUsd).toFixed(6)} in ${report.callCount} calls`;
    const end = Date.now() + 30_000;
    while (!output.includes(printed) && Date.now() < end) await new Promise((r) => setTimeout(r, 20));
    expect(output).toContain(printed);
    expect(output).toContain(`[${workflow}] trace ${report.traceId}`);
  });

  it('the runaway agent stops at its $0.05 budget: the refused call never left, the total is exact and below the limit', async () => {
    const report = (await run('runaway-agent')) as Report & { stoppedBy: { limit: string; spent: string; estimate: string; remaining: string } };
    expect(report.stoppedBy.limit).toBe('0.05');
    // What the budget had settled when it refused is the run's total; the refused call cost nothing.
    expect(exact(report.stoppedBy.spent)).toBe(exact(report.totalCostUsd));
    expect(usd(report.totalCostUsd) <= usd('0.05')).toBe(true);
    // The next call would not fit: its worst case is more than what was left.
    expect(usd(report.stoppedBy.estimate) > usd(report.stoppedBy.remaining)).toBe(true);
    expect(usdToString(usd('0.05') - usd(report.totalCostUsd))).toBe(exact(report.stoppedBy.remaining));
    const stored = await storedTrace(report.traceId, report.callCount);
    expect(exact(stored.total_cost_usd)).toBe(exact(report.totalCostUsd));
    const rows = await db.inSchema<{ status: string; n: number; cost: string }>(
      `SELECT status, count(*)::int AS n, COALESCE(sum(cost_usd), 0)::text AS cost FROM llm_calls WHERE trace_id = $1 GROUP BY status ORDER BY status`,
      [report.traceId],
    );
    expect(rows.map((r) => [r.status, r.n])).toEqual([['blocked', 1], ['ok', report.callCount - 1]]);
    expect(exact(rows[0].cost)).toBe('0');
    expect(exact(rows[1].cost)).toBe(exact(report.totalCostUsd));
  });

  it("the assistant answers 402 once a user's daily budget is spent; another user is served; spent equals the user's rows", async () => {
    const ask = (user: string) =>
      fetch(`${url}/workflows/assistant`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-user-id': user }, body: '{}' });
    let refused: Response | undefined;
    let served = 0;
    for (let i = 0; i < 60 && !refused; i++) {
      const res = await ask('e2e-ann');
      if (res.status === 402) refused = res;
      else {
        expect(res.status).toBe(200);
        await res.json();
        served++;
      }
    }
    expect(refused).toBeDefined();
    expect(served).toBeGreaterThan(1);
    const body = await refused!.json();
    const now = new Date();
    expect(body).toMatchObject({
      statusCode: 402,
      limit: '0.002',
      resetsAt: new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate() + 1)).toISOString(),
      budget: { scope: 'user_id', scopeValue: 'e2e-ann', period: 'day', spanName: 'assistant-per-user-day' },
    });
    expect((await ask('e2e-bob')).status).toBe(200);
    // Once the writer has landed every row, the budget's spent is exactly the user's rows today.
    const end = Date.now() + 45_000;
    for (;;) {
      const [u] = await db.inSchema<{ spent: string; reserved: string; calls: number }>(
        `SELECT spent::text, reserved::text, calls FROM llm_budget_usage WHERE scope_value = 'e2e-ann'`,
      );
      const [r] = await db.inSchema<{ cost: string; n: number }>(
        `SELECT COALESCE(sum(cost_usd), 0)::text AS cost, count(*) FILTER (WHERE status = 'ok')::int AS n FROM llm_calls WHERE tags->>'user_id' = 'e2e-ann'`,
      );
      if (u && Number(u.calls) === served && exact(u.reserved) === '0') {
        expect(exact(u.spent)).toBe(exact(r.cost));
        expect(r.n).toBe(served);
        expect(usd(u.spent) <= usd('0.002')).toBe(true);
        break;
      }
      if (Date.now() > end) throw new Error(`budget usage never settled: ${JSON.stringify(u)} vs ${JSON.stringify(r)}`);
      await new Promise((res) => setTimeout(res, 50));
    }
  });

  it('the admin API refuses requests without the key, and the dashboard is served', async () => {
    expect((await fetch(`${url}/kostrack/traces`)).status).toBe(401);
    const page = await fetch(`${url}/kostrack/`);
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<html');
  });
});
