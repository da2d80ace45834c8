import OpenAI from 'openai';
import { describe, expect, it, vi } from 'vitest';
import { configureKostrack, KostrackBudgetExceededError, KostrackConfigError, span, trace, usd, usdToString, type CallRecord } from '../../lib/core/index.js';
import { PriceBook } from '../../lib/pricing/index.js';
import { Span, Trace } from '../../lib/nest/index.js';
import { wrap } from '../../lib/providers/index.js';
import { json } from '../../loopback/loopback.server.js';
import { chatUsageBody, openaiRoutes, type OpenAIScript } from '../../loopback/openai.loopback.js';
import { atMtok, providerHarness, sum } from '../providers/provider-test.support.js';

/*
 * Run budgets on the real `openai` SDK against the loopback.
 *
 * gpt-4o-mini per 1M tokens: input $0.15, output $0.60; no cache-write price, so the 5-minute write
 * rate OpenAI's bound always considers falls back to input ($0.15). Output limit 16,384; context
 * window 128,000.
 *
 * The request bound of `messages = [{ role: 'user', content: 'Say hello' }]` (request-bound.ts walk):
 *   array:   2 + 1 item                          =  3
 *   object:  key "role"    4 + 4 = 8, "user"      4 + 2 =  6
 *            key "content" 7 + 4 = 11, "Say hello" 9 + 2 = 11   → 36
 *   total 39 bytes; + 64 base tokens = 103 input tokens (max_tokens is not a walked field).
 * With max_tokens 5000:
 *   E = ceil((103 × 0.15 + 5000 × 0.60) / 1M) = (15.45 + 3000) µ$ = $0.00301545
 * The loopback answers prompt 90 / completion 5000, so each call settles at
 *   C = 90 × 0.15 + 5000 × 0.60 = (13.5 + 3000) µ$ = $0.0030135
 */
const E = '0.00301545';
const C = '0.0030135';
const MINI_USAGE = chatUsageBody({ prompt: 90, completion: 5000 });

const script: OpenAIScript = { model: 'gpt-4o-mini-2024-07-18', usage: MINI_USAGE };
const h = providerHarness((s) => openaiRoutes(s, script));
const rawClient = () => new OpenAI({ apiKey: 'sk-test', baseURL: `${h.server.url}/v1`, maxRetries: 0 });
const messages = [{ role: 'user' as const, content: 'Say hello' }];
const ask = (openai: OpenAI, extra: Partial<OpenAI.Chat.ChatCompletionCreateParamsNonStreaming> = {}) =>
  openai.chat.completions.create({ model: 'gpt-4o-mini', messages, max_tokens: 5000, ...extra });

function use(model: string, usage: unknown) {
  script.model = model;
  script.usage = usage;
}

/**
 * The refusal of `call`, which must fail with a KostrackBudgetExceededError. Called inside an async
 * function: a refused openai/anthropic `create()` throws synchronously today (tracked-method.ts
 * rethrows admission's error; gemini returns a rejected promise), so passing the promise itself,
 * `refusal(openai.chat.completions.create(...))`, would throw before reaching here.
 */
async function refusal(call: () => unknown): Promise<KostrackBudgetExceededError> {
  const error = await (async () => call())().then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KostrackBudgetExceededError);
  return error as KostrackBudgetExceededError;
}

const rows = (status: CallRecord['status']) => h.sink.calls.filter((c) => c.status === status);

function expectBlockedRow(row: CallRecord, error: KostrackBudgetExceededError) {
  expect(row).toMatchObject({ status: 'blocked', costUsd: 0n, pricingSource: 'blocked', pricingModel: null, errorClass: 'KostrackBudgetExceededError', inputTokens: 0, outputTokens: 0 });
  expect(row.metadata.budget).toEqual(error.budget);
}

describe('the bound and the prices behind E and C', () => {
  it('E and C by hand', () => {
    expect(usdToString(sum(atMtok(103, '0.15'), atMtok(5000, '0.60')))).toBe(E);
    expect(usdToString(sum(atMtok(90, '0.15'), atMtok(5000, '0.60')))).toBe(C);
  });
});

