import 'reflect-metadata';
import Anthropic from '@anthropic-ai/sdk';
import { Controller, Inject, Module, Post, type INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { currentTrace, KostrackModule, Span, Trace, usd, usdToString, wrap } from '../../lib/index.js';
import { outgoingTraceHeaders } from '../../lib/integrations/index.js';
import { anthropicRoutes, anthropicUsageBody } from '../../loopback/anthropic.loopback.js';
import { LoopbackServer } from '../../loopback/loopback.server.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { useTestDatabase } from '../support/database.js';

const db = useTestDatabase('xsvc');
const llm = new LoopbackServer();
let classifier: ChildProcess;
let classifierUrl = '';
let app: INestApplication;
let appUrl = '';

const ANTHROPIC = 'pipeline.anthropic';

@Controller('invoices')
class PipelineController {
  constructor(@Inject(ANTHROPIC) private readonly anthropic: Anthropic) {}

  @Trace({ name: 'invoice-pipeline', tags: { feature: 'invoice-pipeline' } })
  @Post('run')
  async run() {
    await this.validate();
    // Service B continues this trace from the W3C headers; its calls join our total.
    const res = await fetch(`${classifierUrl}/classify`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...outgoingTraceHeaders() },
      body: JSON.stringify({ invoice: 'INV-7' }),
    });
    const classified = await res.json();
    await this.post();
    return { traceId: currentTrace()!.traceId, classified };
  }

  @Span('validate')
  async validate() {
    await this.anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'validate' }] });
  }

  @Span('post')
  async post() {
    await this.anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 64, messages: [{ role: 'user', content: 'post' }] });
  }
}

async function startClassifier(): Promise<void> {
  classifier = spawn(process.execPath, ['--import', './test/support/decorator-metadata.register.mjs', 'test/integrations/fixtures/classifier.service.ts'], {
    env: {
      ...process.env,
      KOSTRACK_DATABASE_URL: db.url,
      KOSTRACK_SCHEMA: db.schema,
      KOSTRACK_TMP: mkdtempSync(join(tmpdir(), 'kostrack-b-')),
      OPENAI_BASE_URL: `${llm.url}/v1`,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  classifierUrl = await new Promise<string>((resolve, reject) => {
    let out = '';
    classifier.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /LISTENING (\d+)/.exec(out);
      if (m) resolve(`http://127.0.0.1:${m[1]}`);
    });
    classifier.once('exit', (code) => reject(new Error(`classifier exited with ${code}`)));
  });
}

beforeAll(async () => {
  openaiRoutes(llm, { model: 'gpt-4o-2024-08-06', usage: chatUsageBody({ prompt: 800, completion: 60 }) });
  anthropicRoutes(llm, { model: 'claude-haiku-4-5-20251001', usage: anthropicUsageBody({ input: 900, output: 150, cacheRead: 300 }) });
  await llm.start();
  const started = startClassifier();

  @Module({
    imports: [
      KostrackModule.forRoot({
        serviceId: 'pipeline',
        database: db.url,
        schema: db.schema,
        writer: (() => {
          const dir = mkdtempSync(join(tmpdir(), 'kostrack-a-'));
          return { flushIntervalMs: 20, spoolDir: join(dir, 'spool'), deadLetterFile: join(dir, 'dead.jsonl') };
        })(),
      }),
    ],
    controllers: [PipelineController],
    providers: [{ provide: ANTHROPIC, useFactory: () => wrap(new Anthropic({ apiKey: 'k', baseURL: llm.url, maxRetries: 0 })) }],
  })
  class PipelineModule {}
  app = await NestFactory.create(PipelineModule, { logger: ['error'] });
  await app.listen(0, '127.0.0.1');
  appUrl = `http://127.0.0.1:${(app.getHttpServer().address() as { port: number }).port}`;
  await started;
}, 60_000);

afterAll(async () => {
  await app?.close();
  if (classifier && classifier.exitCode === null && classifier.signalCode === null) {
    classifier.kill('SIGTERM');
    await new Promise((r) => classifier.once('exit', r));
  }
  await llm.close();
});

describe('cross-service traces over real HTTP', () => {
  it('a trace started in service A that calls service B is one trace: both services rows, one llm_traces total', async () => {
    const res = await fetch(`${appUrl}/invoices/run`, { method: 'POST' });
    expect(res.status).toBe(201);
    const { traceId, classified } = (await res.json()) as { traceId: string; classified: { label: string } };
    expect(classified.label).toBe('office-supplies');
    expect(res.headers.get('x-kostrack-trace-id')).toBe(traceId);

    // Both processes flush on shutdown (B through enableShutdownHooks on SIGTERM).
    await app.close();
    classifier.kill('SIGTERM');
    // Nest's shutdown hook closes the app (flushing the writer), then re-raises the signal.
    const [code, signal] = await new Promise<[number | null, string | null]>((r) => classifier.once('exit', (c, s) => r([c, s])));
    expect(code === 0 || signal === 'SIGTERM').toBe(true);

    const calls = await db.inSchema<{ service_id: string; provider: string; cost_usd: string; span_name: string; parent_span_id: string | null }>(
      `SELECT service_id, provider, cost_usd::text, tags->>'span_name' AS span_name, parent_span_id FROM llm_calls WHERE trace_id = $1 ORDER BY time`,
      [traceId],
    );
    expect(calls.map((c) => [c.service_id, c.provider, c.span_name])).toEqual([
      ['pipeline', 'anthropic', 'validate'],
      ['classifier', 'openai', 'label'],
      ['classifier', 'openai', 'label'],
      ['pipeline', 'anthropic', 'post'],
    ]);
    const exact = calls.reduce((a, c) => a + usd(c.cost_usd), 0n);
    const traces = await db.inSchema<{ total_cost_usd: string; call_count: string }>(
      `SELECT total_cost_usd::text, call_count::text FROM llm_traces WHERE trace_id = $1`,
      [traceId],
    );
    expect(traces).toHaveLength(1);
    expect(usd(traces[0].total_cost_usd)).toBe(exact);
    expect(traces[0].call_count).toBe('4');
    // Hand-computed: haiku 4.5 ($1 in, $0.10 cache read, $5 out) x2 + gpt-4o ($2.50 in, $10 out) x2.
    expect(usdToString(exact)).toBe(usdToString(usd('0.00168') * 2n + usd('0.0026') * 2n));
    // B's spans hang under A's: the classifier root's parent is the A span that made the request.
    const spans = await db.inSchema<{ name: string; service_id: string; parent_span_id: string | null; span_id: string }>(
      `SELECT name, service_id, parent_span_id, span_id FROM llm_spans WHERE trace_id = $1`,
      [traceId],
    );
    // A's root lives in llm_traces; its named spans and B's root all hang from its span id.
    const rootSpanId = spans.find((s) => s.name === 'validate')!.parent_span_id;
    expect(spans.find((s) => s.name === 'classifier')).toMatchObject({ service_id: 'classifier', parent_span_id: rootSpanId });
    expect(spans.find((s) => s.name === 'label')!.parent_span_id).toBe(spans.find((s) => s.name === 'classifier')!.span_id);
  });
});
