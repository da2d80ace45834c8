import 'reflect-metadata';
import { Injectable, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { describe, expect, it } from 'vitest';
import { KostrackConfigError } from '../../lib/core/index.js';
import { InjectLlmClient, KostrackModule } from '../../lib/nest/index.js';
import { chatUsageBody, openaiRoutes } from '../../loopback/openai.loopback.js';
import { atMtok, providerHarness, sum } from './provider-test.support.js';

const h = providerHarness((s) => openaiRoutes(s, { model: 'gpt-4o-2024-08-06', usage: chatUsageBody({ prompt: 1000, completion: 100 }) }));

class Config {
  get url() {
    return `${h.server.url}/v1`;
  }
}

@Injectable()
class Drafter {
  constructor(
    @InjectLlmClient('drafts') readonly openai: OpenAI,
    @InjectLlmClient('claude') readonly claude: Anthropic,
  ) {}
}

@Module({ providers: [Config], exports: [Config] })
class ConfigModule {}

describe('Nest: named clients in KostrackModule options', () => {
  it('injects typed tracked clients built by factories; prices overrides apply; client tags persist', async () => {
    const moduleRef = await Test.createTestingModule({
      imports: [
        ConfigModule,
        KostrackModule.forRoot({
          database: false,
          globalInterceptor: false,
          clientImports: [ConfigModule],
          prices: [{ provider: 'openai', model: 'gpt-4o-2024-08-06', input: '2', output: '8' }],
          clients: {
            drafts: { provider: 'openai', factory: (cfg: Config) => new OpenAI({ apiKey: 'sk', baseURL: cfg.url, maxRetries: 0 }), inject: [Config], tags: { client: 'drafts' } },
            claude: { provider: 'anthropic', factory: () => new Anthropic({ apiKey: 'k' }) },
          },
        }),
      ],
      providers: [Drafter],
    }).compile();
    const drafter = moduleRef.get(Drafter);
    expect(drafter.openai).toBeInstanceOf(OpenAI);
    expect(drafter.claude).toBeInstanceOf(Anthropic);
    await drafter.openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }] });
    expect(h.only()).toMatchObject({ tags: { client: 'drafts' }, pricingSource: 'override', costUsd: sum(atMtok(1000, '2'), atMtok(100, '8')) });
    await moduleRef.close();
  });

  it('bad client options fail at forRoot with KostrackConfigError', () => {
    expect(() => KostrackModule.forRoot({ database: false, clients: { x: { provider: 'openia', factory: () => ({}) } } })).toThrow(KostrackConfigError);
    expect(() => KostrackModule.forRoot({ database: false, clients: { x: {} as never } })).toThrow(/needs a factory/);
    expect(() => KostrackModule.forRoot({ database: false, clients: { 'bad name': { factory: () => ({}) } } })).toThrow(KostrackConfigError);
    expect(() => KostrackModule.forRoot({ database: false, prices: [{ provider: 'openai', model: 'x', input: 'free' }] })).toThrow(KostrackConfigError);
  });
});
