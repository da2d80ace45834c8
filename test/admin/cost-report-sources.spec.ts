import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costReportSql, type CostReportSql } from '../../lib/admin/cost-report.query.js';
import type { CostsQuery, TimeBucket } from '../../lib/admin/dto/costs.query.js';
import type { CallRecord } from '../../lib/core/call-record.js';
import { configureKostrack } from '../../lib/core/configure.js';
import { MemorySink } from '../../lib/core/memory.sink.js';
import { usd, type Usd } from '../../lib/core/money.js';
import { recordCall } from '../../lib/core/record-call.js';
import { addSink } from '../../lib/core/sinks.js';
import { trace } from '../../lib/core/trace.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { syntheticCall, tempWriterOptions } from '../storage/support/synthetic.js';
import { freshSchemaName, useTestDatabase } from '../support/database.js';

/**
 * Issue 14: the cost report reads whole days from llm_cost_daily, the partial days at a range's
 * edges from llm_cost_hourly and the partial hours from llm_calls. Whatever mix a range and a
 * grouping produce, every group must equal the sum worked out here, in JS, from the records the
 * writer was given: not from SQL over the calls, so a mistake shared by both SQL paths cannot hide.
 */

const db = useTestDatabase('costsrc');
const schema = freshSchemaName('costsrc');
let storage: TelemetryStorage;
const sent: CallRecord[] = [];

const HOUR_MS = 3_600_000;
const DAY_MS = 86_400_000;

beforeAll(async () => {
  storage = (await TelemetryStorage.open({ database: db.url, schema, writer: tempWriterOptions() }))!;
  const sink = new MemorySink();
  const detach = addSink(storage.writer);
  const detachSink = addSink(sink);
  try {
    let n = 0;
    // Five days (a week boundary: 2026-10-05 is a Monday, so 10-04 is in the week before), calls at
    // odd minutes in every third hour, two services, users and features including none at all.
    for (const service of ['svc-a', 'svc-b']) {
      configureKostrack({ serviceId: service, tags: { project: service === 'svc-a' ? 'ledger' : 'search' } });
      for (let hour = 0; hour < 5 * 24; hour += 3) {
        for (const feature of ['invoices', 'chat', undefined]) {
          for (const user_id of ['u-1', 'u-2', undefined]) {
            await trace({ name: 'run', tags: { feature, user_id } }, async () => {
              for (let i = 0; i < 2; i++) {
                n++;
                const time = new Date(Date.UTC(2026, 9, 4) + hour * HOUR_MS + ((n * 7) % 60) * 60_000 + i);
                recordCall(
                  syntheticCall({
                    time,
                    provider: i === 0 ? 'anthropic' : 'openai',
                    model: i === 0 ? 'claude-haiku-4-5-20251001' : 'gpt-4o-mini',
                    costUsd: n % 11 === 0 ? null : BigInt(n) * 1_000_000_007n,
                    pricingSource: n % 11 === 0 ? 'unpriced' : 'catalog',
                    inputTokens: n,
                    outputTokens: 2 * n,
                  }),
                );
              }
            });
          }
        }
      }
    }
    await storage.writer.drain();
  } finally {
    detach();
    detachSink();
  }
  sent.push(...sink.calls);
  expect(sent).toHaveLength(2 * 40 * 9 * 2);
});

afterAll(async () => {
  await storage?.close();
});

interface Group {
  cost: Usd;
  calls: number;
  unpriced: number;
  input: number;
  output: number;
}

function truncate(t: Date, bucket: TimeBucket): number {
  const ms = t.getTime();
  if (bucket === 'hour') return Math.floor(ms / HOUR_MS) * HOUR_MS;
  const day = Math.floor(ms / DAY_MS) * DAY_MS;
  if (bucket === 'day') return day;
  // ISO weeks start on Monday; 1970-01-01 was a Thursday.
  const weekday = (Math.floor(ms / DAY_MS) + 3) % 7;
  return day - weekday * DAY_MS;
}