describe('a runaway loop', () => {
  it('is stopped at $0.05 before the 17th request is sent', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const openai = wrap(rawClient());
    let stopped: unknown;
    let attempts = 0;
    const root = await trace({ budget: '0.05' }, async (t) => {
      try {
        while (true) {
          attempts++;
          await ask(openai);
        }
      } catch (e) {
        stopped = e;
      }
      return t;
    });
    // Call k is admitted while E ≤ 0.05 − (k − 1) × C (nothing else in flight):
    //   k = 16: 0.05 − 15 × 0.0030135 = 0.05 − 0.0452025 = 0.0047975 ≥ 0.00301545 → sent
    //   k = 17: 0.05 − 16 × 0.0030135 = 0.05 − 0.048216  = 0.001784  < 0.00301545 → refused
    expect(attempts).toBe(17);
    expect(h.server.requests).toHaveLength(16);
    expect(stopped).toBeInstanceOf(KostrackBudgetExceededError);
    const error = stopped as KostrackBudgetExceededError;
    expect([error.limit, error.spent, error.reserved, error.estimate]).toEqual(['0.05', '0.048216', '0', E]);
    expect(error.budget).toEqual({
      scope: 'run',
      traceId: root.traceId,
      spanId: root.spanId,
      spanName: 'trace',
      limit: '0.05',
      spent: '0.048216',
      reserved: '0',
      estimate: E,
      remaining: '0.001784',
      provider: 'openai',
      model: 'gpt-4o-mini',
    });
    expect(error.message).toBe(
      'Kostrack budget of $0.05 on "trace" refused a call to openai/gpt-4o-mini: it may cost up to $0.00301545, $0.001784 is left ($0.048216 spent, $0 held by calls in flight)',
    );
    const ok = rows('ok');
    expect(ok).toHaveLength(16);
    expect(ok.every((r) => r.costUsd === usd(C))).toBe(true);
    // The trace total is exactly the 16 settled calls: 16 × 0.0030135 = 0.048216 ≤ 0.05.
    expect(root.totalCost).toBe(sum(...ok.map((r) => r.costUsd!)));
    expect(root.totalCostDecimal).toBe('0.048216');
    expect(root.totalCost <= usd('0.05')).toBe(true);
    expect(root.reserved).toBe(0n);
    const blocked = rows('blocked');
    expect(blocked).toHaveLength(1);
    expectBlockedRow(blocked[0], error);
    expect(blocked[0].traceId).toBe(root.traceId);
    expect(h.sink.calls).toHaveLength(17);
  });

  it('a finished call whose row is still deferred is counted as spent, not held (no false refusal)', async () => {
    // Limit 0.00603: after the first call, what is left is 0.00603 − 0.0030135 = 0.0030165 ≥ E.
    // The first call's row is built on the next turn; the second call starts before that turn. If
    // admission read the stale state it would see 0.00603 − 0 spent − E held = 0.00301455 < E.
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const openai = wrap(rawClient());
    await trace({ budget: '0.00603' }, async (t) => {
      await ask(openai);
      await ask(openai);
      expect(t.totalCostDecimal).toBe('0.006027');
      // A third: 0.00603 − 0.006027 = 0.000003 left.
      const error = await refusal(() => ask(openai));
      expect([error.spent, error.reserved, error.budget.remaining]).toEqual(['0.006027', '0', '0.000003']);
    });
    expect(h.server.requests).toHaveLength(2);
  });
});

