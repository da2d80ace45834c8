export * from './kostrack.module.js';
export * from './kostrack.options.js';
export * from './trace.interceptor.js';
export * from './decorators/trace.decorator.js';
export * from './decorators/span.decorator.js';
export { KOSTRACK_OPTIONS } from './kostrack.module-definition.js';
export { DEFAULT_TRACE_ID_HEADER } from './kostrack.constants.js';
export { KostrackHealth } from './kostrack.health.js';
export { KostrackHealthIndicator, type KostrackHealthIndicatorResult } from './kostrack.health-indicator.js';
