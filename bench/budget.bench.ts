/**
 * Admission under a per-run budget, in process: what a tracked call pays before its request is
 * sent (bound the request from its JSON, price the worst case, check every budget up the span
 * tree, hold it; then give it back), side by side with the same call under no budget (one field
 * read) and the floor (a bigint comparison). Also the error of the request bound against a real
 * tokenizer (gpt-tokenizer's o200k_base, the encoding of gpt-4o and later): how much more than the
 * real input a bound holds.
 *
 * Run: `npx tsx bench/budget.bench.ts` (measures lib/ through tsx), or `npm run bench budget`.
 * Writes bench/results/budget.md.
 */
import { readFileSync } from 'node:fs';
import { countTokens } from 'gpt-tokenizer/encoding/o200k_base';
import { trace } from '../lib/core/index.js';
import { admitCall, releaseReservation } from '../lib/core/run-budget.js';
import type { TraceContext } from '../lib/core/trace-context.js';
import { PriceBook } from '../lib/pricing/index.js';
import { requestBound } from '../lib/providers/request-bound.js';
import { median, nsPerOp, writeReport } from './bench.report.js';

const RUNS = 7;
const OPTS = { iterations: 200_000, rounds: 7 };
const book = new PriceBook();

// An ordinary agent step: a system prompt, three turns, a tool, max_tokens set.
const params = {
  model: 'gpt-4o-mini',
  max_tokens: 800,
  messages: [
    { role: 'system', content: 'You are a careful accounting assistant. Answer with the figures only, in JSON.' },
    { role: 'user', content: 'Reconcile the October ledger against the bank statement and list the differences.' },
    { role: 'assistant', content: '{"differences": [{"account": "4010", "amount": "120.00"}]}' },
    { role: 'user', content: 'Explain the 4010 difference in one sentence.' },
  ],
  tools: [{ type: 'function', function: { name: 'lookup_invoice', description: 'Find an invoice by number', parameters: { type: 'object', properties: { number: { type: 'string' } }, required: ['number'] } } }],
};

const worst = () => {
  const b = requestBound(book, 'openai', 'chat.completions.create', 'gpt-4o-mini', params);
  return b ? book.worstCase('openai', 'gpt-4o-mini', b) : null;
};
const who = { provider: 'openai', model: 'gpt-4o-mini' };

let budgeted!: TraceContext;
let plain!: TraceContext;
trace({ name: 'bench', budget: '1000' }, (t) => (budgeted = t));
trace({ name: 'bench-plain' }, (t) => (plain = t));
// Nested twice inside the budgeted run, as an agent's step usually is.
let nested!: TraceContext;
trace({ name: 'bench', budget: '1000' }, (t) => {
  budgeted = t;
  trace({ name: 'step' }, (s) => trace({ name: 'tool' }, (u) => (nested = u ?? s)));
});

if (worst() === null) throw new Error('bench sanity check failed: the request has a bound');
const limit = 10n ** 18n;
const cases: { label: string; op: () => unknown }[] = [
  { label: 'per-run budget: bound + worst case + admit + release (nested 3 deep)', op: () => releaseReservation(admitCall(nested, worst, who)) },
  { label: 'per-run budget: admit + release only (worst case precomputed)', op: () => { const w = worst; releaseReservation(admitCall(budgeted, () => 123_456_789n, who)); return w; } },
  { label: 'no budget anywhere: admission is one field read', op: () => admitCall(plain, worst, who) },
  { label: 'floor: one bigint comparison', op: () => 123_456_789n <= limit },
];

const samples = cases.map(() => [] as number[]);
for (let run = 0; run < RUNS; run++) {
  for (let k = 0; k < cases.length; k++) {
    const i = (run + k) % cases.length;
    (globalThis as { gc?: () => void }).gc?.();
    samples[i].push(await nsPerOp(cases[i].op, OPTS));
  }
}
const medians = samples.map(median);
const fmt = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);

// The bound's error: texts of several kinds as one user message each.
const texts: [string, string][] = [
  ['English prose (README.md)', readFileSync(new URL('../README.md', import.meta.url), 'utf8').slice(0, 20_000)],
  ['TypeScript source (lib/pricing/price-book.ts)', readFileSync(new URL('../lib/pricing/price-book.ts', import.meta.url), 'utf8').slice(0, 20_000)],
  ['JSON data', JSON.stringify(Array.from({ length: 300 }, (_, i) => ({ id: i, account: 4000 + i, amount: (i * 13.37).toFixed(2), memo: `line ${i}` })))],
  ['German prose', 'Die Abstimmung des Oktoberbuchs mit dem Kontoauszug ergab drei Differenzen, die auf verspätete Buchungen zurückgehen. '.repeat(80)],
  ['Japanese prose', '十月の元帳を銀行明細と照合したところ、遅延した仕訳による差異が三件見つかりました。'.repeat(80)],
];
const errorRows = texts.map(([label, text]) => {
  const messages = [{ role: 'user', content: text }];
  const bound = requestBound(book, 'openai', 'chat.completions.create', 'gpt-4o', { model: 'gpt-4o', max_tokens: 1, messages })!.inputTokens;
  // A chat message costs its content's tokens plus about 4 for the role markers, and 3 prime the reply.
  const real = countTokens(text) + 4 + 3;
  return `| ${label} | ${real.toLocaleString('en')} | ${bound.toLocaleString('en')} | ${(bound / real).toFixed(2)}× |`;
});

const body = [
  `In process, warm, lib/ through tsx; ${RUNS} runs of ${OPTS.iterations.toLocaleString('en')} × ${OPTS.rounds} rounds, the cell the median run. The request: gpt-4o-mini chat, a system prompt, three turns, one tool, max_tokens 800.`,
  '',
  '| case | per call | each run, ns |',
  '|---|---|---|',
  ...cases.map((c, i) => `| ${c.label} | **${fmt(medians[i])}** | ${[...samples[i]].sort((a, b) => a - b).map((v) => v.toFixed(0)).join(', ')} |`),
  '',
  `Goal: under 1 µs per call for a per-run budget: ${fmt(medians[0])} (${medians[0] < 1000 ? 'met' : 'NOT met'}); ${(medians[0] / Math.max(medians[3], 0.1)).toFixed(0)}× the floor. A call under no budget pays ${fmt(medians[2])}.`,
  '',
  '### The request bound against a real tokenizer',
  '',
  'Input tokens of one user message: gpt-tokenizer (o200k_base, the encoding of gpt-4o and later) plus the chat template, against the bound Kostrack reserves (UTF-8 bytes of the request JSON + 64). The bound never undercounts on byte-level BPE tokenizers (each token is at least one byte); this is by how much it overcounts.',
  '',
  '| text | real input tokens | bound | bound ÷ real |',
  '|---|---|---|---|',
  ...errorRows,
].join('\n');
writeReport('budget', 'Budget admission: overhead per call and the request bound', body);
process.exit(0);
