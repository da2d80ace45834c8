export * from './core/index.js';
export * from './nest/index.js';
export * from './pricing/index.js';
export * from './providers/index.js';
export * from './admin/index.js';
export * from './integrations/index.js';
export * from './storage/index.js';
