import { findProvider, type Provider } from '@pydantic/genai-prices';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configureKostrack, KostrackConfigError, usd } from '../../lib/core/index.js';
import { loadCatalogFile, loadCatalogUrl, type CatalogData } from '../../lib/pricing/catalog.data.js';
import { PriceBook } from '../../lib/pricing/index.js';

/**
 * A newer catalog loaded at start, in genai-prices' own data.json format (an array of providers).
 * The file is genai-prices' bundled OpenAI provider with gpt-4o re-priced to $2 / $1 cached / $8,
 * so a cost at those numbers can only come from the file.
 */
const BUNDLED = 'genai-prices@0.1.8+corrections@2026-11-30';
const CORRECTIONS = '+corrections@2026-11-30';
const U = { inputUncached: 10_000, cacheRead: 20_000, output: 1_000, reasoning: 500 };

function openaiWith(change: (p: Provider) => void): Provider[] {
  const openai = structuredClone(findProvider({ providerId: 'openai' })!);
  change(openai);
  return [openai];
}
const gpt4oAt = (prices: Record<string, unknown>) => (p: Provider) => {
  const m = p.models.find((x) => x.id === 'gpt-4o')!;
  m.prices = prices as never;
};
const NEW_GPT4O = openaiWith(gpt4oAt({ input_mtok: 2, cache_read_mtok: 1, output_mtok: 8, web_searches_kcount: 10, storage_searches_kcount: 2.5 }));
const sha12 = (text: string) => createHash('sha256').update(text).digest('hex').slice(0, 12);

