import type { INestApplication } from '@nestjs/common';
import request from 'supertest';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { recordCall } from '../../lib/core/record-call.js';
import { usd, usdToString } from '../../lib/core/money.js';
import type { CallRecord } from '../../lib/core/call-record.js';
import { useTestDatabase } from '../support/database.js';
import { syntheticCall } from '../storage/support/synthetic.js';
import { API_KEY, seed, startAdminApp } from './support/admin.app.js';

const db = useTestDatabase('admin_cap');
let app: INestApplication;
const USERS = 1005;
let expectedTotal = 0n;

beforeAll(async () => {
  app = await startAdminApp(db);
  const calls: CallRecord[] = [];
  for (let i = 0; i < USERS; i++) {
    // User i spends (i + 1) × $0.000001, so amounts cross a digit boundary where text order differs.
    const cost = usd(`0.${String(i + 1).padStart(6, '0')}`);
    expectedTotal += cost;
    calls.push(recordCall(syntheticCall({ costUsd: cost, tags: { user_id: `u${i}` } }), null)!);
  }
  await seed(app, [], calls);
});
afterAll(async () => {
  await app?.close();
});

it('caps a cost report at 1,000 groups but says so, with the total of every group and numeric order', async () => {
  const res = await request(app.getHttpServer())
    .get('/kostrack/costs')
    .query({ groupBy: 'tag:user_id' })
    .set('x-kostrack-api-key', API_KEY)
    .expect(200);
  expect(res.body.groups).toHaveLength(1000);
  expect(res.body).toMatchObject({ groupCount: USERS, truncated: true, totalCostUsd: usdToString(expectedTotal) });
  // Most expensive first by amount: u1004 ($0.001005) before u999 ($0.001), never by text.
  expect(res.body.groups.slice(0, 2).map((g: { key: string; costUsd: string }) => [g.key, g.costUsd])).toEqual([
    ['u1004', '0.001005'],
    ['u1003', '0.001004'],
  ]);
  expect(res.body.groups.at(-1).key).toBe('u5');
});

it('reports the whole range untruncated when it fits', async () => {
  const res = await request(app.getHttpServer()).get('/kostrack/costs').query({ groupBy: 'model' }).set('x-kostrack-api-key', API_KEY).expect(200);
  expect(res.body).toMatchObject({ groupCount: 1, truncated: false, totalCostUsd: usdToString(expectedTotal) });
  expect(res.body.groups[0].calls).toBe(USERS);
});
