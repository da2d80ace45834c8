import Anthropic from '@anthropic-ai/sdk';
import { type DynamicModule, Module } from '@nestjs/common';
import OpenAI from 'openai';
import { KostrackModule } from '../lib/index.js';
import type { ProviderEndpoints } from './provider.config.js';
import { WorkflowsController } from './workflows.controller.js';
import { InvoicePipeline } from './workflows/invoice-pipeline.service.js';
import { MonthEndClose } from './workflows/month-end-close.service.js';
import { RunawayAgent } from './workflows/runaway-agent.service.js';
import { Assistant } from './workflows/assistant.service.js';

export interface SampleAppConfig {
  endpoints: ProviderEndpoints;
  /** PostgreSQL URL; undefined = Kostrack's embedded database in ./.kostrack. */
  databaseUrl: string | undefined;
  schema: string | undefined;
  adminApiKey: string;
}

@Module({})
export class AppModule {
  static forRoot(config: SampleAppConfig): DynamicModule {
    const { endpoints: e } = config;
    return {
      module: AppModule,
      imports: [
        KostrackModule.forRoot({
          serviceId: 'sample-app',
          tags: { project: 'openmanagr' },
          database: config.databaseUrl,
          // Without DATABASE_URL the embedded database, on purpose (so also under NODE_ENV=production).
          embedded: true,
          schema: config.schema,
          admin: { enabled: true, apiKey: config.adminApiKey },
          // The user a request is for (here a header; in an app, your auth's user id).
          requestTags: (ctx) => {
            const user = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers['x-user-id'];
            return user ? { user_id: user } : undefined;
          },
          // Each user may spend $0.002 a day on the assistant, across every replica of the app.
          budgets: [{ name: 'assistant-per-user-day', scope: 'user_id', period: 'day', limit: '0.002', alerts: [80, 100] }],
          clients: {
            claude: { provider: 'anthropic', factory: () => new Anthropic({ apiKey: e.anthropic.apiKey, baseURL: e.anthropic.baseURL, maxRetries: 2 }) },
            openai: { provider: 'openai', factory: () => new OpenAI({ apiKey: e.openai.apiKey, baseURL: e.openai.baseURL, maxRetries: 2 }) },
            deepseek: { provider: 'deepseek', factory: () => new OpenAI({ apiKey: e.deepseek.apiKey, baseURL: e.deepseek.baseURL, maxRetries: 2 }) },
          },
        }),
      ],
      controllers: [WorkflowsController],
      providers: [InvoicePipeline, MonthEndClose, RunawayAgent, Assistant],
    };
  }
}
