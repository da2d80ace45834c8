import { afterAll, afterEach, beforeAll } from 'vitest';
import { addSink, configureKostrack, MemorySink, usd, type CallRecord, type Usd } from '../../lib/core/index.js';
import { LoopbackServer } from '../../loopback/loopback.server.js';

/** Exact cost of `tokens` at a published price per million tokens (a decimal string), by hand. */
export function atMtok(tokens: number, perMtok: string): Usd {
  const units = usd(perMtok) * BigInt(tokens);
  if (units % 1_000_000n !== 0n) throw new Error('test price needs at most 9 decimals');
  return units / 1_000_000n;
}

export function sum(...amounts: Usd[]): Usd {
  return amounts.reduce((a, b) => a + b, 0n);
}

/** A loopback server, a MemorySink and captured warnings for one spec file. */
export function providerHarness(routes: (server: LoopbackServer) => void) {
  const server = new LoopbackServer();
  const sink = new MemorySink();
  const warnings: string[] = [];
  let removeSink = () => {};
  let defaults = 0;
  beforeAll(async () => {
    routes(server);
    defaults = server.routeCount;
    await server.start();
    removeSink = addSink(sink);
    configureKostrack({ enabled: true, warn: (m) => warnings.push(m) });
  });
  afterEach(() => {
    server.reset(defaults);
    sink.clear();
    warnings.length = 0;
  });
  afterAll(async () => {
    removeSink();
    await server.close();
  });
  return {
    server,
    sink,
    warnings,
    /** The one call recorded so far (fails when there are more or none). */
    only(): CallRecord {
      if (sink.calls.length !== 1) throw new Error(`expected exactly one recorded call, got ${sink.calls.length}`);
      return sink.calls[0];
    },
  };
}

/**
 * Waits until the sink has `n` calls (stream records land when the SDK finishes its cleanup).
 * The bound is only there so a call that never lands fails with a message rather than the test's
 * timeout: a loaded machine can take seconds to run the SDK's cleanup, and that is no failure.
 */
export async function settle(sink: MemorySink, n = 1, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (sink.calls.length < n) {
    if (Date.now() > end) throw new Error(`expected ${n} recorded call(s) within ${ms} ms, got ${sink.calls.length}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