describe('calls started together', () => {
  it('Promise.all of 10 under a budget of 3.5 estimates: 3 sent, 7 refused and blocked', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const openai = wrap(rawClient());
    // 3.5 × 0.00301545 = 0.010554075
    const limit = usdToString((usd(E) * 7n) / 2n);
    expect(limit).toBe('0.010554075');
    await trace({ budget: limit }, async (t) => {
      const results = await Promise.allSettled(Array.from({ length: 10 }, async () => ask(openai)));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled', ...Array(7).fill('rejected')]);
      // Admission is synchronous: calls 4..10 each saw 3 holds of E and nothing spent:
      //   0.010554075 − 3 × 0.00301545 = 0.010554075 − 0.00904635 = 0.001507725 < E
      for (const r of results.slice(3)) {
        const error = (r as PromiseRejectedResult).reason as KostrackBudgetExceededError;
        expect(error).toBeInstanceOf(KostrackBudgetExceededError);
        expect([error.spent, error.reserved, error.estimate, error.budget.remaining]).toEqual(['0', '0.00904635', E, '0.001507725']);
      }
      // 3 × 0.0030135 = 0.0090405 once the rows are in (reading a total drains them).
      expect(t.totalCostDecimal).toBe('0.0090405');
      expect(t.reserved).toBe(0n);
    });
    expect(h.server.requests).toHaveLength(3);
    expect(rows('ok')).toHaveLength(3);
    expect(rows('blocked')).toHaveLength(7);
  });
});

describe('a refusal is a rejected promise, not a throw', () => {
  it('create() called directly in Promise.allSettled: every refusal lands there; withResponse() and parse() of a refused call reject alike', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const openai = wrap(rawClient());
    const body = { model: 'gpt-4o-mini', max_tokens: 5000, messages: [{ role: 'user' as const, content: 'Say hello' }] };
    // 2.5 estimates: 2 fit, the other 3 are refused.
    await trace({ budget: usdToString((usd(E) * 5n) / 2n) }, async () => {
      const results = await Promise.allSettled(Array.from({ length: 5 }, () => openai.chat.completions.create(body)));
      expect(results.map((r) => r.status)).toEqual(['fulfilled', 'fulfilled', 'rejected', 'rejected', 'rejected']);
      for (const r of results.slice(2)) expect((r as PromiseRejectedResult).reason).toBeInstanceOf(KostrackBudgetExceededError);
      // The APIPromise methods and the SDK's parse() helper (built on _thenUnwrap) reject with the refusal too.
      await expect(openai.chat.completions.create(body).withResponse()).rejects.toBeInstanceOf(KostrackBudgetExceededError);
      await expect(openai.chat.completions.create(body).asResponse()).rejects.toBeInstanceOf(KostrackBudgetExceededError);
      await expect(openai.chat.completions.parse(body)).rejects.toBeInstanceOf(KostrackBudgetExceededError);
    });
    expect(h.server.requests).toHaveLength(2);
    expect(rows('blocked')).toHaveLength(6);
  });
});

describe('nested budgets', () => {
  it('a span budget larger than the trace remainder is limited by the trace; the refusal names the root', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const openai = wrap(rawClient());
    let error: KostrackBudgetExceededError | undefined;
    const root = await trace({ name: 'agent-run', budget: '0.01' }, async (t) => {
      await span('research', { budget: '0.05' }, async () => {
        try {
          while (true) await ask(openai);
        } catch (e) {
          error = e as KostrackBudgetExceededError;
        }
      });
      return t;
    });
    // Trace: k = 3: 0.01 − 2 × 0.0030135 = 0.003973 ≥ E; k = 4: 0.01 − 0.0090405 = 0.0009595 < E.
    // The span's own budget (0.05 − 0.0090405 = 0.0409595 left) would have allowed it.
    expect(h.server.requests).toHaveLength(3);
    expect(error).toBeInstanceOf(KostrackBudgetExceededError);
    expect(error!.budget).toMatchObject({ spanName: 'agent-run', spanId: root.spanId, traceId: root.traceId, limit: '0.01', spent: '0.0090405', reserved: '0', estimate: E, remaining: '0.0009595' });
    expect(rows('blocked')).toHaveLength(1);
    expect(rows('blocked')[0].tags.span_name).toBe('research');
  });

  it('a span budget smaller than the parent limits on its own; the trace keeps its room', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const openai = wrap(rawClient());
    await trace({ budget: '0.05' }, async (t) => {
      const spanError = await span('draft', { budget: '0.005' }, async (s) => {
        await ask(openai);
        // Span: 0.005 − 0.0030135 = 0.0019865 < E → refused by the span, not the trace.
        const e = await refusal(() => ask(openai));
        expect(e.budget).toMatchObject({ spanName: 'draft', spanId: s.spanId, limit: '0.005', spent: C, reserved: '0', remaining: '0.0019865' });
        return e;
      });
      expect(spanError.message).toContain('on "draft"');
      // The trace still has 0.05 − 0.0030135 = 0.0469865: a call outside the span goes through.
      await ask(openai);
      expect(t.totalCostDecimal).toBe('0.006027');
    });
    expect(h.server.requests).toHaveLength(2);
    expect(rows('blocked')).toHaveLength(1);
  });
});

