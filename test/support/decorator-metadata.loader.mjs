// Runs TypeScript sources in a child process with Nest's decorator metadata (design:paramtypes),
// which tsx/esbuild do not emit: `node --import ./test/support/decorator-metadata.register.mjs app.ts`.
// Each file is transpiled on its own (the project is isolatedModules-clean), so start-up stays fast.
import { readFile } from 'node:fs/promises';
import ts from 'typescript';

const options = {
  module: ts.ModuleKind.ESNext,
  target: ts.ScriptTarget.ES2022,
  experimentalDecorators: true,
  emitDecoratorMetadata: true,
  useDefineForClassFields: false,
  inlineSourceMap: true,
};

export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (error) {
    // Sources import `./x.js`; on disk it is `./x.ts`.
    const relative = specifier.startsWith('.') || specifier.startsWith('file:');
    if (relative && specifier.endsWith('.js')) return next(specifier.slice(0, -3) + '.ts', context);
    throw error;
  }
}

export async function load(url, context, next) {
  if (!url.startsWith('file:') || !url.endsWith('.ts') || url.includes('/node_modules/')) return next(url, context);
  const source = await readFile(new URL(url), 'utf8');
  const { outputText } = ts.transpileModule(source, { fileName: new URL(url).pathname, compilerOptions: options });
  return { format: 'module', source: outputText, shortCircuit: true };
}
