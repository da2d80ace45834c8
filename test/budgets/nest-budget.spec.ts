import 'reflect-metadata';
import { Controller, Get, Injectable, Module, type INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { KostrackBudgetExceededError, KostrackModule, Span, Trace, usd, usdToString, wrap, type KostrackModuleOptions } from '../../lib/index.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { providerHarness } from '../providers/provider-test.support.js';

/*
 * gpt-4o-mini: $0.15 input / $0.60 output per 1M; its cache-write rate falls back to input.
 * The request: messages [{ role: 'user', content: 'Go on' }], max_tokens 1000.
 * Input bound: the messages JSON walked = "role" 4+4, "user" 4+2, "content" 7+4, "Go on" 5+2 = 32,
 * array 2+1 → 35 bytes, + 64 base tokens = 99 tokens. Estimate: ceil((99 × 0.15 + 1000 × 0.60) / 1M)
 * = (14.85 + 600) / 1M = $0.00061485. Each call settles at usage 50 in / 1,000 out:
 * 50 × 0.15 + 1000 × 0.60 = 607.5 / 1M = $0.0006075.
 * Route budget $0.002: call k is admitted while k × 0.0006075 + 0.00061485 ≤ 0.002 → k = 0, 1, 2;
 * the 4th is refused with $0.0001775 left ($0.0018225 spent).
 */
const h = providerHarness((s) => openaiRoutes(s, { model: 'gpt-4o-mini-2024-07-18', usage: chatUsageBody({ prompt: 50, completion: 1000 }) }));
const ESTIMATE = '0.00061485';
const SETTLED = usd('0.0006075');

@Injectable()
class Agent {
  readonly openai = wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 }));
  calls = 0;

  /** An agent loop with no end of its own: only the budget stops it. */
  async runaway(): Promise<never> {
    for (;;) {
      await this.openai.chat.completions.create({ model: 'gpt-4o-mini', max_tokens: 1000, messages: [{ role: 'user', content: 'Go on' }] });
      this.calls++;
    }
  }

  @Span('inner-loop', { budget: '0.001' })
  async inner(): Promise<never> {
    return this.runaway();
  }
}

@Controller('agent')
class AgentController {
  constructor(private readonly agent: Agent) {}

  @Trace({ name: 'runaway', budget: '0.002' })
  @Get('runaway')
  runaway() {
    return this.agent.runaway();
  }

  @Trace({ name: 'nested' })
  @Get('nested')
  nested() {
    return this.agent.inner();
  }
}

type Platform = 'express' | 'fastify';
let app: INestApplication | undefined;
afterEach(async () => {
  await app?.close();
  app = undefined;
});

async function start(platform: Platform, options: KostrackModuleOptions = {}) {
  @Module({ imports: [KostrackModule.forRoot({ database: false, ...options })], controllers: [AgentController], providers: [Agent] })
  class AppModule {}
  const moduleRef = await Test.createTestingModule({ imports: [AppModule] }).compile();
  app = platform === 'fastify' ? moduleRef.createNestApplication<NestFastifyApplication>(new FastifyAdapter(), { logger: false }) : moduleRef.createNestApplication({ logger: false });
  await app.init();
  if (platform === 'fastify') await (app as NestFastifyApplication).getHttpAdapter().getInstance().ready();
  await app.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
}

describe.each<Platform>(['express', 'fastify'])('budgets in a Nest app on %s', (platform) => {
  it('a runaway route stops at its @Trace budget and answers 402 with the budget in JSON', async () => {
    const url = await start(platform);
    const res = await fetch(`${url}/agent/runaway`);
    expect(res.status).toBe(402);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = await res.json();
    const spent = 3n * SETTLED;
    expect(usdToString(spent)).toBe('0.0018225');
    expect(body).toEqual({
      statusCode: 402,
      error: 'Payment Required',
      message: expect.stringContaining('refused a call to openai/gpt-4o-mini'),
      limit: '0.002',
      spent: '0.0018225',
      reserved: '0',
      estimate: ESTIMATE,
      remaining: '0.0001775',
      resetsAt: null,
      budget: expect.objectContaining({ scope: 'run', spanName: 'runaway', limit: '0.002', provider: 'openai', model: 'gpt-4o-mini' }),
    });
    // Three requests reached the provider; the fourth never left.
    expect(h.server.requests).toHaveLength(3);
    expect(h.sink.calls.map((c) => c.status)).toEqual(['ok', 'ok', 'ok', 'blocked']);
    expect(h.sink.calls[3]).toMatchObject({ costUsd: 0n, pricingSource: 'blocked', errorClass: 'KostrackBudgetExceededError' });
    expect(h.sink.calls.reduce((a, c) => a + (c.costUsd ?? 0n), 0n)).toBe(spent);
    expect(new Set(h.sink.calls.map((c) => c.traceId)).size).toBe(1);
  });

  it('a @Span budget inside an unbudgeted @Trace limits that span', async () => {
    const url = await start(platform);
    const res = await fetch(`${url}/agent/nested`);
    expect(res.status).toBe(402);
    const body = await res.json();
    // $0.001: one call fits (0.00061485), the second does not (0.0006075 spent, 0.0003925 left).
    expect(body).toMatchObject({ limit: '0.001', spent: '0.0006075', remaining: '0.0003925', budget: { spanName: 'inner-loop' } });
    expect(h.server.requests).toHaveLength(1);
  });

  it('budgetErrorFilter: false leaves the error to Nest (500), the refusal still recorded', async () => {
    const url = await start(platform, { budgetErrorFilter: false });
    const res = await fetch(`${url}/agent/runaway`);
    expect(res.status).toBe(500);
    expect(h.sink.calls.at(-1)?.status).toBe('blocked');
    expect(h.sink.calls.at(-1)?.errorClass).toBe(KostrackBudgetExceededError.name);
  });
});