const dir = mkdtempSync(join(tmpdir(), 'kostrack-catalog-'));
const write = (name: string, text: string) => {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
};
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('loadCatalogFile', () => {
  const text = JSON.stringify(NEW_GPT4O);
  let data: CatalogData;
  beforeAll(() => {
    data = loadCatalogFile(write('data.json', text));
  });

  it('prices with the file’s numbers, versioned by file name and content hash', () => {
    expect(data.version).toBe(`file:data.json@sha256:${sha12(text)}${CORRECTIONS}`);
    expect(data.version.startsWith('file:data.json@sha256:')).toBe(true);
    // gpt-4o from the file, $2 / $1 / $8: 10,000 × 2 + 20,000 × 1 + 1,500 × 8 = 20,000 + 20,000 + 12,000 = $52,000 per 1M → $0.052.
    expect(new PriceBook({ catalogData: data }).price('openai', 'gpt-4o-2024-08-06', U, 30_000)).toEqual({
      costUsd: usd('0.052'),
      pricingModel: 'genai-prices:gpt-4o',
      pricingSource: 'catalog',
      flags: null,
      catalogVersion: data.version,
    });
    // The bundled catalog still says $2.50 / $1.25 / $10: 0.025 + 0.025 + 0.015 = $0.065.
    expect(new PriceBook().price('openai', 'gpt-4o-2024-08-06', U, 30_000).costUsd).toBe(usd('0.065'));
  });

  it('providers absent from the file come from the bundled catalog; a provider in it is used whole', () => {
    const book = new PriceBook({ catalogData: data });
    // claude-sonnet-4-5 (bundled) $3 / $0.30 / $15: 0.03 + 0.006 + 0.0225 = $0.0585, with the bundled version.
    expect(book.price('anthropic', 'claude-sonnet-4-5', U, 30_000)).toEqual({
      costUsd: usd('0.0585'),
      pricingModel: 'genai-prices:claude-sonnet-4-5',
      pricingSource: 'catalog',
      flags: null,
      catalogVersion: BUNDLED,
    });
    // A model the file's OpenAI provider lacks is not looked up in the bundled one: unpriced.
    const without = new PriceBook({ catalogData: loadCatalogFile(write('no-mini.json', JSON.stringify(openaiWith((p) => (p.models = p.models.filter((m) => m.id !== 'gpt-4o-mini')))))) });
    expect(without.price('openai', 'gpt-4o-mini', U, 30_000)).toMatchObject({ costUsd: null, pricingSource: 'unpriced' });
  });

  it('Kostrack’s corrections and tier table apply to a loaded catalog too', () => {
    const book = new PriceBook({ catalogData: data });
    // ft:gpt-4o cached-input correction: 10,000 × 3.75 + 20,000 × 1.875 + 1,500 × 15 = 37,500 + 37,500 + 22,500 → $0.0975.
    expect(book.price('openai', 'ft:gpt-4o-2024-08-06:acme::abc', U, 30_000)).toMatchObject({ costUsd: usd('0.0975'), flags: null, catalogVersion: data.version });
    // gpt-5 priority from the tier table: 10,000 × 2.50 + 20,000 × 0.25 + 1,500 × 20 = 25,000 + 5,000 + 30,000 → $0.06.
    expect(book.price('openai', 'gpt-5', U, 30_000, { serviceTier: 'priority' })).toMatchObject({ costUsd: usd('0.06'), pricingSource: 'tier', catalogVersion: data.version });
  });

  it('a file price Kostrack cannot compile leaves that model unpriced with a warning; price() does not throw', () => {
    const warnings: string[] = [];
    configureKostrack({ warn: (m) => warnings.push(m) });
    // 1e21 per 1M passes genai-prices' own matcher but is no decimal Kostrack can hold exactly.
    const book = new PriceBook({ catalogData: loadCatalogFile(write('huge.json', JSON.stringify(openaiWith(gpt4oAt({ input_mtok: 1e21, output_mtok: 10 }))))) });
    expect(book.price('openai', 'gpt-4o', U, 30_000)).toEqual({ costUsd: null, pricingModel: null, pricingSource: 'unpriced', flags: null, catalogVersion: null });
    expect(warnings).toEqual([
      'Kostrack cannot use the catalog price of openai/gpt-4o: genai-prices:gpt-4o.inputUncached: price must be a non-negative decimal, got 1e+21',
      'Kostrack has no price for openai model "gpt-4o"; its calls are recorded as unpriced. Add it to the prices option.',
    ]);
    // The rest of the file still prices: gpt-4o-mini $0.15 / $0.075 / $0.60: 0.0015 + 0.0015 + 0.0009 = $0.0039.
    expect(book.price('openai', 'gpt-4o-mini', U, 30_000).costUsd).toBe(usd('0.0039'));
  });

  it('a fee price that prints in exponent form is read (1e-7 per 1,000 = $0.0000000001 per search)', () => {
    // JavaScript prints 1e-7 as "1e-7"; it used to become the string "1e-10", which no decimal parser reads, and throw.
    const book = new PriceBook({ catalogData: loadCatalogFile(write('tiny-fee.json', JSON.stringify(openaiWith(gpt4oAt({ input_mtok: 2, output_mtok: 8, web_searches_kcount: 1e-7 }))))) });
    // 1,000 × $2 per 1M = $0.002; 3 searches × $0.0000000001 = $0.0000000003.
    expect(book.price('openai', 'gpt-4o', { inputUncached: 1_000, webSearches: 3 }, 1_000)).toMatchObject({ costUsd: usd('0.0020000003'), flags: null });
  });

  it('a missing file, a directory, non-JSON and the wrong shape fail with KostrackConfigError and say why', () => {
    const missing = join(dir, 'nope.json');
    expect(() => loadCatalogFile(missing)).toThrow(KostrackConfigError);
    expect(() => loadCatalogFile(missing)).toThrow(`catalog.file ${missing} cannot be read: ENOENT`);
    expect(() => loadCatalogFile(dir)).toThrow(`catalog.file ${dir} cannot be read: EISDIR`);
    expect(() => loadCatalogFile('')).toThrow('catalog.file must be a path to a genai-prices data.json');
    const bad = write('bad.json', '{"providers": [');
    expect(() => loadCatalogFile(bad)).toThrow(KostrackConfigError);
    expect(() => loadCatalogFile(bad)).toThrow(/^catalog file:bad\.json is not JSON: /);
    const shape = "must be genai-prices' data.json: a non-empty array of providers";
    expect(() => loadCatalogFile(write('object.json', JSON.stringify({ providers: NEW_GPT4O })))).toThrow(`catalog file:object.json ${shape}`);
    expect(() => loadCatalogFile(write('empty.json', '[]'))).toThrow(`catalog file:empty.json ${shape}`);
    expect(() => loadCatalogFile(write('no-models.json', '[{"id":"openai"}]'))).toThrow('catalog file:no-models.json: provider [0] needs an id and a models array');
    expect(() => loadCatalogFile(write('null.json', '[null]'))).toThrow('catalog file:null.json: provider [0] needs an id and a models array');
  });

  it('PriceBook refuses catalogData that did not come from a loader', () => {
    expect(() => new PriceBook({ catalogData: {} as never })).toThrow('catalogData must come from loadCatalogFile() or loadCatalogUrl()');
  });
});

