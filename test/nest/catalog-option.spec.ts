import 'reflect-metadata';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { findProvider } from '@pydantic/genai-prices';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KOSTRACK_PRICE_BOOK, KostrackConfigError, KostrackModule, PriceBook, usd, type KostrackModuleOptions } from '../../lib/index.js';

/** genai-prices' data.json shape, with gpt-4o repriced to $3 in / $12 out per Mtok (a "newer" catalog). */
function newerCatalog(): string {
  const openai = structuredClone(findProvider({ providerId: 'openai' })!);
  const gpt4o = openai.models.find((m) => m.id === 'gpt-4o')!;
  gpt4o.prices = { input_mtok: 3, output_mtok: 12 };
  return JSON.stringify([openai]);
}

async function bookOf(options: KostrackModuleOptions): Promise<{ book: PriceBook; close: () => Promise<void> }> {
  @Module({ imports: [KostrackModule.forRoot({ database: false, ...options })] })
  class AppModule {}
  const app = await (await Test.createTestingModule({ imports: [AppModule] }).compile()).createNestApplication({ logger: false }).init();
  return { book: app.get(KOSTRACK_PRICE_BOOK), close: () => app.close() };
}

describe('KostrackModule catalog option', () => {
  let server: Server;
  let url: string;
  const body = newerCatalog();
  beforeAll(async () => {
    server = createServer((req, res) => {
      if (req.url === '/data.json') res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      else res.writeHead(503).end('unavailable');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  // 1,000 input and 100 output tokens of gpt-4o: bundled $2.50/$10 → $0.0035; newer $3/$12 → $0.0042.
  const price = (book: PriceBook) => book.price('openai', 'gpt-4o-2024-08-06', { inputUncached: 1000, output: 100 }, 1000);

  it('a catalog file prices with its numbers and stores its version', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kostrack-catalog-'));
    writeFileSync(join(dir, 'data.json'), body);
    const { book, close } = await bookOf({ catalog: { file: join(dir, 'data.json') } });
    const p = price(book);
    expect(p.costUsd).toBe(usd('0.0042'));
    expect(p.catalogVersion).toMatch(/^file:data\.json@sha256:[0-9a-f]{12}\+corrections@\d{4}-\d{2}-\d{2}$/);
    // Providers the file lacks still come from the bundled catalog (claude-haiku-4-5: $1 / $5).
    expect(book.price('anthropic', 'claude-haiku-4-5', { inputUncached: 1000, output: 100 }, 1000).costUsd).toBe(usd('0.0015'));
    await close();
  });

  it('a catalog url is downloaded once at start', async () => {
    const { book, close } = await bookOf({ catalog: { url: `${url}/data.json` } });
    expect(price(book).costUsd).toBe(usd('0.0042'));
    expect(price(book).catalogVersion).toMatch(/^url:127\.0\.0\.1:\d+\/data\.json@sha256:/);
    await close();
  });

  it('a failed download starts on the bundled catalog', async () => {
    const { book, close } = await bookOf({ catalog: { url: `${url}/missing.json` } });
    expect(price(book).costUsd).toBe(usd('0.0035'));
    expect(price(book).catalogVersion).toMatch(/^genai-prices@\d+\.\d+\.\d+\+corrections@/);
    await close();
  });

  it('a missing or malformed file, or a bad url, fails the start with a clear error', async () => {
    await expect(bookOf({ catalog: { file: '/nonexistent/data.json' } })).rejects.toThrow(/catalog\.file \/nonexistent\/data\.json cannot be read: ENOENT/);
    const dir = mkdtempSync(join(tmpdir(), 'kostrack-catalog-'));
    writeFileSync(join(dir, 'bad.json'), '{"not": "an array"}');
    await expect(bookOf({ catalog: { file: join(dir, 'bad.json') } })).rejects.toThrow(KostrackConfigError);
    await expect(bookOf({ catalog: { url: 'ftp://example.com/x' } })).rejects.toThrow(/catalog\.url must be an http\(s\) URL/);
    await expect(bookOf({ catalog: {} })).rejects.toThrow(/catalog needs a file or a url/);
  });
});
