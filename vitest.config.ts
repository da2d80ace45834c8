import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Nest's DI reads design:paramtypes, so decorators must be the legacy kind with metadata.
  oxc: { decorator: { legacy: true, emitDecoratorMetadata: true } },
  // The examples import the package by name, as users do.
  resolve: { alias: { '@kostrack/nestjs': fileURLToPath(new URL('./lib/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.spec.ts', 'lib/**/*.spec.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Budget estimates in the tests are worked out by hand from the request's UTF-8 size; the
    // tokenizer path has its own spec (test/budgets/openai-tokenizer.spec.ts).
    env: { KOSTRACK_OPENAI_TOKENIZER: 'off' },
  },
});
