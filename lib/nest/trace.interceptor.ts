import { type CallHandler, type ExecutionContext, Inject, Injectable, type NestInterceptor, Optional } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { defer, mergeMap, type Observable } from 'rxjs';
import { runtime } from '../core/runtime.js';
import { openSpan, type SpanSpec } from '../core/span-lifecycle.js';
import { mergeTags, normalizeTags, type Tags } from '../core/tags.js';
import { parseTraceparent } from '../core/traceparent.js';
import { budgetScopeCheck } from './budget-scope.check.js';
import { observeInSpan } from './decorators/instrument-method.js';
import { KostrackStorageLifecycle } from './kostrack-storage.lifecycle.js';
import { rpcRemoteParent } from './rpc-remote-parent.js';
import { DEFAULT_TRACE_ID_HEADER, TRACE_METADATA } from './kostrack.constants.js';
import { KOSTRACK_OPTIONS } from './kostrack.module-definition.js';
import type { KostrackModuleOptions } from './kostrack.options.js';

type StoredSpec = Omit<SpanSpec, 'name'> & { name?: string };

interface HttpRequestLike {
  method?: string | undefined;
  url?: string | undefined;
  headers?: Record<string, string | string[] | undefined> | undefined;
  route?: { path?: string } | undefined;
  routeOptions?: { url?: string } | undefined;
}

/**
 * Opens one trace per request on controllers or routes marked with `@Trace()`: tagged with the
 * route and the `requestTags` resolver, continuing an incoming W3C `traceparent`, and returning
 * the trace id in a response header. Routes without `@Trace()` pass straight through.
 * Subclass and override the protected hooks to change naming, tags or id extraction.
 */
@Injectable()
export class TraceInterceptor implements NestInterceptor {
  constructor(
    @Inject(Reflector) private readonly reflector: Reflector,
    @Optional() @Inject(KOSTRACK_OPTIONS) private readonly options: KostrackModuleOptions = {},
    @Optional() @Inject(KostrackStorageLifecycle) private readonly storage?: KostrackStorageLifecycle,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (!runtime.enabled) return next.handle();
    const handler = context.getHandler();
    const stored =
      this.reflector.get<StoredSpec | undefined>(TRACE_METADATA, handler) ??
      this.reflector.get<StoredSpec | undefined>(TRACE_METADATA, context.getClass());
    if (!stored) return next.handle();

    const node = openSpan(this.specFor(context, stored));
    if (!node) return next.handle();
    node.openedFor = handler;
    const run = () => {
      this.exposeTraceId(context, node.traceId);
      // Nest binds the handler's async scope when handle() is called, so call it inside the span.
      return runtime.als.run(node, () => observeInSpan(node, next.handle()));
    };
    // A durable budget of the request's tags already used up: 402 before the handler runs (the
    // refused request is not recorded as a span). Null, decided in memory, when none applies.
    const check = budgetScopeCheck(this.storage, node.tags, node.serviceId, this.options.budgetOptions?.timeoutMs);
    return check ? defer(check).pipe(mergeMap(run)) : run();
  }

  /** The span to open for this request. */
  protected specFor(context: ExecutionContext, stored: StoredSpec): SpanSpec {
    const remote = this.options.acceptTraceparent === false ? undefined : this.remoteParent(context);
    return {
      ...stored,
      name: stored.name ?? `${context.getClass().name}.${context.getHandler().name}`,
      tags: mergeTags(this.routeTags(context), stored.tags, this.requestTags(context)),
      traceId: remote?.traceId,
      parentSpanId: remote?.parentSpanId ?? null,
    };
  }

  /** `route: "GET /invoices/:id"` for HTTP requests (Express and Fastify). */
  protected routeTags(context: ExecutionContext): Tags {
    if (context.getType() !== 'http') return {};
    const req = context.switchToHttp().getRequest<HttpRequestLike>();
    const path = req.route?.path ?? req.routeOptions?.url ?? req.url?.split('?')[0];
    return path && req.method ? { route: `${req.method} ${path}`.slice(0, 256) } : {};
  }

  /** Runs the user's resolver leniently: bad values are dropped with a warning, never thrown. */
  protected requestTags(context: ExecutionContext): Tags {
    const resolve = this.options.requestTags;
    if (!resolve) return {};
    try {
      return normalizeTags(resolve(context), 'lenient', (reason) => runtime.warn(`Kostrack dropped a request tag: ${reason}`));
    } catch (e) {
      runtime.warn(`Kostrack requestTags resolver threw: ${String(e)}`);
      return {};
    }
  }

  protected remoteParent(context: ExecutionContext) {
    // Microservice handlers continue the caller's trace from the message headers.
    if (context.getType() === 'rpc') return rpcRemoteParent(context.switchToRpc());
    if (context.getType() !== 'http') return undefined;
    const headers = context.switchToHttp().getRequest<HttpRequestLike>().headers ?? {};
    return parseTraceparent(headers.traceparent, headers.tracestate);
  }

  protected exposeTraceId(context: ExecutionContext, traceId: string): void {
    const header = this.options.traceIdHeader ?? DEFAULT_TRACE_ID_HEADER;
    if (header === false || context.getType() !== 'http') return;
    const res = context.switchToHttp().getResponse<{ header?: (k: string, v: string) => unknown; setHeader?: (k: string, v: string) => unknown }>();
    // Fastify's reply has header(); Express has both; a raw Node response only setHeader().
    if (typeof res.header === 'function') res.header(header, traceId);
    else res.setHeader?.(header, traceId);
  }
}
