/**
 * Compiled with `exactOptionalPropertyTypes` by test/types/exact-optional.spec.ts: an app with
 * that flag must be able to pass what it reads from the environment (`string | undefined`)
 * straight into Kostrack's options, as Nest apps commonly do.
 */
import OpenAI from 'openai';
import { KostrackModule, span, startKostrack, trace, wrap, type KostrackModuleOptions } from '@kostrack/nestjs';

const env = process.env;

export const options: KostrackModuleOptions = {
  database: env.DATABASE_URL,
  schema: env.KOSTRACK_SCHEMA,
  serviceId: env.KOSTRACK_SERVICE_ID,
  tags: { project: env.PROJECT },
  traceIdHeader: env.TRACE_HEADER,
  admin: { enabled: env.KOSTRACK_ADMIN === '1', apiKey: env.KOSTRACK_ADMIN_KEY, path: env.KOSTRACK_ADMIN_PATH },
  writer: { spoolDir: env.KOSTRACK_SPOOL_DIR, batchSize: undefined },
  embedded: { dataDir: env.KOSTRACK_DATA_DIR },
  budgetOptions: { timeoutMs: undefined },
  clients: { drafts: { provider: env.LLM_PROVIDER, factory: () => new OpenAI({ apiKey: env.OPENAI_API_KEY }), tags: { client: env.CLIENT } } },
};

export const module = KostrackModule.forRoot(options);
export const asyncModule = KostrackModule.forRootAsync({
  useFactory: () => ({ database: env.DATABASE_URL, admin: { apiKey: env.KOSTRACK_ADMIN_KEY } }),
  admin: { enabled: true, path: env.KOSTRACK_ADMIN_PATH },
});

export async function run(): Promise<void> {
  const handle = await startKostrack({ database: env.DATABASE_URL, schema: env.KOSTRACK_SCHEMA, serviceId: env.KOSTRACK_SERVICE_ID });
  const openai = wrap(new OpenAI({ apiKey: env.OPENAI_API_KEY }), { provider: env.LLM_PROVIDER, tags: { user_id: env.USER_ID } });
  await trace({ name: env.TRACE_NAME, traceId: env.TRACE_ID, budget: env.RUN_BUDGET, tags: { user_id: env.USER_ID } }, () =>
    span('draft', { budget: env.STEP_BUDGET }, () => openai.models.list()),
  );
  await handle.close();
}

// The flag is really on: without it this line would not be an error (and @ts-expect-error would be).
interface Strict {
  a?: string;
}
// @ts-expect-error undefined is not assignable to an optional property under exactOptionalPropertyTypes
export const strict: Strict = { a: undefined };
