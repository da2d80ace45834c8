import { createServer } from 'node:net';

/** A database URL on a loopback port that refuses connections (bound, then closed): a database that is down. */
export async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return `postgresql://nobody@127.0.0.1:${port}/none`;
}
