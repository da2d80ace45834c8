import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureKostrack } from '../../lib/core/configure.js';
import { recordCall } from '../../lib/core/record-call.js';
import { span, trace } from '../../lib/core/trace.js';
import type { TraceContext } from '../../lib/core/trace-context.js';
import { KostrackStorageLifecycle } from '../../lib/nest/kostrack-storage.lifecycle.js';
import { callInput } from '../support/call-input.js';
import { useTestDatabase } from '../support/database.js';
import { API_KEY, startAdminApp } from './support/admin.app.js';

const db = useTestDatabase('admin_core');
let app: INestApplication;
let root: TraceContext;
const get = (path: string, query: Record<string, string> = {}) =>
  request(app.getHttpServer()).get(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY).query(query);

/** Recorded the way an application records: trace(), nested and concurrent span(), recordCall(). */
beforeAll(async () => {
  app = await startAdminApp(db, { serviceId: 'close-worker', tags: { project: 'ledger' } });
  root = await trace({ name: 'month-end-close', tags: { feature: 'month-end-close', user_id: 'u-7' } }, async (t) => {
    recordCall(callInput('0.0123'));
    await Promise.all([
      span('extract', async () => {
        recordCall(callInput('0.001', { provider: 'openai', model: 'gpt-4o-mini' }));
        await span('ocr', async () => recordCall(callInput('0.0004')));
      }),
      span('classify', async () => {
        recordCall(callInput('0.000000000000007', { provider: 'openai', model: 'gpt-4o-mini' }));
        recordCall(callInput('0.25', { provider: 'anthropic', model: 'claude-sonnet-4-5', status: 'error', errorClass: 'APIError' }));
      }),
    ]);
    return t;
  });
  await app.get(KostrackStorageLifecycle).current!.writer.drain();
});
afterAll(async () => {
  await app?.close();
  configureKostrack({ serviceId: 'default', tags: {} });
});

describe('a trace recorded through the core', () => {
  it('reads back with the in-process totals and breakdown, to the last decimal', async () => {
    const res = await get(`traces/${root.traceId}`);
    expect(res.status).toBe(200);
    expect(root.totalCostDecimal).toBe('0.263700000000007');
    expect(res.body.totals).toMatchObject({ totalCostUsd: root.totalCostDecimal, callCount: root.callCount, errorCallCount: 1, spanCount: 3 });
    expect(res.body.costBreakdown.map((b: { provider: string; model: string; costUsd: string; pct: number; calls: number }) => [b.provider, b.model, b.costUsd, b.pct, b.calls])).toEqual(
      root.costBreakdown().map((b) => [b.provider, b.model, b.cost, b.pct, b.calls]),
    );
    const tree = (n: { name: string; costUsd: string; children: unknown[] }): unknown => [n.name, n.costUsd, (n.children as (typeof n)[]).map(tree)];
    expect(tree(res.body.root)).toEqual(['month-end-close', '0.263700000000007', [['extract', '0.0014', [['ocr', '0.0004', []]]], ['classify', '0.250000000000007', []]]]);
    expect(res.body.root.spanId).toBe(root.spanId);
    expect(res.body.trace).toMatchObject({ name: 'month-end-close', feature: 'month-end-close', userId: 'u-7', project: 'ledger', serviceIds: ['close-worker'] });
    expect(res.body.calls.map((c: { tags: { span_name: string } }) => c.tags.span_name)).toEqual(['month-end-close', 'extract', 'ocr', 'classify', 'classify']);
  });

  it('is listed and costed like any other', async () => {
    const list = await get('traces', { feature: 'month-end-close', sort: 'cost' });
    expect(list.body.items.map((i: { traceId: string; totalCostUsd: string }) => [i.traceId, i.totalCostUsd])).toEqual([[root.traceId, '0.263700000000007']]);
    const costs = await get('costs', { groupBy: 'tag:span_name', tag: 'project:ledger' });
    expect(costs.body.groups.map((g: { key: string; costUsd: string }) => [g.key, g.costUsd])).toEqual([
      ['classify', '0.250000000000007'],
      ['month-end-close', '0.0123'],
      ['extract', '0.001'],
      ['ocr', '0.0004'],
    ]);
    expect(costs.body.totalCostUsd).toBe(root.totalCostDecimal);
  });
});