/** The report's groups, worked out from the records the writer was given. */
function expected(q: CostsQuery, from: Date, to: Date, bucket: TimeBucket | null): Map<string, Group> {
  const dim = bucket ? q.series : q.groupBy;
  const out = new Map<string, Group>();
  for (const c of sent) {
    const tags = c.tags as Record<string, string | undefined>;
    if (c.time < from || c.time >= to) continue;
    if (q.feature !== undefined && tags.feature !== q.feature) continue;
    if (q.user !== undefined && tags.user_id !== q.user) continue;
    if (q.project !== undefined && tags.project !== q.project) continue;
    if (q.service !== undefined && c.serviceId !== q.service) continue;
    if ((q.tag ?? []).some((t) => tags[t.slice(0, t.indexOf(':'))] !== t.slice(t.indexOf(':') + 1))) continue;
    const key: (string | null)[] = [];
    if (bucket) key.push(new Date(truncate(c.time, bucket)).toISOString());
    if (dim === 'model') key.push(c.provider, c.model);
    else if (dim === 'provider') key.push(c.provider);
    else if (dim?.startsWith('tag:')) key.push(tags[dim.slice(4)] ?? null);
    const k = JSON.stringify(key);
    const g = out.get(k) ?? { cost: 0n, calls: 0, unpriced: 0, input: 0, output: 0 };
    if (c.costUsd === null || c.costUsd === undefined) g.unpriced++;
    else g.cost += c.costUsd;
    g.calls++;
    g.input += c.inputTokens;
    g.output += c.outputTokens;
    out.set(k, g);
  }
  return out;
}

async function reported(r: CostReportSql, bucket: TimeBucket | null, dim: string | undefined): Promise<Map<string, Group>> {
  const { rows } = await db.pool.query(r.sql, r.values);
  const out = new Map<string, Group>();
  for (const row of rows) {
    const key: (string | null)[] = [];
    if (bucket) key.push(new Date(row.bucket).toISOString());
    if (dim === 'model') key.push(row.provider, row.dim);
    else if (dim === 'provider' || dim?.startsWith('tag:')) key.push(row.dim);
    out.set(JSON.stringify(key), { cost: usd(row.cost), calls: Number(row.calls), unpriced: Number(row.unpriced), input: Number(row.input_tokens), output: Number(row.output_tokens) });
  }
  return out;
}

const RANGES: [string, string, string][] = [
  ['whole days', '2026-10-04T00:00:00.000Z', '2026-10-09T00:00:00.000Z'],
  ['partial days and hours at both ends', '2026-10-04T07:23:11.500Z', '2026-10-08T16:41:00.000Z'],
  ['inside one day', '2026-10-06T03:10:00.000Z', '2026-10-06T21:50:00.000Z'],
  ['inside one hour', '2026-10-06T06:00:30.000Z', '2026-10-06T06:59:59.000Z'],
];

const QUERIES: [Partial<CostsQuery>, TimeBucket | null, CostReportSql['source'] | 'same'][] = [
  [{ groupBy: 'day', series: 'model' }, 'day', 'daily'],
  [{ groupBy: 'week', series: 'tag:feature' }, 'week', 'daily'],
  [{ groupBy: 'day', series: 'tag:project', service: 'svc-b' }, 'day', 'daily'],
  [{ groupBy: 'model', feature: 'chat' }, null, 'daily'],
  [{ groupBy: 'provider', project: 'ledger' }, null, 'daily'],
  [{ groupBy: 'hour', series: 'provider' }, 'hour', 'hourly'],
  [{ groupBy: 'tag:user_id' }, null, 'hourly'],
  [{ groupBy: 'day', series: 'model', user: 'u-2' }, 'day', 'hourly'],
  [{ groupBy: 'model', tag: ['user_id:u-1', 'feature:invoices'] }, null, 'hourly'],
  [{ groupBy: 'day', series: 'tag:run' }, 'day', 'calls'],
];

describe('the cost report from daily, hourly and call rows', () => {
  for (const [label, fromIso, toIso] of RANGES)
    for (const [query, bucket, wantSource] of QUERIES)
      it(`${label}: ${JSON.stringify(query)} equals the sums of the calls sent`, async () => {
        const q = query as CostsQuery;
        const from = new Date(fromIso);
        const to = new Date(toIso);
        const r = costReportSql(`"${schema}"`, q, from, to, bucket);
        const want = expected(q, from, to, bucket);
        expect(want.size).toBeGreaterThan(0);
        expect(await reported(r, bucket, bucket ? q.series : q.groupBy)).toEqual(want);
        // The source follows the range: no whole day means no daily rows, no whole hour no hourly rows.
        const wholeDay = Math.ceil(from.getTime() / DAY_MS) < Math.floor(to.getTime() / DAY_MS);
        const wholeHour = Math.ceil(from.getTime() / HOUR_MS) < Math.floor(to.getTime() / HOUR_MS);
        const source = wantSource === 'daily' && !wholeDay ? 'hourly' : wantSource;
        expect(r.source).toBe(source !== 'calls' && !wholeHour ? 'calls' : source);
      });
});
