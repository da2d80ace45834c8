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
  },
});
