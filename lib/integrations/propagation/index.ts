export { outgoingTraceHeaders, type TraceHeaders } from './outgoing-headers.js';
export { propagateTrace, type AxiosLike } from './axios.interceptor.js';
export { messageTraceHeaders, continueTrace } from './message-headers.js';