describe('warn mode', () => {
  it('never blocks, lets the run exceed its limit, warns once per run', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const openai = wrap(rawClient());
    const budgetWarnings = () => h.warnings.filter((w) => w.startsWith('Kostrack budget'));
    const root = await trace({ budget: { limit: '0.005', mode: 'warn' } }, async (t) => {
      await ask(openai);
      // Call 2: 0.005 − 0.0030135 = 0.0019865 < E → warned, sent. Call 3: also over, not warned again.
      await ask(openai);
      await ask(openai);
      return t;
    });
    expect(h.server.requests).toHaveLength(3);
    expect(rows('blocked')).toHaveLength(0);
    // 3 × 0.0030135 = 0.0090405 > 0.005
    expect(root.totalCostDecimal).toBe('0.0090405');
    expect(root.reserved).toBe(0n);
    expect(budgetWarnings()).toEqual([
      'Kostrack budget of $0.005 on "trace" is exceeded by a call to openai/gpt-4o-mini: it may cost up to $0.00301545, $0.0019865 is left ($0.0030135 spent, $0 held by calls in flight); warn mode lets it through (warned once per run)',
    ]);
  });
});

describe('models without a price', () => {
  it('are refused under an enforced budget: the estimate is null and nothing is sent', async () => {
    use('acme-unknown-1', MINI_USAGE);
    const openai = wrap(rawClient());
    const error = await trace({ budget: '1' }, () => refusal(() => ask(openai, { model: 'acme-unknown-1' })));
    expect(error.estimate).toBeNull();
    expect(error.budget).toMatchObject({ limit: '1', spent: '0', reserved: '0', estimate: null, remaining: '1', model: 'acme-unknown-1' });
    expect(error.message).toBe('Kostrack budget of $1 on "trace" refused a call to openai/acme-unknown-1: the model has no price, so its cost cannot be bounded');
    expect(h.server.requests).toHaveLength(0);
    expectBlockedRow(h.only(), error);
  });

  it("go through with unpriced: 'allow'; the row is unpriced and nothing is held", async () => {
    use('acme-unknown-1', MINI_USAGE);
    const openai = wrap(rawClient());
    let heldInFlight: bigint | undefined;
    let root: { reserved: bigint } | undefined;
    h.server.route('POST', /\/chat\/completions$/, (_req, res) => {
      heldInFlight = root!.reserved;
      json(res, { id: 'x', object: 'chat.completion', created: 1, model: 'acme-unknown-1', choices: [{ index: 0, message: { role: 'assistant', content: 'Hi', refusal: null }, finish_reason: 'stop', logprobs: null }], usage: MINI_USAGE });
    });
    await trace({ budget: { limit: '1', unpriced: 'allow' } }, async (t) => {
      root = t;
      await ask(openai, { model: 'acme-unknown-1' });
      expect(t.unpricedCallCount).toBe(1);
    });
    expect(h.server.requests).toHaveLength(1);
    expect(heldInFlight).toBe(0n);
    expect(h.only()).toMatchObject({ status: 'ok', costUsd: null, pricingSource: 'unpriced', model: 'acme-unknown-1' });
  });
});

