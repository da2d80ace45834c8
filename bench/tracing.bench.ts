/**
 * Open a trace, open a span, record one call: ns per operation, side by side with
 * OpenTelemetry doing the same (a root and a child span with 10 attributes through a
 * BatchSpanProcessor and an in-memory exporter) and with bare AsyncLocalStorage.run() (the floor).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, trace as otelTrace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { addSink, recordCall, span, trace, usd, type CallInput, type CallRecord, type SpanRecord } from '../dist/core/index.js';
import { queuedCall } from '../dist/storage/record.codec.js';
import { nsPerOp, writeReport } from './bench.report.js';

const call: CallInput = {
  provider: 'anthropic',
  model: 'claude-haiku-4-5',
  operation: 'messages.create',
  inputTokens: 1200,
  outputTokens: 300,
  cachedTokens: 0,
  tokenBreakdown: { inputUncached: 1200, output: 300 },
  costUsd: usd('0.0027'),
  pricingModel: 'claude-haiku-4-5',
  pricingSource: 'catalog',
  latencyMs: 850,
  status: 'ok',
  streamed: false,
};
const traceTags = { feature: 'invoice-pipeline', user_id: 'u-42', project: 'openmanagr', env: 'prod', tenant: 't1' };
const spanTags = { step: 'classify', attempt: '1', queue: 'default', region: 'eu', version: 'v3' };

// A sink that keeps records the way a batch does: push, and drop the batch when it fills.
let calls: CallRecord[] = [];
let spans: SpanRecord[] = [];
let removeSink = addSink({
  recordCall: (c) => (calls.push(c) >= 4096 ? (calls = []) : 0),
  recordSpan: (s) => (spans.push(s) >= 4096 ? (spans = []) : 0),
});
// The storage writer's own enqueue: it copies each call into its bounded queue (no database here,
// so the flush is not measured: it runs in batches off the call path).
const useWriterEnqueue = () => {
  removeSink();
  removeSink = addSink({
    recordCall: (c) => (calls.push(queuedCall(c)) >= 4096 ? (calls = []) : 0),
    recordSpan: (s) => (spans.push(s) >= 4096 ? (spans = []) : 0),
  });
};

const kostrack = () => trace({ tags: traceTags }, () => span('classify', { tags: spanTags }, () => recordCall(call)));

const exporter = new InMemorySpanExporter();
const provider = new BasicTracerProvider({ spanProcessors: [new BatchSpanProcessor(exporter, { maxQueueSize: 65536, maxExportBatchSize: 4096 })] });
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
const tracer = provider.getTracer('bench');
const attrs = { ...traceTags, ...spanTags };
let exported = 0;
const otel = () =>
  tracer.startActiveSpan('root', (root) => {
    root.setAttributes(attrs);
    tracer.startActiveSpan('classify', (child) => {
      child.setAttributes(attrs);
      child.end();
    });
    root.end();
    if (++exported % 8192 === 0) exporter.reset();
  });

const als = new AsyncLocalStorage<object>();
const a = {};
const b = {};
const floor = () => als.run(a, () => als.run(b, () => undefined));

const iterations = Number(process.env.BENCH_ITERATIONS ?? 100_000);
const results: [string, number][] = [];
// Interleave the three so machine noise hits them alike.
const samples: Record<string, number[]> = { kostrack: [], otel: [], floor: [], writer: [] };
for (let round = 0; round < 3; round++) {
  samples.floor.push(await nsPerOp(floor, { iterations, rounds: 3 }));
  samples.kostrack.push(await nsPerOp(kostrack, { iterations, rounds: 3 }));
  samples.otel.push(await nsPerOp(otel, { iterations, rounds: 3 }));
}
useWriterEnqueue();
for (let round = 0; round < 3; round++) samples.writer.push(await nsPerOp(kostrack, { iterations, rounds: 3 }));
const best = (k: string) => Math.min(...samples[k]);
results.push(['Kostrack: trace + span + one recorded call', best('kostrack')]);
results.push(["Kostrack, the storage writer's enqueue included", best('writer')]);
results.push(['OpenTelemetry: root + child span, 10 attributes, BatchSpanProcessor', best('otel')]);
results.push(['Floor: two nested AsyncLocalStorage.run()', best('floor')]);
await provider.shutdown();

const k = best('kostrack');
const o = best('otel');
const f = best('floor');
const rows = results.map(([name, ns]) => `| ${name} | ${(ns / 1000).toFixed(3)} µs | ${(ns / o).toFixed(2)}× |`).join('\n');
writeReport(
  'tracing',
  'Tracing overhead: open a trace, open a span, record one call',
  `| operation | per op (best of 3 medians) | vs OpenTelemetry |\n|---|---|---|\n${rows}\n\n` +
    `Kostrack takes **${((k / o) * 100).toFixed(1)}%** of OpenTelemetry's time (goal ≤ 25%) and ${(k / f).toFixed(1)}× the floor; ` +
    `${((best('writer') / o) * 100).toFixed(1)}% with the storage writer's enqueue; ` +
    `${iterations.toLocaleString('en')} iterations per round.`,
);
