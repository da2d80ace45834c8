import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { FaultPlan } from './fault.plan.js';

/** What the server received: tests assert on it (e.g. that Kostrack's tags never reach the provider). */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export type Responder = (req: ReceivedRequest, res: ServerResponse) => void | Promise<void>;

/**
 * A loopback HTTP server that answers like a provider. Routes match `METHOD path` by regex; the
 * last matching route wins, so a test can override a default for one case.
 */
export class LoopbackServer {
  readonly requests: ReceivedRequest[] = [];
  private routes: { method: string; path: RegExp; respond: Responder }[] = [];
  private server: Server | undefined;
  url = '';
  /** Attempts to fail before the routes answer (see fault.plan.ts); cleared by {@link reset}. */
  faults: FaultPlan | undefined;

  route(method: string, path: RegExp, respond: Responder): this {
    this.routes.push({ method, path, respond });
    return this;
  }

  /** Removes routes added after the defaults (call in afterEach). */
  reset(keep: number): void {
    this.routes.length = keep;
    this.requests.length = 0;
    this.faults = undefined;
  }

  get routeCount(): number {
    return this.routes.length;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => void this.handle(req, res));
    this.server.keepAliveTimeout = 60_000;
    // Tests open up to 1,000 connections at once (several processes' calls to one server). With
    // Node's default listen backlog (511), a busy event loop lets the kernel's accept queue
    // overflow, and connections it drops come back to the client as ECONNRESET; the kernel caps
    // this at net.core.somaxconn (4096 by default).
    await new Promise<void>((resolve) => this.server!.listen({ port: 0, host: '127.0.0.1', backlog: 2048 }, resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // Not JSON: keep the text.
    }
    const received: ReceivedRequest = { method: req.method ?? 'GET', path: req.url ?? '/', headers: req.headers, body };
    this.requests.push(received);
    if (this.faults?.take(received, res)) return;
    for (let i = this.routes.length - 1; i >= 0; i--) {
      const r = this.routes[i];
      if (r.method === received.method && r.path.test(received.path)) {
        await r.respond(received, res);
        return;
      }
    }
    json(res, { error: { message: `no route for ${received.method} ${received.path}` } }, 404);
  }
}

export function json(res: ServerResponse, body: unknown, status = 200, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export interface SseOptions {
  /** Send this many events, then destroy the socket (a connection dropped mid-stream). */
  dropAfter?: number;
  /** Trailer line after the events, e.g. `data: [DONE]` for OpenAI chat. */
  done?: string;
  /** Milliseconds between events (lets a test break out while the server is still sending). */
  gapMs?: number;
}

/** Server-sent events: `{ event?, data }` items, written the way each provider frames them. */
export async function sse(res: ServerResponse, events: { event?: string; data: unknown }[], options: SseOptions = {}): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
  res.flushHeaders();
  let sent = 0;
  for (const e of events) {
    if (options.dropAfter !== undefined && sent === options.dropAfter) {
      // Let the client receive the headers and the first events before the connection dies.
      await new Promise((r) => setTimeout(r, 50));
      res.socket?.destroy();
      return;
    }
    if (res.destroyed) return;
    res.write(`${e.event ? `event: ${e.event}\n` : ''}data: ${JSON.stringify(e.data)}\n\n`);
    sent++;
    if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
  }
  if (options.done) res.write(`${options.done}\n\n`);
  res.end();
}

/** Never answers: for timeout tests. */
export function hang(): Responder {
  return () => undefined;
}
