import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { usdToString, type Usd } from '../../../lib/core/money.js';
import { useTestDatabase } from '../../support/database.js';
import { API_KEY, type Platform, seed, startAdminApp } from './admin.app.js';
import { bulkTraces, id, invoiceTrace, money, PROJECT, totalOf, type FixtureTrace } from './admin.fixture.js';

/** The admin API against a seeded database, as an app on `platform` answers it. */
export function adminApiSuite(platform: Platform): void {
  const db = useTestDatabase(`admin_${platform}`);
  let app: INestApplication;
  const invoice = invoiceTrace();
  const bulk = bulkTraces();
  const all: FixtureTrace[] = [invoice, ...bulk];

  const api = (path: string) => request(app.getHttpServer()).get(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY);
  const get = async (path: string, query: Record<string, string | number | string[]> = {}) => {
    const res = await api(path).query(query);
    return res;
  };

  beforeAll(async () => {
    app = await startAdminApp(db, { prices: [{ provider: 'custom:acme', model: 'acme-1', input: '0.5', output: 2 }] }, null, platform);
    await seed(
      app,
      all.flatMap((t) => t.spans),
      all.flatMap((t) => t.calls),
    );
  });
  afterAll(async () => {
    await app?.close();
  });

  /** The oracle: the list the API must return, computed from the fixture in JS. */
  function expectedOrder(traces: FixtureTrace[], sort: 'cost' | 'time', order: 'asc' | 'desc'): string[] {
    const key = (t: FixtureTrace): bigint => (sort === 'cost' ? totalOf(t) : BigInt(t.start.getTime()));
    const sorted = [...traces].sort((a, b) => {
      const d = key(a) === key(b) ? (a.traceId < b.traceId ? -1 : 1) : key(a) < key(b) ? -1 : 1;
      return order === 'asc' ? d : -d;
    });
    return sorted.map((t) => t.traceId);
  }

  async function allPages(query: Record<string, string | number | string[]>): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = [];
    let cursor: string | undefined;
    let pages = 0;
    do {
      const res = await get('traces', { ...query, ...(cursor ? { cursor } : {}) });
      expect(res.status).toBe(200);
      ids.push(...res.body.items.map((i: { traceId: string }) => i.traceId));
      cursor = res.body.nextCursor ?? undefined;
      pages++;
      if (pages > 100) throw new Error('pagination does not end');
    } while (cursor);
    return { ids, pages };
  }

  describe('GET traces', () => {
    it('lists every trace, latest first by default, with exact values', async () => {
      const res = await get('traces', { limit: 200 });
      expect(res.status).toBe(200);
      expect(res.body.limit).toBe(200);
      expect(res.body.nextCursor).toBeNull();
      expect(res.body.items.map((i: { traceId: string }) => i.traceId)).toEqual(expectedOrder(all, 'time', 'desc'));
      const inv = res.body.items.find((i: { traceId: string }) => i.traceId === invoice.traceId);
      expect(inv).toEqual({
        traceId: invoice.traceId,
        name: 'invoice-pipeline',
        feature: 'invoice-pipeline',
        userId: 'u-42',
        project: PROJECT,
        totalCostUsd: '0.006523456789013',
        callCount: 8,
        unpricedCallCount: 1,
        errorCallCount: 1,
        inputTokens: 800,
        outputTokens: 160,
        cachedTokens: 0,
        startedAt: '2026-11-02T10:00:00.000Z',
        endedAt: '2026-11-02T10:00:10.000Z',
        durationMs: 10_000,
        status: 'ok',
        serviceIds: ['billing-api'],
        tags: { project: PROJECT, feature: 'invoice-pipeline', user_id: 'u-42', team: 'ap' },
      });
      for (const item of res.body.items) {
        const t = all.find((x) => x.traceId === item.traceId)!;
        expect(item.totalCostUsd).toBe(money(totalOf(t)));
        expect(item.callCount).toBe(t.calls.length);
        expect(item.startedAt).toBe(t.start.toISOString());
      }
    });

    it('sorts by cost, most expensive first, and the top is exact', async () => {
      const res = await get('traces', { sort: 'cost', limit: 3 });
      expect(res.body.items.map((i: { totalCostUsd: string }) => i.totalCostUsd)).toEqual(['0.0091', '0.0091', '0.0091']);
      expect(res.body.items.map((i: { traceId: string }) => i.traceId)).toEqual(expectedOrder(all, 'cost', 'desc').slice(0, 3));
      const asc = await get('traces', { sort: 'cost', order: 'asc', limit: 2 });
      expect(asc.body.items.map((i: { name: string; totalCostUsd: string }) => [i.name, i.totalCostUsd])).toEqual([
        ['bulk-50', '0.0006'],
        ['bulk-40', '0.0006'],
      ]);
    });

    for (const [sort, order] of [
      ['cost', 'desc'],
      ['cost', 'asc'],
      ['time', 'desc'],
      ['time', 'asc'],
    ] as const) {
      it(`pages through sort=${sort} order=${order} without gaps or repeats`, async () => {
        const { ids, pages } = await allPages({ sort, order, limit: 7 });
        expect(pages).toBe(Math.ceil(all.length / 7));
        expect(new Set(ids).size).toBe(ids.length);
        expect(ids).toEqual(expectedOrder(all, sort, order));
      });
    }

    it('pages a filtered list the same way', async () => {
      const { ids } = await allPages({ sort: 'cost', feature: 'chat', limit: 4 });
      expect(ids).toEqual(expectedOrder(all.filter((t) => t.tags.feature === 'chat'), 'cost', 'desc'));
    });

    const cases: [string, Record<string, string | string[]>, (t: FixtureTrace) => boolean][] = [
      ['feature', { feature: 'search' }, (t) => t.tags.feature === 'search'],
      ['project', { project: 'other' }, (t) => t.tags.project === 'other'],
      ['user', { user: 'u-3' }, (t) => t.tags.user_id === 'u-3'],
      ['service', { service: 'worker' }, (t) => t.serviceId === 'worker'],
      ['tag', { tag: 'team:ap' }, (t) => t.tags.team === 'ap'],
      ['two tags', { tag: ['team:ap', 'feature:chat'] }, (t) => t.tags.team === 'ap' && t.tags.feature === 'chat'],
      ['contradicting tags', { tag: ['team:ap', 'team:ar'] }, () => false],
      ['tag and user', { tag: 'team:ar', user: 'u-0' }, (t) => t.tags.team === 'ar' && t.tags.user_id === 'u-0'],
      ['minCost', { minCost: '0.0071' }, (t) => totalOf(t) >= 7_100_000_000_000n],
      ['minCost with 15 decimals', { minCost: '0.006523456789013' }, (t) => totalOf(t) >= 6_523_456_789_013n],
      ['from', { from: '2026-11-04T00:00:00Z' }, (t) => t.start >= new Date('2026-11-04T00:00:00Z')],
      ['to (exclusive)', { to: '2026-11-03T12:00:00.000Z' }, (t) => t.start < new Date('2026-11-03T12:00:00Z')],
      ['from and to as dates', { from: '2026-11-03', to: '2026-11-04' }, (t) => t.start >= new Date('2026-11-03') && t.start < new Date('2026-11-04')],
      ['time zone offset', { from: '2026-11-04T01:00:00+02:00' }, (t) => t.start >= new Date('2026-11-03T23:00:00Z')],
      ['everything at once', { feature: 'chat', service: 'web', minCost: '0.003', from: '2026-11-03', tag: 'team:ap' }, (t) =>
        t.tags.feature === 'chat' && t.serviceId === 'web' && totalOf(t) >= 3_000_000_000_000n && t.start >= new Date('2026-11-03') && t.tags.team === 'ap'],
    ];
    for (const [name, query, keep] of cases) {
      it(`filters by ${name}`, async () => {
        const res = await get('traces', { ...query, sort: 'cost', limit: 200 });
        expect(res.status).toBe(200);
        const expected = expectedOrder(all.filter(keep), 'cost', 'desc');
        expect(res.body.items.map((i: { traceId: string }) => i.traceId)).toEqual(expected);
        if (name !== 'contradicting tags') expect(expected.length).toBeGreaterThan(0);
      });
    }
  });

  describe('GET traces/:traceId', () => {
    it('returns the span tree, the calls in order, the breakdown and the totals', async () => {
      const res = await get(`traces/${invoice.traceId}`);
      expect(res.status).toBe(200);
      const d = res.body;
      expect(d.trace.totalCostUsd).toBe('0.006523456789013');
      expect(d.totals).toEqual({
        totalCostUsd: '0.006523456789013',
        callCount: 8,
        unpricedCallCount: 1,
        errorCallCount: 1,
        inputTokens: 800,
        outputTokens: 160,
        cachedTokens: 0,
        durationMs: 10_000,
        spanCount: 4,
      });
      const callIds = invoice.calls.map((c) => c.spanId);
      expect(d.calls.map((c: { spanId: string }) => c.spanId)).toEqual(callIds);
      expect(d.calls.map((c: { costUsd: string | null }) => c.costUsd)).toEqual([
        '0.000123456789012',
        '0.0011',
        '0.0022',
        '0.000045',
        '0.000055',
        null,
        '0.003',
        '0.000000000000001',
      ]);
      expect(d.calls[4]).toMatchObject({ status: 'error', errorClass: 'RateLimitError', provider: 'openai', model: 'gpt-4o-mini', time: '2026-11-02T10:00:04.100Z', latencyMs: 100 });
      expect(d.calls[5]).toMatchObject({ pricingSource: 'unpriced', pricingModel: null, model: 'ft:gpt-4o-mini:acme' });
      // The SDK's own attempts: 3 for the failed call, 1 for the first, unknown (null) for the rest.
      expect(d.calls.map((c: { attempts: number | null }) => c.attempts)).toEqual([1, null, null, null, 3, null, null, null]);
      expect(d.calls[0].tags).toEqual({ project: PROJECT, feature: 'invoice-pipeline', user_id: 'u-42', team: 'ap', span_name: 'invoice-pipeline' });

      // The tree: trace → validate, classify → classify-retry, post; costs include descendants.
      const shape = (n: { name: string; costUsd: string; callCount: number; callIds: string[]; children: unknown[] }): unknown => [
        n.name,
        n.costUsd,
        n.callCount,
        n.callIds.length,
        (n.children as (typeof n)[]).map(shape),
      ];
      expect(shape(d.root)).toEqual([
        'invoice-pipeline',
        '0.006523456789013',
        8,
        1,
        [
          ['validate', '0.0033', 2, 2, []],
          ['classify', '0.0001', 3, 1, [['classify-retry', '0.000055', 2, 2, []]]],
          ['post', '0.003000000000001', 2, 2, []],
        ],
      ]);
      expect(d.root).toMatchObject({ kind: 'trace', spanId: id(0x5, 1), startedAt: '2026-11-02T10:00:00.000Z', endedAt: '2026-11-02T10:00:10.000Z' });
      expect(d.root.children[1].children[0]).toMatchObject({
        kind: 'span',
        spanId: id(0x5, 4),
        parentSpanId: id(0x5, 3),
        startedAt: '2026-11-02T10:00:04.000Z',
        endedAt: '2026-11-02T10:00:06.000Z',
        callIds: [callIds[4], callIds[5]],
      });

      expect(d.costBreakdown).toEqual([
        { provider: 'anthropic', model: 'claude-haiku-4-5', costUsd: '0.006423456789013', pct: 98.5, calls: 5, inputTokens: 500, outputTokens: 100 },
        { provider: 'openai', model: 'gpt-4o-mini', costUsd: '0.0001', pct: 1.5, calls: 2, inputTokens: 200, outputTokens: 40 },
        { provider: 'openai', model: 'ft:gpt-4o-mini:acme', costUsd: '0', pct: 0, calls: 1, inputTokens: 100, outputTokens: 20 },
      ]);
    });

    it('answers for an upper-case id too', async () => {
      const res = await get(`traces/${invoice.traceId.toUpperCase()}`);
      expect(res.status).toBe(200);
      expect(res.body.trace.traceId).toBe(invoice.traceId);
    });

    it('404 for an unknown trace, 400 for a bad id', async () => {
      const missing = await get(`traces/${id(0x9, 9)}`);
      expect(missing.status).toBe(404);
      expect(missing.body).toEqual({ statusCode: 404, error: 'Not Found', message: `No trace ${id(0x9, 9)}` });
      for (const bad of ['not-a-uuid', '123', `${invoice.traceId}0`, "1' OR '1'='1", 'zzzzzzzz-0000-4000-8000-000000000001']) {
        const res = await get(`traces/${encodeURIComponent(bad)}`);
        expect(res.status, bad).toBe(400);
        expect(res.body.message).toBe('traceId must be a UUID');
      }
    });
  });

  /** Sum of the fixture's calls in [from, to) grouped by `key`, as the API must report it. */
  function oracle(key: (c: FixtureTrace['calls'][number]) => string | null, keep: (c: FixtureTrace['calls'][number]) => boolean = () => true): Map<string | null, { cost: Usd; calls: number }> {
    const out = new Map<string | null, { cost: Usd; calls: number }>();
    for (const c of all.flatMap((t) => t.calls)) {
      if (!keep(c)) continue;
      const k = key(c);
      const g = out.get(k) ?? { cost: 0n, calls: 0 };
      g.cost += c.costUsd ?? 0n;
      g.calls++;
      out.set(k, g);
    }
    return out;
  }

  function asRows(groups: { key: string | null; costUsd: string; calls: number }[]) {
    return new Map(groups.map((g) => [g.key, { cost: g.costUsd, calls: g.calls }]));
  }
  const expectRows = (m: Map<string | null, { cost: Usd; calls: number }>) => new Map([...m].map(([k, v]) => [k, { cost: usdToString(v.cost), calls: v.calls }]));

  describe('GET costs', () => {
    const range = { from: '2026-11-01', to: '2026-11-10' };

    it('groups by model, most expensive first, with the provider', async () => {
      const res = await get('costs', { ...range, groupBy: 'model' });
      expect(res.status).toBe(200);
      expect(asRows(res.body.groups)).toEqual(expectRows(oracle((c) => c.model)));
      const costs = res.body.groups.map((g: { costUsd: string }) => Number(g.costUsd));
      expect(costs).toEqual([...costs].sort((a, b) => b - a));
      expect(res.body.groups.find((g: { key: string }) => g.key === 'gemini-2.5-flash').provider).toBe('gemini');
      const total = [...oracle((c) => c.model).values()].reduce((s, g) => s + g.cost, 0n);
      expect(res.body.totalCostUsd).toBe(usdToString(total));
      expect(res.body).toMatchObject({ groupBy: 'model', series: null, from: '2026-11-01T00:00:00.000Z', to: '2026-11-10T00:00:00.000Z' });
    });

    it('groups by provider, by a tag, and counts unpriced calls', async () => {
      const byProvider = await get('costs', { ...range, groupBy: 'provider' });
      expect(asRows(byProvider.body.groups)).toEqual(expectRows(oracle((c) => c.provider)));
      expect(byProvider.body.groups.find((g: { key: string }) => g.key === 'openai').unpricedCalls).toBe(1);
      const byFeature = await get('costs', { ...range, groupBy: 'tag:feature' });
      expect(asRows(byFeature.body.groups)).toEqual(expectRows(oracle((c) => c.tags.feature)));
      const byUser = await get('costs', { ...range, groupBy: 'tag:user_id', feature: 'chat' });
      expect(asRows(byUser.body.groups)).toEqual(expectRows(oracle((c) => c.tags.user_id, (c) => c.tags.feature === 'chat')));
      const missing = await get('costs', { ...range, groupBy: 'tag:nope' });
      expect(missing.body.groups).toHaveLength(1);
      expect(missing.body.groups[0]).toMatchObject({ key: null, calls: all.flatMap((t) => t.calls).length });
    });

    it('buckets by day, hour and week, and splits a bucket by model', async () => {
      const day = await get('costs', { ...range, groupBy: 'day' });
      const dayKey = (c: { time: Date }) => c.time.toISOString().slice(0, 10) + 'T00:00:00.000Z';
      expect(asRows(day.body.groups)).toEqual(expectRows(oracle(dayKey)));
      expect(day.body.groups.map((g: { bucket: string }) => g.bucket)).toEqual(['2026-11-02T00:00:00.000Z', '2026-11-03T00:00:00.000Z', '2026-11-04T00:00:00.000Z']);
      const hour = await get('costs', { from: '2026-11-03T10:00:00Z', to: '2026-11-03T13:00:00Z', groupBy: 'hour' });
      expect(hour.body.groups.map((g: { bucket: string; costUsd: string; calls: number }) => [g.bucket, g.costUsd, g.calls])).toEqual([
        // bulk-0 (0.0001 + 0.0005) and bulk-1 (0.0011) share 10:00; bulk-2/3 11:00; bulk-4/5 12:00.
        ['2026-11-03T10:00:00.000Z', '0.0017', 3],
        ['2026-11-03T11:00:00.000Z', '0.0057', 3],
        ['2026-11-03T12:00:00.000Z', '0.0097', 3],
      ]);
      const week = await get('costs', { ...range, groupBy: 'week' });
      // ISO weeks start on Monday: 2 Nov 2026 is a Monday.
      expect(week.body.groups.map((g: { bucket: string }) => g.bucket)).toEqual(['2026-11-02T00:00:00.000Z']);
      expect(week.body.totalCostUsd).toBe(day.body.totalCostUsd);

      const split = await get('costs', { ...range, groupBy: 'day', series: 'model' });
      const splitKey = (c: { time: Date; model: string }) => `${dayKey(c)}|${c.model}`;
      const got = new Map(split.body.groups.map((g: { bucket: string; series: string; costUsd: string; calls: number }) => [`${g.bucket}|${g.series}`, { cost: g.costUsd, calls: g.calls }]));
      expect(got).toEqual(expectRows(oracle(splitKey)));
      expect(split.body.groups[0].seriesProvider).toBeDefined();
      const byFeature = await get('costs', { ...range, groupBy: 'day', series: 'tag:feature' });
      expect(byFeature.body.groups.map((g: { series: string }) => g.series).sort()).toEqual(
        [...oracle((c) => `${dayKey(c)}|${c.tags.feature}`).keys()].map((k) => k!.split('|')[1]).sort(),
      );
    });

    it('defaults to the last 30 days', async () => {
      const res = await get('costs', { groupBy: 'model' });
      expect(res.status).toBe(200);
      expect(Date.parse(res.body.to) - Date.parse(res.body.from)).toBe(30 * 86_400_000);
    });
  });

  describe('GET models/unpriced, prices, health', () => {
    it('lists unpriced models from the database', async () => {
      const res = await get('models/unpriced');
      expect(res.status).toBe(200);
      expect(res.body).toEqual({
        source: 'database',
        // Read from the hourly rollup: first and last seen are the start of the call's hour (it ran at 10:00:05).
        models: [{ provider: 'openai', model: 'ft:gpt-4o-mini:acme', calls: 1, firstSeen: '2026-11-02T10:00:00.000Z', lastSeen: '2026-11-02T10:00:00.000Z' }],
      });
      const outside = await get('models/unpriced', { from: '2026-11-03' });
      expect(outside.body.models).toEqual([]);
    });

    it('stores price overrides and lists those in effect at a time', async () => {
      const post = (body: object) => request(app.getHttpServer()).post('/kostrack/prices').set('x-kostrack-api-key', API_KEY).send(body);
      const first = await post({ provider: 'openai', model: 'ft:gpt-4o-mini:acme', input: '0.30', output: 1.2, effectiveFrom: '2026-01-01T00:00:00Z', effectiveTo: '2026-07-01T00:00:00Z', note: 'contract A' });
      expect(first.status).toBe(201);
      expect(first.body).toEqual({
        id: expect.any(Number),
        source: 'stored',
        provider: 'openai',
        model: 'ft:gpt-4o-mini:acme',
        perMtok: { input: '0.3', output: '1.2' },
        effectiveFrom: '2026-01-01T00:00:00.000Z',
        effectiveTo: '2026-07-01T00:00:00.000Z',
        note: 'contract A',
      });
      const second = await post({ provider: 'openai', model: 'ft:gpt-4o-mini:acme', input: '0.25', cacheRead: '0.125000001', effectiveFrom: '2026-07-01' });
      expect(second.status).toBe(201);

      const march = await get('prices', { at: '2026-03-01T00:00:00Z' });
      expect(march.body.at).toBe('2026-03-01T00:00:00.000Z');
      expect(march.body.prices).toEqual([
        first.body,
        { id: null, source: 'option', provider: 'custom:acme', model: 'acme-1', perMtok: { input: '0.5', output: '2' }, effectiveFrom: null, effectiveTo: null, note: null },
      ]);
      const august = await get('prices', { at: '2026-08-01' });
      expect(august.body.prices[0]).toMatchObject({ id: second.body.id, perMtok: { input: '0.25', cacheRead: '0.125000001' }, effectiveTo: null });
      const before = await get('prices', { at: '2025-12-31T23:59:59Z' });
      expect(before.body.prices.map((p: { source: string }) => p.source)).toEqual(['option']);
      const now = await get('prices');
      expect(now.body.prices[0].id).toBe(second.body.id);

      const bad: [object, RegExp][] = [
        [{ provider: 'nope', model: 'x', input: '1' }, /unknown provider/],
        [{ provider: 'openai', model: 'x' }, /at least one price/],
        [{ provider: 'openai', model: 'x', input: '-1' }, /input must be a non-negative decimal/],
        [{ provider: 'openai', model: 'x', input: '1e3' }, /input must be/],
        [{ provider: 'openai', model: 'x', input: '0.1234567891' }, /at most 9 decimals/],
        [{ provider: 'openai', model: 'x', input: '1', effectiveFrom: '2026-02-01', effectiveTo: '2026-01-01' }, /effectiveTo must be after effectiveFrom/],
        [{ provider: 'openai', model: 'x', input: '1', effectiveFrom: '2026-02-30' }, /effectiveFrom must be a valid ISO-8601 date/],
        [{ provider: 'openai', model: '', input: '1' }, /model must be longer/],
        [{ provider: 'openai', model: 'x', input: '1', price: '2' }, /property price should not exist/],
        [{ provider: 'openai', model: 'x', input: { $gt: 1 } }, /input must be/],
      ];
      for (const [body, message] of bad) {
        const res = await post(body);
        expect(res.status, JSON.stringify(body)).toBe(400);
        expect(JSON.stringify(res.body.message)).toMatch(message);
      }
      const count = await db.inSchema<{ n: string }>('SELECT count(*) AS n FROM llm_prices');
      expect(count[0].n).toBe('2');
    });

    it("reports the writer's health", async () => {
      const res = await get('health');
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({
        enabled: true,
        schema: db.schema,
        databaseReachable: true,
        queueDepth: 0,
        spooledRows: 0,
        lostRows: 0,
        deadLettered: 0,
        spoolError: null,
        closed: false,
        written: { calls: all.flatMap((t) => t.calls).length, spans: all.flatMap((t) => t.spans).length - all.length },
        lastError: null,
      });
      expect(Date.parse(res.body.lastFlushAt)).toBeGreaterThan(Date.now() - 600_000);
    });
  });
}
