import { outgoingTraceHeaders } from './outgoing-headers.js';

/** The part of an axios instance (or Nest `HttpService.axiosRef`) this needs; axios stays optional. */
export interface AxiosLike {
  interceptors: {
    request: {
      use(onFulfilled: (config: any) => any): number;
      eject(id: number): void;
    };
  };
}

/**
 * Adds the active trace's `traceparent`/`tracestate` to every request of an axios instance:
 * `propagateTrace(httpService.axiosRef)` in a Nest provider, or `propagateTrace(axios)`.
 * The headers are read per request (axios runs request interceptors in the caller's async
 * context), so concurrent traces never swap headers. Returns a function that removes it.
 */
export function propagateTrace(instance: AxiosLike): () => void {
  const id = instance.interceptors.request.use((config: { headers?: any }) => {
    const headers = outgoingTraceHeaders();
    if (!('traceparent' in headers)) return config;
    config.headers ??= {};
    for (const [k, v] of Object.entries(headers)) {
      // axios 1.x headers are an AxiosHeaders object with set(); plain objects come from older code.
      if (typeof config.headers.set === 'function') config.headers.set(k, v);
      else config.headers[k] = v;
    }
    return config;
  });
  return () => instance.interceptors.request.eject(id);
}
