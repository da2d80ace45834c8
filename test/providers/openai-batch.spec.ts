import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { KostrackConfigError, trace, usdToString, type TraceContext } from '../../lib/core/index.js';
import { importBatchResults, withTags, wrap } from '../../lib/providers/index.js';
import { batchObject, batchScript, errorLine, jsonl, openaiBatchRoutes, outputLine } from '../../loopback/openai-batch.loopback.js';
import { chatCompletion, chatUsageBody, embeddingBody, responseObject, responsesUsageBody } from '../../loopback/openai.loopback.js';
import { atMtok, providerHarness, settle, sum } from './provider-test.support.js';

/*
 * Prices (per 1M tokens, OpenAI list prices; the Batch API bills half of them):
 *   gpt-4o-mini             standard $0.15 in / $0.075 cached / $0.60 out → batch $0.075 / $0.0375 / $0.30
 *   gpt-4.1-mini            standard $0.40 in / $0.10 cached  / $1.60 out → batch $0.20  / $0.05   / $0.80
 *   text-embedding-3-small  standard $0.02 in                            → batch $0.01
 * Module-level batch maps and the in-process dedup set live for the whole file: every test uses
 * its own batch ids, file ids and line ids.
 */
const script = batchScript();
const h = providerHarness((s) => openaiBatchRoutes(s, script));
const client = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 });
const MINI = 'gpt-4o-mini-2024-07-18';
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const createBody = (endpoint: '/v1/chat/completions' | '/v1/responses' | '/v1/embeddings') => ({ input_file_id: 'file-input-1', endpoint, completion_window: '24h' as const });

/**
 * For checks that something did NOT happen: Kostrack reads its clone of the body beside the
 * caller's, and once the caller has read the whole body every chunk already sits in the clone's
 * queue, so the rest of that read runs on promise jobs, all before any timer fires however slow
 * the machine. What must happen is waited for by its condition ({@link settle}, {@link warned}).
 */
const quiet = () => new Promise((r) => setTimeout(r, 100));

