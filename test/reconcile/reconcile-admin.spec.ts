import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KostrackModule } from '../../lib/nest/kostrack.module.js';
import { KostrackStorageLifecycle } from '../../lib/nest/kostrack-storage.lifecycle.js';
import { KOSTRACK_PRICE_BOOK } from '../../lib/nest/llm-clients.providers.js';
import type { PriceBook } from '../../lib/pricing/price-book.js';
import { anthropicAdminRoutes, anthropicAdminScript } from '../../loopback/anthropic-admin.loopback.js';
import { LoopbackServer } from '../../loopback/loopback.server.js';
import { openAiAdminRoutes, openAiAdminScript } from '../../loopback/openai-admin.loopback.js';
import { API_KEY, startAdminApp } from '../admin/support/admin.app.js';
import { useTestDatabase } from '../support/database.js';
import { billAnthropic, billedState, billOpenAi, recordWeek, WEEK } from './support/week.js';

/** `POST <admin path>/provider-costs/import` and `GET <admin path>/reconciliation` on Express: validated input, keys from the module, 502 on a bad provider answer. */

const db = useTestDatabase('rc_admin');
let app: INestApplication;
const server = new LoopbackServer();
const openai = openAiAdminScript();
const anthropic = anthropicAdminScript();
const get = (path: string) => request(app.getHttpServer()).get(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY);
const post = (path: string, body: unknown) => request(app.getHttpServer()).post(`/kostrack/${path}`).set('x-kostrack-api-key', API_KEY).send(body as object);

beforeAll(async () => {
  await server.start();
  openAiAdminRoutes(server, openai);
  anthropicAdminRoutes(server, anthropic);
  billOpenAi(openai);
  billAnthropic(anthropic);
  app = await startAdminApp(db, {
    // Only OpenAI is configured: importing Anthropic must say what is missing.
    admin: { enabled: true, apiKey: API_KEY, providerCosts: { openai: { adminKey: openai.adminKey, baseUrl: `${server.url}/v1` } } },
  });
  recordWeek(app.get<PriceBook>(KOSTRACK_PRICE_BOOK));
  await app.get(KostrackStorageLifecycle).current!.writer.drain();
});
afterAll(async () => {
  await app?.close();
  await server.close();
});

describe('POST provider-costs/import', () => {
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['an unknown provider', { provider: 'gemini', ...WEEK }, /provider must be one of openai, anthropic/],
    ['no range', { provider: 'openai' }, /from must be/],
    ['to before from', { provider: 'openai', from: '2026-08-10', to: '2026-08-03' }, /^from \(2026-08-10\) must be before to \(2026-08-03\)/],
    ['a time that is not a whole day', { provider: 'openai', from: '2026-08-03T06:00:00Z', to: '2026-08-10' }, /from must be a UTC day/],
    ['an admin key in the body', { provider: 'openai', ...WEEK, adminKey: 'sk-admin-x' }, /property adminKey should not exist/],
    ['a provider with no admin key configured', { provider: 'anthropic', ...WEEK }, /No admin key for anthropic: set admin.providerCosts.anthropic.adminKey/],
  ];
  for (const [what, body, message] of cases) {
    it(`400 for ${what}, and no request to the provider`, async () => {
      const sent = server.requests.length;
      const res = await post('provider-costs/import', body);
      expect(res.status).toBe(400);
      expect([res.body.message].flat().join('; ')).toMatch(message);
      expect(server.requests.length).toBe(sent);
    });
  }

  it('502 when the provider answers badly, naming what was wrong; nothing stored', async () => {
    openai.fault = { report: 'costs', page: 1, mode: 'nonsense', value: 'lots' };
    try {
      const before = await billedState(db.pool, db.schema);
      const res = await post('provider-costs/import', { provider: 'openai', ...WEEK });
      expect(res.status).toBe(502);
      expect(res.body).toEqual({
        statusCode: 502,
        error: 'Bad Gateway',
        kind: 'amount',
        providerStatus: null,
        message: 'openai cost import: costs 2026-08-03 result 0.amount.value: expected a non-negative amount, got "lots"',
      });
      expect(await billedState(db.pool, db.schema)).toEqual(before);
    } finally {
      openai.fault = null;
    }
  });

  it("imports with the module's admin key", async () => {
    const res = await post('provider-costs/import', { provider: 'openai', ...WEEK });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ provider: 'openai', from: WEEK.from, to: WEEK.to, rows: 14, billedUsd: '0.1218', missingDays: [] });
    expect(server.requests.at(-1)!.headers.authorization).toBe(`Bearer ${openai.adminKey}`);
  });
});

describe('GET reconciliation', () => {
  const cases: [string, string, RegExp][] = [
    ['no range', '', /from must be/],
    ['a bad threshold', `from=${WEEK.from}&to=${WEEK.to}&threshold=-1`, /threshold must be a non-negative USD amount/],
    ['an unknown parameter', `from=${WEEK.from}&to=${WEEK.to}&treshold=1`, /property treshold should not exist/],
    ['more than a year', `from=2024-01-01&to=${WEEK.to}`, /the range holds 952 days; at most 366/],
  ];
  for (const [what, query, message] of cases) {
    it(`400 for ${what}`, async () => {
      const res = await get(`reconciliation?${query}`);
      expect(res.status).toBe(400);
      expect([res.body.message].flat().join('; ')).toMatch(message);
    });
  }

  it('reports the imported provider: its gaps per day and model, exact decimal strings', async () => {
    const res = await get(`reconciliation?from=${WEEK.from}&to=${WEEK.to}&threshold=0.0006`);
    expect(res.status).toBe(200);
    // The SDK's retries come along: the one gpt-4o-mini call on 08-03 that took three attempts.
    expect(res.body).toMatchObject({ from: WEEK.from, to: WEEK.to, threshold: '0.0006', billedUsd: '0.1218', trackedUsd: '0.1101', coverage: '0.903941', untrackedUsd: '0.0117', retriedCalls: 1, extraAttempts: 2 });
    expect(res.body.gaps).toEqual([
      { day: '2026-08-08', provider: 'openai', model: 'gpt-4o', trackedUsd: '0.0075', billedUsd: '0.015', gapUsd: '0.0075', coverage: '0.5', calls: 1, unpricedCalls: 0, retriedCalls: 0, extraAttempts: 0 },
    ]);
    expect(res.body.providers.map((p: { provider: string }) => p.provider)).toEqual(['openai']);
    // Anthropic's tracked spend has no imported figures to compare with.
    expect(res.body.notComparedUsd).toBe('0.07');
  });

  it('needs the API key', async () => {
    await request(app.getHttpServer()).get(`/kostrack/reconciliation?from=${WEEK.from}&to=${WEEK.to}`).expect(401);
  });
});

describe('module options', () => {
  it('refuses an admin key for a provider with no cost report, and a malformed one', () => {
    expect(() => KostrackModule.forRoot({ database: false, admin: { enabled: true, apiKey: API_KEY, providerCosts: { gemini: { adminKey: 'x'.repeat(20) } } as never } })).toThrow(
      /admin.providerCosts.gemini: cost reports are imported from openai and anthropic only/,
    );
    expect(() => KostrackModule.forRoot({ database: false, admin: { enabled: true, apiKey: API_KEY, providerCosts: { openai: { adminKey: '' } } } })).toThrow(
      /admin.providerCosts.openai.adminKey must be the organization's admin key/,
    );
  });
});
