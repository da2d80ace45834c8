// Only what needs no optional peer: OpenTelemetry and LangChain live at their own entry points
// (`@kostrack/nestjs/opentelemetry`, `@kostrack/nestjs/langchain`) so importing the library never
// requires @opentelemetry/api or @langchain/core.
export * from './propagation/index.js';