/** Waits until `n` warnings were given; the bound only turns "never" into a message. */
async function warned(n: number, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (h.warnings.length < n) {
    if (Date.now() > end) throw new Error(`expected ${n} warning(s) within ${ms} ms, got ${JSON.stringify(h.warnings)}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

// Two chat results of one batch, with their costs worked out by hand at gpt-4o-mini batch rates.
const chatLines = (first: number) => [
  outputLine(first, 'req-a', chatCompletion(MINI, chatUsageBody({ prompt: 2000, completion: 300, cached: 1500 }))),
  outputLine(first + 1, 'req-b', chatCompletion(MINI, chatUsageBody({ prompt: 1000, completion: 50 }))),
];
// req-a: 500 uncached × $0.075 = $0.0000375; 1500 cached × $0.0375 = $0.00005625; 300 out × $0.30 = $0.00009
const COST_A = sum(atMtok(500, '0.075'), atMtok(1500, '0.0375'), atMtok(300, '0.30'));
// req-b: 1000 in × $0.075 = $0.000075; 50 out × $0.30 = $0.000015
const COST_B = sum(atMtok(1000, '0.075'), atMtok(50, '0.30'));

describe('openai Batch API: results read through files.content', () => {
  it('records one row per result, at batch prices, in the trace that created the batch', async () => {
    expect(usdToString(COST_A)).toBe('0.00018375');
    expect(usdToString(COST_B)).toBe('0.00009');
    const openai = wrap(client(), { tags: { team: 'ledger' } });
    const content = jsonl(chatLines(101));
    script.files.set('file-out-1', content);
    script.nextId = 'batch_1';

    let creator: TraceContext | undefined;
    await trace({ name: 'nightly', tags: { job: 'classify' } }, async (t) => {
      creator = t;
      const created = await openai.batches.create(createBody('/v1/chat/completions'), withTags({ step: 'submit' }));
      expect(created.id).toBe('batch_1');
    });
    expect(h.sink.calls).toEqual([]); // creating a batch is not a billed call

    // Later, outside any trace (a poller): the batch completed.
    script.batches.set('batch_1', batchObject('batch_1', '/v1/chat/completions', 'completed', { output_file_id: 'file-out-1' }, { completed: 2, failed: 0, total: 2 }));
    const batch = await openai.batches.retrieve('batch_1');
    const res = await openai.files.content(batch.output_file_id!);
    expect(res.bodyUsed).toBe(false);
    expect(await res.text()).toBe(content);
    await settle(h.sink, 2);

    const [a, b] = h.sink.calls;
    expect(h.sink.calls).toHaveLength(2);
    for (const row of [a, b]) {
      expect(row).toMatchObject({
        provider: 'openai',
        model: MINI,
        operation: 'batches.chat.completions.create',
        status: 'ok',
        errorClass: null,
        streamed: false,
        pricingSource: 'batch',
        pricingModel: 'genai-prices:gpt-4o-mini',
        serviceTier: 'batch',
        traceId: creator!.traceId,
        parentSpanId: null,
      });
      expect(row.spanId).toMatch(UUID_V4);
      // client < trace < call tags, and the creating span's name.
      expect(row.tags).toEqual({ team: 'ledger', job: 'classify', step: 'submit', span_name: 'nightly' });
    }
    expect(a.metadata).toEqual({ batch_id: 'batch_1', custom_id: 'req-a', output_file_id: 'file-out-1', request_id: 'req_101' });
    expect(b.metadata).toEqual({ batch_id: 'batch_1', custom_id: 'req-b', output_file_id: 'file-out-1', request_id: 'req_102' });
    expect(a.tokenBreakdown).toEqual({ inputUncached: 500, cacheRead: 1500, output: 300 });
    expect([a.inputTokens, a.outputTokens, a.cachedTokens]).toEqual([2000, 300, 1500]);
    expect(a.costUsd).toBe(COST_A);
    expect(b.costUsd).toBe(COST_B);
    // The creating trace's in-process totals include the batch: $0.00018375 + $0.00009.
    expect(creator!.totalCostDecimal).toBe('0.00027375');
    expect(creator!.callCount).toBe(2);
    // Kostrack's per-call option never reached the API.
    const createReq = h.server.requests.find((r) => r.method === 'POST')!;
    expect(createReq.body).toEqual(createBody('/v1/chat/completions'));
    expect(JSON.stringify(createReq.headers)).not.toContain('kostrack');
    expect(h.warnings).toEqual([]);
  });

  it('reading the same file twice records it once; another process reading it gets the same span ids', async () => {
    const openai = wrap(client());
    const content = jsonl(chatLines(201));
    script.files.set('file-out-2', content);
    script.nextId = 'batch_2';
    let creator: TraceContext | undefined;
    await trace({ name: 'twice' }, async (t) => {
      creator = t;
      await openai.batches.create(createBody('/v1/chat/completions'));
    });
    script.batches.set('batch_2', batchObject('batch_2', '/v1/chat/completions', 'completed', { output_file_id: 'file-out-2' }));
    await openai.batches.retrieve('batch_2');

    expect(await (await openai.files.content('file-out-2')).text()).toBe(content);
    await settle(h.sink, 2);
    const first = h.sink.calls.map((c) => c.spanId);
    expect(first).toHaveLength(2);
    // Read again, the raw way: the caller still gets the whole body, and nothing is added.
    const raw = await openai.files.content('file-out-2').asResponse();
    expect(await raw.text()).toBe(content);
    await quiet();
    expect(h.sink.calls).toHaveLength(2);
    expect(creator!.totalCost).toBe(sum(COST_A, COST_B));
    expect(creator!.callCount).toBe(2);
    // Imported as well: already recorded here.
    expect(importBatchResults(content, { batchId: 'batch_2' })).toEqual({ recorded: 0, errors: 0, skipped: 0, duplicates: 2 });
    expect(creator!.totalCost).toBe(sum(COST_A, COST_B));

    // A fresh copy of the module stands for another process: it never saw the batch, so its rows
    // have no trace and no batch id, but the same span ids (storage keeps the first, on span_id).
    vi.resetModules();
    const other = await import('../../lib/providers/index.js');
    const elsewhere = other.wrap(client());
    expect(await (await elsewhere.files.content('file-out-2')).text()).toBe(content);
    await settle(h.sink, 4);
    const again = h.sink.calls.slice(2);
    expect(again.map((c) => c.spanId)).toEqual(first);
    expect(again.map((c) => [c.traceId, c.costUsd])).toEqual([
      [null, COST_A],
      [null, COST_B],
    ]);
    expect(again[0].metadata).toEqual({ custom_id: 'req-a', output_file_id: 'file-out-2', request_id: 'req_201' });
  });

  it('error file lines are error rows costing 0, named by their error code or HTTP status', async () => {
    const openai = wrap(client());
    script.nextId = 'batch_3';
    const content = jsonl([
      outputLine(301, 'bad-model', { error: { message: 'The model `gpt-5-nano-x` does not exist.', type: 'invalid_request_error', param: 'model', code: 'model_not_found' } }, 400),
      errorLine(302, 'late', 'batch_expired', 'This request could not be executed before the completion window expired.'),
    ]);
    script.files.set('file-err-3', content);
    let creator: TraceContext | undefined;
    await trace({ name: 'errors' }, async (t) => {
      creator = t;
      await openai.batches.create(createBody('/v1/chat/completions'));
    });
    script.batches.set(
      'batch_3',
      batchObject('batch_3', '/v1/chat/completions', 'completed', { error_file_id: 'file-err-3', model: 'gpt-4o-mini' }, { completed: 0, failed: 2, total: 2 }),
    );
    const batch = await openai.batches.retrieve('batch_3');
    expect(batch.output_file_id).toBeNull();
    expect(await (await openai.files.content(batch.error_file_id!)).text()).toBe(content);
    await settle(h.sink, 2);

    const [http, expired] = h.sink.calls;
    expect(h.sink.calls).toHaveLength(2);
    for (const row of [http, expired]) {
      expect(row).toMatchObject({
        status: 'error',
        costUsd: 0n,
        pricingSource: 'not-billed',
        operation: 'batches.chat.completions.create',
        model: 'gpt-4o-mini',
        inputTokens: 0,
        outputTokens: 0,
        traceId: creator!.traceId,
      });
    }
    expect(http.errorClass).toBe('HTTP 400');
    expect(http.metadata).toEqual({ batch_id: 'batch_3', custom_id: 'bad-model', error_file_id: 'file-err-3', request_id: 'req_301', error_code: 'model_not_found' });
    expect(expired.errorClass).toBe('batch_expired');
    expect(expired.metadata).toEqual({ batch_id: 'batch_3', custom_id: 'late', error_file_id: 'file-err-3' });
    expect(creator!.totalCost).toBe(0n);
    expect(creator!.callCount).toBe(2);
  });

  it('a garbage line is skipped and counted, negative token counts are flagged; the caller gets the file untouched', async () => {
    const openai = wrap(client());
    script.nextId = 'batch_4';
    const negative = chatCompletion(MINI, { prompt_tokens: -5, completion_tokens: 20, total_tokens: 15 });
    const content = jsonl([
      outputLine(401, 'fine', chatCompletion(MINI, chatUsageBody({ prompt: 1000, completion: 50 }))),
      'this is not json',
      '{"id": "batch_req_402", "custom_id": "cut-off", "respo',
      outputLine(403, 'negative', negative),
    ]);
    script.files.set('file-out-4', content);
    await openai.batches.create(createBody('/v1/chat/completions'));
    script.batches.set('batch_4', batchObject('batch_4', '/v1/chat/completions', 'completed', { output_file_id: 'file-out-4' }));
    await openai.batches.retrieve('batch_4');

    const { data, response } = await openai.files.content('file-out-4').withResponse();
    expect(data).toBe(response);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(await data.text()).toBe(content);
    await settle(h.sink, 2);
    // The skipped lines are counted once the whole file was read: that warning comes last.
    await warned(1);

    const [fine, flagged] = h.sink.calls;
    expect(h.sink.calls).toHaveLength(2);
    // 1000 in × $0.075 = $0.000075; 50 out × $0.30 = $0.000015
    expect(fine).toMatchObject({ status: 'ok', costUsd: sum(atMtok(1000, '0.075'), atMtok(50, '0.30')), traceId: null });
    // The negative prompt count is unknown (0): only the 20 output tokens are billed, 20 × $0.30 = $0.000006.
    expect(flagged).toMatchObject({ status: 'ok', inputTokens: 0, outputTokens: 20, costUsd: atMtok(20, '0.30') });
    expect(usdToString(flagged.costUsd!)).toBe('0.000006');
    expect(flagged.metadata.usage_issues).toEqual(['usage.prompt_tokens: negative (-5)']);
    expect(h.warnings).toEqual(['Kostrack skipped 2 unreadable line(s) of batch file file-out-4; the other results were recorded']);
  });

  it('a file that is not batch output (a batch input file, a large non-JSON file) records nothing and warns nothing', async () => {
    const openai = wrap(client());
    const input = jsonl([
      { custom_id: 'req-a', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] } },
      { custom_id: 'req-b', method: 'POST', url: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'yo' }] } },
    ]);
    script.files.set('file-input-5', input);
    expect(await (await openai.files.content('file-input-5')).text()).toBe(input);
    // 2 MB without a newline that does not start like JSON (an image, say): given back whole.
    const blob = 'x'.repeat(2 * 1024 * 1024);
    script.files.set('file-blob-5', blob);
    expect(await (await openai.files.content('file-blob-5')).text()).toBe(blob);
    await quiet();
    expect(h.sink.calls).toEqual([]);
    expect(h.warnings).toEqual([]);
  });
});

describe('openai Batch API: files.content never costs the caller', () => {
  it('a fetch whose body is a Node stream (node-fetch): the caller reads the file as without Kostrack; nothing is read beside it', async () => {
    // The real node-fetch package as the SDK's fetch: its Response.body has no getReader(), and a
    // clone that is never read would stall the caller's copy.
    const nodeFetch = (await import('node-fetch')).default as unknown as typeof fetch;
    const openai = wrap(new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0, fetch: nodeFetch }));
    const content = jsonl(Array.from({ length: 3000 }, (_, i) => outputLine(9000 + i, `nf-${i}`, chatCompletion(MINI, chatUsageBody({ prompt: 100, completion: 10 })))));
    expect(content.length).toBeGreaterThan(1_000_000);
    script.files.set('file-nf-1', content);
    expect(await (await openai.files.content('file-nf-1')).text()).toBe(content);
    await quiet();
    expect(h.sink.calls).toEqual([]);
  });

  it('a file over 64 MiB is left alone, with a warning naming importBatchResults (the tee would buffer it for the caller)', async () => {
    const openai = wrap(client());
    const line = JSON.stringify(outputLine(9999, 'big-0', chatCompletion(MINI, chatUsageBody({ prompt: 100, completion: 10 }))));
    const big = (line + '\n').repeat(Math.ceil((64 * 1024 * 1024 + 1) / (line.length + 1)));
    script.files.set('file-big-1', big);
    expect(await (await openai.files.content('file-big-1')).text()).toHaveLength(big.length);
    await quiet();
    expect(h.sink.calls).toEqual([]);
    expect(h.warnings).toEqual([`Kostrack did not read batch file file-big-1 (${Buffer.byteLength(big)} bytes, over 67108864); record its results with importBatchResults()`]);
  });
});

describe('importBatchResults()', () => {
  const lines = [outputLine(501, 'only', chatCompletion(MINI, chatUsageBody({ prompt: 1000, completion: 50 })))];
  // 1000 in × $0.075 = $0.000075; 50 out × $0.30 = $0.000015
  const COST = sum(atMtok(1000, '0.075'), atMtok(50, '0.30'));

  it('a batch created in this process: its results land in the creating trace, with its tags', async () => {
    const openai = wrap(client(), { tags: { team: 'ledger' } });
    script.nextId = 'batch_6';
    let creator: TraceContext | undefined;
    await trace({ name: 'submit', tags: { job: 'nightly' } }, async (t) => {
      creator = t;
      await openai.batches.create(createBody('/v1/chat/completions'), withTags({ step: 'classify' }));
    });
    // Results downloaded by some job, imported with the batch id.
    expect(importBatchResults(jsonl(lines), { batchId: 'batch_6', tags: { source: 'job' } })).toEqual({ recorded: 1, errors: 0, skipped: 0, duplicates: 0 });
    const row = h.only();
    expect(row).toMatchObject({ traceId: creator!.traceId, operation: 'batches.chat.completions.create', pricingSource: 'batch', costUsd: COST });
    expect(row.tags).toEqual({ team: 'ledger', job: 'nightly', step: 'classify', source: 'job', span_name: 'submit' });
    expect(row.metadata).toEqual({ batch_id: 'batch_6', custom_id: 'only', request_id: 'req_501' });
    expect(creator!.totalCost).toBe(COST);
    // Imported twice: recorded once.
    expect(importBatchResults(jsonl(lines), { batchId: 'batch_6' })).toEqual({ recorded: 0, errors: 0, skipped: 0, duplicates: 1 });
    expect(creator!.totalCost).toBe(COST);
  });

  it('an unknown batch id: no trace (not even the active one), the batch id kept', async () => {
    const other = [outputLine(601, 'only', chatCompletion(MINI, chatUsageBody({ prompt: 1000, completion: 50 })))];
    let active: TraceContext | undefined;
    const result = trace({ name: 'importer' }, (t) => {
      active = t;
      return importBatchResults(jsonl(other), { batchId: 'batch_from_elsewhere' });
    });
    expect(result).toEqual({ recorded: 1, errors: 0, skipped: 0, duplicates: 0 });
    expect(h.only()).toMatchObject({ traceId: null, costUsd: COST, metadata: { batch_id: 'batch_from_elsewhere', custom_id: 'only', request_id: 'req_601' } });
    expect(active!.callCount).toBe(0);
  });

  it('an explicit trace wins; garbage lines are skipped and counted', async () => {
    const some = [outputLine(701, 'x', chatCompletion(MINI, chatUsageBody({ prompt: 1000, completion: 50 })))];
    const text = ['garbage', '{"not":"a result"}', '', JSON.stringify(some[0]), '[1,2]', ''].join('\n');
    let target: TraceContext | undefined;
    await trace({ name: 'target' }, async (t) => {
      target = t;
    });
    expect(importBatchResults(text, { trace: target })).toEqual({ recorded: 1, errors: 0, skipped: 3, duplicates: 0 });
    expect(h.only()).toMatchObject({ traceId: target!.traceId, costUsd: COST });
    expect(h.only().metadata).toEqual({ custom_id: 'x', request_id: 'req_701' });
  });

  it('lines without an id (OpenAI-compatible servers): read through files.content, then imported without batchId, recorded once', async () => {
    // A server that leaves out the line's `id`: the span id cannot come from how the file was read
    // (batch id through files.content, nothing through a bare import), only from the line itself.
    const withoutId = ({ id: _id, ...rest }: { id: string }) => rest;
    const content = jsonl([
      withoutId(outputLine(801, 'req-a', chatCompletion(MINI, chatUsageBody({ prompt: 2000, completion: 300, cached: 1500 })))),
      withoutId(outputLine(802, 'req-b', chatCompletion(MINI, chatUsageBody({ prompt: 1000, completion: 50 })))),
      withoutId(errorLine(803, 'late', 'batch_expired', 'This request could not be executed before the completion window expired.')),
    ]);
    const openai = wrap(client());
    script.nextId = 'batch_8';
    script.files.set('file-out-8', content);
    let creator: TraceContext | undefined;
    await trace({ name: 'compatible' }, async (t) => {
      creator = t;
      await openai.batches.create(createBody('/v1/chat/completions'));
    });
    script.batches.set('batch_8', batchObject('batch_8', '/v1/chat/completions', 'completed', { output_file_id: 'file-out-8' }));
    await openai.batches.retrieve('batch_8');
    expect(await (await openai.files.content('file-out-8')).text()).toBe(content);
    await settle(h.sink, 3);
    expect(h.sink.calls.map((c) => [c.metadata.custom_id, c.status, c.costUsd])).toEqual([
      ['req-a', 'ok', COST_A],
      ['req-b', 'ok', COST_B],
      ['late', 'error', 0n],
    ]);
    // $0.00018375 + $0.00009 = $0.00027375 in the creating trace.
    expect(creator!.totalCostDecimal).toBe('0.00027375');

    // The same text imported by a job that does not pass the batch id, then with it: nothing new.
    expect(importBatchResults(content)).toEqual({ recorded: 0, errors: 0, skipped: 0, duplicates: 3 });
    expect(importBatchResults(content, { batchId: 'batch_8' })).toEqual({ recorded: 0, errors: 0, skipped: 0, duplicates: 3 });
    expect(h.sink.calls).toHaveLength(3);
    expect(creator!.totalCostDecimal).toBe('0.00027375');

    // Another process importing it without the batch id: the same span ids (storage keeps the first).
    const first = h.sink.calls.map((c) => c.spanId);
    vi.resetModules();
    const other = await import('../../lib/providers/index.js');
    expect(other.importBatchResults(content)).toEqual({ recorded: 2, errors: 1, skipped: 0, duplicates: 0 });
    expect(h.sink.calls.slice(3).map((c) => c.spanId)).toEqual(first);
  });

  it('arguments of the wrong type throw KostrackConfigError', () => {
    const bad: [unknown, unknown][] = [
      [42, undefined],
      [Buffer.from('{}'), undefined],
      [null, undefined],
      ['', null],
      ['', 'batch_1'],
      ['', { batchId: 7 }],
      ['', { batchId: '' }],
      ['', { provider: 'nope' }],
      ['', { priceBook: {} }],
      ['', { trace: { traceId: 'x' } }],
      ['', { tags: { a: { nested: true } } }],
      ['', { batch: 'batch_1' }],
    ];
    for (const [jsonlArg, options] of bad)
      expect(() => importBatchResults(jsonlArg as string, options as never), JSON.stringify([jsonlArg, options])).toThrow(KostrackConfigError);
    expect(() => importBatchResults(42 as never)).toThrow('importBatchResults(jsonl, options): jsonl must be the file\'s text (a string), got number');
    expect(() => importBatchResults('', { batch: 'x' } as never)).toThrow('importBatchResults(): unknown option "batch"; expected batchId, provider, priceBook, trace, tags');
    expect(h.sink.calls).toEqual([]);
  });
});

describe('openai Batch API: other endpoints', () => {
  it('a /v1/responses batch (learned from the second page of batches.list) and an embeddings file never announced, at batch prices', async () => {
    const openai = wrap(client());
    // Responses: 3000 in of which 1000 cached, 400 out, gpt-4.1-mini at batch rates:
    // 2000 × $0.20 = $0.0004; 1000 × $0.05 = $0.00005; 400 × $0.80 = $0.00032 → $0.00077
    const responsesCost = sum(atMtok(2000, '0.20'), atMtok(1000, '0.05'), atMtok(400, '0.80'));
    expect(usdToString(responsesCost)).toBe('0.00077');
    // Embeddings: 50,000 in × $0.01 = $0.0005
    const embeddingsCost = atMtok(50_000, '0.01');
    expect(usdToString(embeddingsCost)).toBe('0.0005');

    script.nextId = 'batch_8';
    let creator: TraceContext | undefined;
    await trace({ name: 'responses-batch' }, async (t) => {
      creator = t;
      await openai.batches.create(createBody('/v1/responses'));
    });
    script.files.set('file-out-8', jsonl([outputLine(801, 'r1', responseObject('gpt-4.1-mini-2025-04-14', responsesUsageBody({ input: 3000, output: 400, cached: 1000 })))]));
    script.files.set('file-out-9', jsonl([outputLine(901, 'e1', embeddingBody('text-embedding-3-small', 50_000, false))]));
    script.batches.clear();
    script.batches.set('batch_7', batchObject('batch_7', '/v1/chat/completions', 'in_progress'));
    script.batches.set('batch_8', batchObject('batch_8', '/v1/responses', 'completed', { output_file_id: 'file-out-8' }));
    // One batch a page: batch_8 comes on the second page, fetched by the SDK's auto-pagination.
    const listed: string[] = [];
    for await (const b of openai.batches.list({ limit: 1 })) listed.push(b.id);
    expect(listed).toEqual(['batch_7', 'batch_8']);
    expect(h.server.requests.filter((r) => r.method === 'GET').map((r) => r.path)).toEqual(['/v1/batches?limit=1', '/v1/batches?limit=1&after=batch_7']);

    await (await openai.files.content('file-out-8')).text();
    await settle(h.sink, 1);
    const responses = h.only();
    expect(responses).toMatchObject({
      operation: 'batches.responses.create',
      model: 'gpt-4.1-mini-2025-04-14',
      pricingSource: 'batch',
      costUsd: responsesCost,
      traceId: creator!.traceId,
      metadata: { batch_id: 'batch_8', custom_id: 'r1', output_file_id: 'file-out-8', request_id: 'req_801' },
    });
    expect(responses.tokenBreakdown).toEqual({ inputUncached: 2000, cacheRead: 1000, output: 400 });

    // Never seen in a retrieve or list: the body says what it is (a list of embeddings).
    h.sink.clear();
    await (await openai.files.content('file-out-9')).text();
    await settle(h.sink, 1);
    const embeddings = h.only();
    expect(embeddings).toMatchObject({
      operation: 'batches.embeddings.create',
      model: 'text-embedding-3-small',
      pricingSource: 'batch',
      inputTokens: 50_000,
      costUsd: embeddingsCost,
      traceId: null,
    });
    expect(embeddings.metadata).toEqual({ custom_id: 'e1', output_file_id: 'file-out-9', request_id: 'req_901' });
  });
});