describe('loadCatalogUrl', () => {
  const body = JSON.stringify(NEW_GPT4O);
  let server: Server;
  let base = '';
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/data.json') res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      else if (req.url === '/broken') res.writeHead(500).end('oops');
      else if (req.url === '/html') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>');
      else if (req.url === '/hang') res.writeHead(200); // headers, then never a body
      else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  it('downloads a data.json and prices with it, versioned by host, path and content hash', async () => {
    const data = await loadCatalogUrl(`${base}/data.json`);
    expect(data.version).toBe(`url:${new URL(base).host}/data.json@sha256:${sha12(body)}${CORRECTIONS}`);
    // Same file as above: gpt-4o at $2 / $1 / $8 → $0.052.
    expect(new PriceBook({ catalogData: data }).price('openai', 'gpt-4o', U, 30_000)).toMatchObject({ costUsd: usd('0.052'), catalogVersion: data.version });
  });

  /** The KostrackConfigError a load fails with (any other error, or none, fails the test). */
  const failure = async (load: Promise<unknown>): Promise<string> => {
    const e = await load.then(
      () => null,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(KostrackConfigError);
    return (e as Error).message;
  };

  it('an HTTP error, a body that is not JSON, a bad URL, a refused connection and a stall fail with KostrackConfigError', async () => {
    expect(await failure(loadCatalogUrl(`${base}/broken`))).toBe(`catalog.url ${base}/broken answered HTTP 500`);
    expect(await failure(loadCatalogUrl(`${base}/missing`))).toBe(`catalog.url ${base}/missing answered HTTP 404`);
    expect(await failure(loadCatalogUrl(`${base}/html`))).toMatch(/^catalog url:127\.0\.0\.1:\d+\/html is not JSON: /);
    expect(await failure(loadCatalogUrl('not a url'))).toBe('catalog.url must be an http(s) URL, got "not a url"');
    expect(await failure(loadCatalogUrl('ftp://example.com/data.json'))).toBe('catalog.url must be an http(s) URL, got "ftp://example.com/data.json"');
    // fetch() itself only says "fetch failed"; the message names the cause.
    const closed = await closedPort();
    expect(await failure(loadCatalogUrl(`http://127.0.0.1:${closed}/data.json`))).toBe(`catalog.url http://127.0.0.1:${closed}/data.json could not be read: ECONNREFUSED`);
    // The headers arrive, the body never does: the timeout covers the body too.
    expect(await failure(loadCatalogUrl(`${base}/hang`, 100))).toBe(`catalog.url ${base}/hang could not be read: no answer within 100 ms`);
  });
});

/** A loopback port that refuses connections (bound, then closed). */
async function closedPort(): Promise<number> {
  const s = createNetServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
