export { wrap } from './wrap.js';
export { withTags, type PerCallOptions } from './call-tags.js';
export type { WrapOptions, MetadataHook, RequestInfo } from './wrap-options.js';
export { importBatchResults, type ImportBatchResultsOptions, type ImportBatchResultsResult } from './openai.batch.js';
