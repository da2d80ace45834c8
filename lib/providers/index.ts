export { wrap } from './wrap.js';
export { withTags, type PerCallOptions } from './call-tags.js';
export type { WrapOptions, MetadataHook, RequestInfo } from './wrap-options.js';
