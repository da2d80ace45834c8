import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A loopback TCP proxy in front of the test database, so a test can take "the database" away
 * (refuse and cut every connection) and bring it back on the same port.
 */
export class TcpProxy {
  private server: Server | null = null;
  private sockets = new Set<Socket>();
  private pairs = new Set<{ client: Socket; upstream: Socket }>();
  private stalled = false;
  port = 0;

  constructor(private readonly target: { host: string; port: number }) {}

  static forUrl(url: string): TcpProxy {
    const u = new URL(url);
    return new TcpProxy({ host: u.hostname, port: Number(u.port || 5432) });
  }

  /** The database URL with the proxy's port in place of the real one. */
  urlFor(url: string): string {
    const u = new URL(url);
    u.port = String(this.port);
    return u.toString();
  }

  async start(): Promise<void> {
    const server = createServer((client) => {
      const upstream = connect(this.target.port, this.target.host);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {
          client.destroy();
          upstream.destroy();
        });
      }
      const pair = { client, upstream };
      this.pairs.add(pair);
      client.on('close', () => this.pairs.delete(pair));
      if (!this.stalled) connectPair(pair);
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as { port: number }).port;
    this.server = server;
  }

  /**
   * Stops forwarding in both directions but keeps every connection open, new ones included: a
   * network stall, where the client sees no error at all, only silence, until {@link resume}.
   */
  stall(): void {
    this.stalled = true;
    for (const pair of this.pairs) {
      pair.client.unpipe(pair.upstream);
      pair.upstream.unpipe(pair.client);
      pair.client.pause();
      pair.upstream.pause();
    }
  }

  /** Forwards again, starting with what was held back during the stall. */
  resume(): void {
    this.stalled = false;
    for (const pair of this.pairs) connectPair(pair);
  }

  /**
   * Resets every open connection, both ways, with a TCP RST (no FIN, no goodbye from the server)
   * and keeps the port listening: a network blip or a load balancer dropping its flows.
   */
  reset(): void {
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
  }

  /** Closes the port and cuts every open connection: to the client, the database is gone. */
  async stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

function connectPair({ client, upstream }: { client: Socket; upstream: Socket }): void {
  client.pipe(upstream);
  upstream.pipe(client);
}