describe('reservations are given back', () => {
  it('on an HTTP 500: an error row, nothing held, and the next call fits a budget of exactly one estimate', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const openai = wrap(rawClient());
    let heldInFlight: bigint | undefined;
    let root: { reserved: bigint } | undefined;
    h.server.route('POST', /\/chat\/completions$/, (_req, res) => {
      heldInFlight = root!.reserved;
      json(res, { error: { message: 'boom', type: 'server_error' } }, 500);
    });
    await trace({ budget: E }, async (t) => {
      root = t;
      await expect(ask(openai)).rejects.toBeInstanceOf(OpenAI.InternalServerError);
      // While the request was at the server it held E; the error row gave it back.
      expect(heldInFlight).toBe(usd(E));
      expect(t.reserved).toBe(0n);
      expect(t.totalCost).toBe(0n);
      h.server.reset(h.server.routeCount - 1);
      // 0.00301545 − 0 spent − 0 held = E: fits exactly.
      await ask(openai);
      expect(t.totalCostDecimal).toBe(C);
    });
    expect(h.sink.calls.map((c) => [c.status, c.errorClass, c.costUsd])).toEqual([
      ['error', 'InternalServerError', 0n],
      ['ok', null, usd(C)],
    ]);
  });

  it('without max_tokens, gpt-4o-mini is bounded by its output limit of 16,384', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const openai = wrap(rawClient());
    // (103 × 0.15 + 16,384 × 0.60) / 1M = (15.45 + 9,830.4) µ$ = $0.00984585
    expect(usdToString(sum(atMtok(103, '0.15'), atMtok(16_384, '0.60')))).toBe('0.00984585');
    const error = await trace({ budget: '0.0098458' }, () => refusal(() => openai.chat.completions.create({ model: 'gpt-4o-mini', messages })));
    expect([error.estimate, error.budget.remaining]).toEqual(['0.00984585', '0.0098458']);
    expect(h.server.requests).toHaveLength(0);
    // A budget of exactly the estimate admits it.
    await trace({ budget: '0.00984585' }, () => openai.chat.completions.create({ model: 'gpt-4o-mini', messages }));
    expect(h.server.requests).toHaveLength(1);
  });

  it('without max_tokens, a model with no known output limit is bounded by its context window', async () => {
    // codex-mini-latest: $1.50 in / $6.00 out per 1M, context window 200,000, no output limit in model-limits.ts.
    use('codex-mini-latest', MINI_USAGE);
    const openai = wrap(rawClient());
    // (103 × 1.50 + 200,000 × 6.00) / 1M = (154.5 + 1,200,000) µ$ = $1.2001545
    expect(usdToString(sum(atMtok(103, '1.50'), atMtok(200_000, '6.00')))).toBe('1.2001545');
    const error = await trace({ budget: '1.2' }, () => refusal(() => openai.chat.completions.create({ model: 'codex-mini-latest', messages })));
    expect([error.estimate, error.budget.remaining, error.budget.model]).toEqual(['1.2001545', '1.2', 'codex-mini-latest']);
    expect(h.server.requests).toHaveLength(0);
  });
});

