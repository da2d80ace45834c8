import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../../support/database.js';
import { API_KEY, type Platform, seed, startAdminApp } from './admin.app.js';
import { bulkTraces, invoiceTrace } from './admin.fixture.js';

/** Bad input and injection attempts against every admin route, on `platform`. */
export function adminInputSuite(platform: Platform): void {
  const db = useTestDatabase(`admin_input_${platform}`);
  let app: INestApplication;
  const traces = [invoiceTrace(), ...bulkTraces()];
  const callCount = traces.flatMap((t) => t.calls).length;

  const get = (path: string, query: Record<string, string | string[]> = {}) =>
    request(app.getHttpServer()).get(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY).query(query);

  /** What an error body must never show: SQL, table names, driver or stack details. */
  function expectNoLeak(body: unknown): void {
    const text = JSON.stringify(body);
    expect(text).not.toMatch(/select|insert|llm_|postgres|syntax|jsonb|numeric|stack|\bat \w+ \(|node_modules|\.ts:\d|"code"|SQLSTATE/i);
  }

  async function tableCounts() {
    const [row] = await db.inSchema<{ calls: string; traces: string; spans: string; prices: string }>(
      `SELECT (SELECT count(*) FROM llm_calls) AS calls, (SELECT count(*) FROM llm_traces) AS traces,
              (SELECT count(*) FROM llm_spans) AS spans, (SELECT count(*) FROM llm_prices) AS prices`,
    );
    return row;
  }

  beforeAll(async () => {
    app = await startAdminApp(db, {}, null, platform);
    await seed(
      app,
      traces.flatMap((t) => t.spans),
      traces.flatMap((t) => t.calls),
    );
  });
  afterAll(async () => {
    await app?.close();
  });

  describe('400 for bad input', () => {
    const bad: [string, Record<string, string | string[]>, RegExp][] = [
      ['traces', { from: 'yesterday' }, /from must be an ISO-8601 date/],
      ['traces', { from: '2026-02-31' }, /from must be a valid ISO-8601 date/],
      ['traces', { to: '2026-13-01T00:00:00Z' }, /to must be a valid ISO-8601 date/],
      ['traces', { from: '2026-W05-1' }, /from must be an ISO-8601/],
      ['traces', { to: '2026-01-01T25:00:00Z' }, /to must be a valid/],
      ['traces', { from: ['2026-01-01', '2026-01-02'] }, /from must be a string/],
      ['traces', { limit: '0' }, /limit must not be less than 1/],
      ['traces', { limit: '201' }, /limit must not be greater than 200/],
      ['traces', { limit: 'ten' }, /limit must be an integer/],
      ['traces', { limit: '1.5' }, /limit must be an integer/],
      ['traces', { limit: '-5' }, /limit must not be less than 1/],
      ['traces', { sort: 'name' }, /sort must be one of/],
      ['traces', { order: 'up' }, /order must be one of/],
      ['traces', { minCost: '-1' }, /minCost must be a non-negative decimal/],
      ['traces', { minCost: '1e3' }, /minCost must be/],
      ['traces', { minCost: 'NaN' }, /minCost must be/],
      ['traces', { minCost: '0.0000000000000001' }, /minCost must be/],
      ['traces', { tag: 'no-colon' }, /tag must be key:value/],
      ['traces', { tag: '1bad:x' }, /tag must be key:value/],
      ['traces', { tag: ":x" }, /tag must be key:value/],
      ['traces', { tag: Array.from({ length: 17 }, (_, i) => `k${i}:v`) }, /tag must contain no more than 16/],
      ['traces', { feature: 'x'.repeat(257) }, /feature must be shorter than or equal to 256/],
      ['traces', { cursor: 'garbage' }, /cursor is invalid/],
      ['traces', { cursor: Buffer.from('["cost","desc","1","not-a-uuid"]').toString('base64url') }, /cursor is invalid/],
      ['traces', { cursor: Buffer.from('["cost","desc","1; DROP TABLE x","00000001-0000-4000-8000-000000000001"]').toString('base64url') }, /cursor is invalid/],
      ['traces', { usr: 'u-1' }, /property usr should not exist/],
      ['traces', { 'tag[]': 'a:b' }, /should not exist/],
      // Both platforms' query parsers give repeated keys as an array and leave brackets alone.
      ['traces', { limit: ['1', '2'] }, /limit must be an integer/],
      ['traces', { 'tag[a]': 'b' }, /property tag\[a\] should not exist/],
      ['costs', {}, /groupBy must be model, provider, tag:<key>, hour, day or week/],
      ['costs', { groupBy: 'minute' }, /groupBy must be/],
      ['costs', { groupBy: 'tag:' }, /groupBy must be/],
      ['costs', { groupBy: "tag:feature'--" }, /groupBy must be/],
      ['costs', { groupBy: 'model', series: 'provider' }, /series needs groupBy hour, day or week/],
      ['costs', { groupBy: 'day', series: 'day' }, /series must be model, provider or tag:<key>/],
      ['costs', { groupBy: 'day', from: '2026-02-01', to: '2026-01-01' }, /from must be before to/],
      ['costs', { groupBy: 'hour', from: '2020-01-01', to: '2026-01-01' }, /more than 10000 hours/],
      ['models/unpriced', { from: 'now' }, /from must be an ISO-8601/],
      ['prices', { at: 'tomorrow' }, /at must be an ISO-8601/],
    ];
    for (const [path, query, message] of bad) {
      it(`${path} ${JSON.stringify(query).slice(0, 90)}`, async () => {
        const res = await get(path, query);
        expect(res.status).toBe(400);
        expect(JSON.stringify(res.body.message)).toMatch(message);
        expectNoLeak(res.body);
      });
    }

    it('refuses a cursor made for another sort or order', async () => {
      const page = await get('traces', { sort: 'cost', limit: '2' });
      const cursor = page.body.nextCursor as string;
      expect(cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      expect((await get('traces', { sort: 'cost', cursor })).status).toBe(200);
      for (const other of [{ sort: 'time' }, { sort: 'cost', order: 'asc' }] as Record<string, string>[]) {
        const res = await get('traces', { ...other, cursor });
        expect(res.status).toBe(400);
        expect(res.body.message).toBe('cursor is invalid, or was made for another sort or order');
      }
    });
  });

  describe('SQL injection through every filter', () => {
    const payloads = [
      "' OR '1'='1",
      "x'); DROP TABLE llm_calls; --",
      "1; DELETE FROM llm_traces",
      "chat' UNION SELECT * FROM pg_user --",
      '"; SELECT pg_sleep(5); --',
      "\\'; TRUNCATE llm_spans; --",
      "$1",
      '{"feature": "chat"}',
      "') OR true --",
      '%',
      '_',
      '\u0000',
    ];
    const textFilters = ['feature', 'project', 'user', 'service'];

    it('matches nothing through text filters and tag values, and changes nothing', async () => {
      const before = await tableCounts();
      for (const payload of payloads) {
        for (const filter of textFilters) {
          for (const path of ['traces', 'costs']) {
            const res = await get(path, { [filter]: payload, ...(path === 'costs' ? { groupBy: 'model', from: '2026-11-01', to: '2026-11-10' } : {}) });
            if (payload === '\u0000') {
              // PostgreSQL text cannot hold NUL; refused as a bad value, never as a database error.
              expect([200, 400]).toContain(res.status);
            } else {
              expect(res.status, `${path} ${filter}=${payload}`).toBe(200);
              expect(path === 'traces' ? res.body.items : res.body.groups).toEqual([]);
            }
            expectNoLeak(res.body);
          }
        }
        for (const tag of [`feature:${payload}`, `team:${payload}`]) {
          const res = await get('traces', { tag });
          if (payload !== '\u0000') expect(res.status).toBe(200);
          if (res.status === 200) expect(res.body.items).toEqual([]);
          expectNoLeak(res.body);
        }
      }
      expect(await tableCounts()).toEqual(before);
      expect(Number(before.calls)).toBe(callCount);
    });

    it('refuses injection through tag keys, groupBy keys, minCost, dates, sort, limit and ids', async () => {
      const before = await tableCounts();
      const attempts: [string, Record<string, string>][] = [];
      for (const p of payloads) {
        // '_' is a valid tag key character; every other payload is not.
        if (p !== '_') attempts.push(['traces', { tag: `${p}:x` }], ['traces', { tag: `feature${p}:x` }], ['costs', { groupBy: `tag:${p}` }], ['costs', { groupBy: 'day', series: `tag:a${p}` }]);
        attempts.push(['traces', { minCost: p }], ['traces', { from: p }], ['traces', { to: `2026-01-01${p}` }], ['traces', { sort: p }], ['traces', { order: p }], ['traces', { limit: `1${p}` }]);
        attempts.push(['traces', { cursor: Buffer.from(JSON.stringify(['cost', 'desc', p, '00000001-0000-4000-8000-000000000001'])).toString('base64url') }]);
        attempts.push(['costs', { groupBy: 'model', feature: p, from: p }], ['prices', { at: p }], ['models/unpriced', { to: p }]);
      }
      for (const [path, query] of attempts) {
        const res = await get(path, query);
        expect(res.status, `${path} ${JSON.stringify(query)}`).toBe(400);
        expectNoLeak(res.body);
      }
      for (const p of payloads) {
        const res = await get(`traces/${encodeURIComponent(p)}`);
        expect(res.status).toBe(400);
        expectNoLeak(res.body);
      }
      expect(await tableCounts()).toEqual(before);
    });

    it('a tag key with every allowed character is bound, not spliced', async () => {
      const res = await get('costs', { groupBy: 'tag:a.b-c:d_e', from: '2026-11-01', to: '2026-11-10' });
      expect(res.status).toBe(200);
      expect(res.body.groups).toEqual([expect.objectContaining({ key: null, calls: callCount })]);
      const traceRes = await get('traces', { tag: '__proto__:x' });
      expect(traceRes.status).toBe(200);
      expect(traceRes.body.items).toEqual([]);
    });

    it('stores injection attempts in a price as plain text', async () => {
      const res = await request(app.getHttpServer())
        .post('/kostrack/prices')
        .set('x-kostrack-api-key', API_KEY)
        .send({ provider: 'custom:acme', model: "m'); DROP TABLE llm_prices; --", input: '1', note: "'; DELETE FROM llm_calls; --" });
      expect(res.status).toBe(201);
      expect(res.body.model).toBe("m'); DROP TABLE llm_prices; --");
      const rows = await db.inSchema<{ model: string; note: string }>('SELECT model, note FROM llm_prices');
      expect(rows).toEqual([{ model: "m'); DROP TABLE llm_prices; --", note: "'; DELETE FROM llm_calls; --" }]);
      expect(Number((await tableCounts()).calls)).toBe(callCount);
    });

    it('a database failure answers 500 without SQL or stack', async () => {
      await db.inSchema('ALTER TABLE llm_traces RENAME TO llm_traces_away');
      try {
        const res = await get('traces');
        expect(res.status).toBe(500);
        expect(res.body).toEqual({ statusCode: 500, message: 'Kostrack admin query failed', error: 'Internal Server Error' });
      } finally {
        await db.inSchema('ALTER TABLE llm_traces_away RENAME TO llm_traces');
      }
    });
  });

  describe('bodies and URLs, where the platform reads them first', () => {
    const key = { 'x-kostrack-api-key': API_KEY };
    const server = () => app.getHttpServer();
    const writes: [string, (type: string, body: string) => request.Test][] = [
      ['POST prices', (type, body) => request(server()).post('/kostrack/prices').set(key).set('content-type', type).send(body)],
      ['POST budgets', (type, body) => request(server()).post('/kostrack/budgets').set(key).set('content-type', type).send(body)],
      ['PUT budgets/x', (type, body) => request(server()).put('/kostrack/budgets/x').set(key).set('content-type', type).send(body)],
    ];
    const price = JSON.stringify({ provider: 'openai', model: 'ft:body-test', input: '1' });

    it('refuses bodies other than JSON with 415 alike, before the guard, writing nothing', async () => {
      const before = await tableCounts();
      const types = ['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/vnd.api+json', 'application/json-patch+json', 'text/json'];
      for (const [what, send] of writes)
        for (const type of types) {
          const res = await send(type, type.includes('urlencoded') ? 'provider=openai&model=form&input=1' : price);
          expect([what, type, res.status, res.body]).toEqual([
            what,
            type,
            415,
            { statusCode: 415, error: 'Unsupported Media Type', message: 'Kostrack admin API bodies must be JSON (Content-Type: application/json)' },
          ]);
          expect(res.headers['x-content-type-options']).toBe('nosniff');
        }
      // Without the key too: what a body is matters before who sends it (Fastify parses before guards).
      expect((await request(server()).post('/kostrack/prices').set('content-type', 'text/plain').send(price)).status).toBe(415);
      // A body without a Content-Type.
      const untyped = await request(server()).post('/kostrack/prices').set(key).serialize((b: string) => b).send(price).unset('content-type');
      expect(untyped.status).toBe(415);
      // JSON must be UTF-8 (RFC 8259). Express's parser refuses another charset itself, with its
      // own message and before any route middleware (so without nosniff); Fastify leaves it to us.
      const latin1 = await writes[0][1]('application/json; charset=latin1', price);
      expect(latin1.status).toBe(415);
      expect(await tableCounts()).toEqual(before);
    });

    it('takes application/json with or without charset=utf-8, and no body at all goes to validation', async () => {
      for (const [type, model] of [['application/json', 'ft:plain'], ['application/json; charset=utf-8', 'ft:utf8'], ['Application/JSON; Charset="UTF-8"', 'ft:cased']]) {
        const res = await writes[0][1](type, JSON.stringify({ provider: 'openai', model, input: '1' }));
        expect([type, res.status, res.body.model]).toEqual([type, 201, model]);
      }
      const empty = await request(server()).post('/kostrack/prices').set(key);
      expect(empty.status).toBe(400);
      expect(empty.body.message).toEqual(expect.arrayContaining(['provider must be longer than or equal to 1 characters']));
    });

    it('refuses __proto__ and constructor.prototype keys alike, and nothing is polluted', async () => {
      const before = await tableCounts();
      const bodies = [
        '{"provider":"openai","model":"p","input":"1","__proto__":{"polluted":1}}',
        '{"provider":"openai","model":"p","input":"1","constructor":{"prototype":{"polluted":1}}}',
        '{"name":"b1","scope":"user_id","period":"day","limit":"1","alerts":[{"__proto__":{"polluted":1}}]}',
      ];
      for (const body of bodies) {
        const res = await (body.includes('"scope"') ? writes[1] : writes[0])[1]('application/json', body);
        expect([body, res.status]).toEqual([body, 400]);
        // Fastify's JSON parser refuses them itself, with its own message; on Express the body
        // parser keeps them and Kostrack refuses them, as any other unknown property.
        if (platform === 'express') expect(res.body.message).toMatch(/^property (__proto__|constructor) should not exist$/);
        else expect(res.body.message).toBe("Body is not valid JSON but content-type is set to 'application/json'");
      }
      expect(({} as Record<string, unknown>).polluted).toBeUndefined();
      expect(await tableCounts()).toEqual(before);
    });

    /*
     * Differences that are the platforms' own, and harmless: each refuses, each in its way, before
     * Kostrack's code runs. Asserted per platform so a change in either shows up here.
     */
    it("answers what each platform refuses by itself: malformed JSON, large bodies, long or undecodable paths, case", async () => {
      const malformed = await writes[0][1]('application/json', '{"provider": "openai",');
      expect([malformed.status, malformed.headers['content-type']]).toEqual([400, 'application/json; charset=utf-8']);
      expect(malformed.body).toMatchObject({ statusCode: 400, message: expect.any(String) });
      // Express parses bodies before any route middleware, so its 400 comes without nosniff
      // (a JSON answer, not sniffed as HTML by browsers); Fastify parses after it.
      expect(malformed.headers['x-content-type-options']).toBe(platform === 'fastify' ? 'nosniff' : undefined);
      expectNoLeak(malformed.body);

      // Body limits: Express's JSON parser takes 100 kB by default, Fastify 1 MiB. Between the
      // two, Fastify parses the body and validation refuses the over-long note; above both, 413.
      const note = (n: number) => JSON.stringify({ provider: 'openai', model: 'big', input: '1', note: 'x'.repeat(n) });
      const large = await writes[0][1]('application/json', note(200_000));
      expect(large.status).toBe(platform === 'express' ? 413 : 400);
      expect((await writes[0][1]('application/json', note(2_000_000))).status).toBe(413);

      // A path parameter longer than Fastify's maxParamLength (100) is a 414 there; Express hands
      // it to the handler, whose pipe refuses it. Budget names are at most 100 characters.
      const longId = await get(`traces/${'a'.repeat(120)}`);
      expect(longId.status).toBe(platform === 'express' ? 400 : 414);
      const longName = await request(server()).delete(`/kostrack/budgets/${'n'.repeat(150)}`).set(key);
      expect(longName.status).toBe(platform === 'express' ? 404 : 414);

      // A path that does not decode: both 400, from the platform.
      expect((await get('traces/%E0%A4%A')).status).toBe(400);

      // Express matches routes case-insensitively by default, Fastify does not.
      expect((await request(server()).get('/KOSTRACK/health').set(key)).status).toBe(platform === 'express' ? 200 : 404);
    });
  });
}
