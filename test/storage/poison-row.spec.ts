import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { usd, usdToString } from '../../lib/core/money.js';
import { recordCall } from '../../lib/core/record-call.js';
import { addSink } from '../../lib/core/sinks.js';
import { trace } from '../../lib/core/trace.js';
import { TelemetryStorage } from '../../lib/storage/telemetry.storage.js';
import { useTestDatabase } from '../support/database.js';
import { syntheticCall, tempWriterOptions } from './support/synthetic.js';

const db = useTestDatabase('poison');
let storage: TelemetryStorage;
let detach: () => void;
const warnings: string[] = [];
const writer = tempWriterOptions({ batchSize: 500, maxQueue: 2000, flushIntervalMs: 1000 });

beforeAll(async () => {
  storage = (await TelemetryStorage.open({ database: db.url, schema: db.schema, writer }, { warn: (w) => warnings.push(w) }))!;
  detach = addSink(storage.writer);
});
afterAll(async () => {
  detach();
  await storage.close();
});

it('dead-letters only the rows PostgreSQL rejects; the rest of the batch lands and health says so', async () => {
  const poisonIds: string[] = [];
  let good = 0n;
  const root = trace({ name: 'poison', tags: { feature: 'import' } }, (t) => {
    for (let i = 0; i < 500; i++) {
      const cost = BigInt(i + 1) * 10n ** 9n;
      // A NUL character: valid in JavaScript, refused by PostgreSQL in jsonb (22P05) and in text (22021).
      const poison = i === 137 ? { tags: { note: 'a\u0000b' } } : i === 300 ? { model: 'gpt\u0000-4o' } : {};
      const call = recordCall(syntheticCall({ costUsd: cost, ...poison }))!;
      if (i === 137 || i === 300) poisonIds.push(call.spanId);
      else good += cost;
    }
    return t;
  });
  await storage.writer.drain();

  const rows = await db.pool.query(`SELECT span_id FROM "${db.schema}".llm_calls WHERE trace_id = $1`, [root.traceId]);
  expect(rows.rowCount).toBe(498);
  expect(rows.rows.map((r) => r.span_id)).not.toContain(poisonIds[0]);
  const t = await db.pool.query(`SELECT total_cost_usd, call_count, name FROM "${db.schema}".llm_traces WHERE trace_id = $1`, [root.traceId]);
  expect(t.rows).toEqual([{ total_cost_usd: usdToString(good), call_count: '498', name: 'poison' }]);
  expect(usdToString(good)).toBe('0.124811');

  const letters = readFileSync(writer.deadLetterFile, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  expect(letters.map((l) => l.item.record.spanId).sort()).toEqual([...poisonIds].sort());
  expect(letters.map((l) => l.reason.code).sort()).toEqual(['22021', '22P05']);
  expect(letters[0].item.kind).toBe('call');

  const health = storage.health();
  expect(health).toMatchObject({ databaseReachable: true, deadLettered: 2, queueDepth: 0 });
  expect(health.lastError?.code).toMatch(/^22/);
  expect(warnings.filter((w) => w.includes('dead-lettered'))).toHaveLength(2);
  expect(usd(t.rows[0].total_cost_usd)).toBe(good);
});