describe('bad budgets', () => {
  const cases: [string, () => unknown, string][] = [
    ["trace({ budget: '-1' })", () => trace({ budget: '-1' }, body), 'trace: budget limit must not be negative, got "-1"'],
    ["trace({ budget: 'abc' })", () => trace({ budget: 'abc' }, body), `trace: budget limit must be a non-negative amount in USD like '0.50', got "abc"`],
    ["trace({ budget: { limit: '1', mode: 'x' } })", () => trace({ budget: { limit: '1', mode: 'x' as 'warn' } }, body), `trace: budget mode must be 'enforce' or 'warn', got "x"`],
    ["trace({ budget: { limit: '1', extra: 1 } })", () => trace({ budget: { limit: '1', extra: 1 } as never }, body), 'trace: budget has no option "extra" (limit, mode, unpriced)'],
    ["span('s', { budget: NaN })", () => span('s', { budget: NaN }, body), `span "s": budget limit must be a non-negative amount in USD like '0.50', got NaN`],
    ["trace({ budget: { limit: '1', unpriced: 'yes' } })", () => trace({ budget: { limit: '1', unpriced: 'yes' as 'allow' } }, body), `trace: budget unpriced must be 'refuse' or 'allow', got "yes"`],
  ];
  let ran = 0;
  function body() {
    ran++;
  }

  it.each(cases)('%s throws KostrackConfigError and runs nothing', (_label, call, message) => {
    ran = 0;
    let thrown: unknown;
    try {
      call();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(KostrackConfigError);
    expect((thrown as Error).message).toBe(message);
    expect(ran).toBe(0);
    expect(h.sink.calls).toHaveLength(0);
    expect(h.sink.spans).toHaveLength(0);
  });
});

describe('bad budgets on decorators', () => {
  // A decorator validates its budget when the class is defined (the app fails at import, not at the first call).
  const cases: [string, () => unknown, string][] = [
    [
      "@Trace({ budget: '-1' })",
      () => {
        class Agent {
          @Trace({ budget: '-1' })
          run() {}
        }
        return Agent;
      },
      'trace: budget limit must not be negative, got "-1"',
    ],
    [
      "@Span('x', { budget: 'abc' })",
      () => {
        class Agent {
          @Span('x', { budget: 'abc' })
          step() {}
        }
        return Agent;
      },
      `span "x": budget limit must be a non-negative amount in USD like '0.50', got "abc"`,
    ],
    [
      "@Trace({ budget: { limit: '1', mode: 'strict' } })",
      () => {
        class Agent {
          @Trace({ budget: { limit: '1', mode: 'strict' as 'warn' } })
          run() {}
        }
        return Agent;
      },
      `trace: budget mode must be 'enforce' or 'warn', got "strict"`,
    ],
  ];

  it.each(cases)('%s throws KostrackConfigError when the class is defined', (_label, define, message) => {
    let thrown: unknown;
    try {
      define();
    } catch (e) {
      thrown = e;
    }
    expect(thrown).toBeInstanceOf(KostrackConfigError);
    expect((thrown as Error).message).toBe(message);
  });
});

describe('a budget never breaks an untracked call', () => {
  it('an unwrapped client inside a budget of 0 works normally and records nothing', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const res = await trace({ budget: '0' }, () => ask(rawClient()));
    expect(res.choices[0].message.content).toBe('Hello!');
    expect(h.server.requests).toHaveLength(1);
    expect(h.sink.calls).toHaveLength(0);
  });

  it('a wrapped client with Kostrack disabled is never blocked; re-enabled, the same budget blocks', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const openai = wrap(rawClient());
    await trace({ budget: '0' }, async () => {
      configureKostrack({ enabled: false });
      try {
        const res = await ask(openai);
        expect(res.choices[0].message.content).toBe('Hello!');
      } finally {
        configureKostrack({ enabled: true });
      }
      // 0 − 0 − 0 = 0 < E
      await refusal(() => ask(openai));
    });
    expect(h.server.requests).toHaveLength(1);
    expect(h.sink.calls.map((c) => c.status)).toEqual(['blocked']);
  });
});

describe('with no budget anywhere', () => {
  it('admission does no work: worstCase is never asked', async () => {
    use('gpt-4o-mini-2024-07-18', MINI_USAGE);
    const priceBook = new PriceBook();
    const worstCase = vi.spyOn(priceBook, 'worstCase');
    const openai = wrap(rawClient(), { priceBook });
    await ask(openai);
    await trace(() => ask(openai));
    await trace({ name: 'outer' }, () => span('inner', () => ask(openai)));
    expect(worstCase).not.toHaveBeenCalled();
    expect(h.sink.calls.map((c) => c.costUsd)).toEqual([usd(C), usd(C), usd(C)]);
    // The control: under a budget the same client asks once per call.
    await trace({ budget: '1' }, () => ask(openai));
    expect(worstCase).toHaveBeenCalledTimes(1);
    expect(worstCase.mock.results[0].value).toBe(usd(E));
  });
});
