import type { ArgumentsHost } from '@nestjs/common';

type RpcArgumentsHost = ReturnType<ArgumentsHost['switchToRpc']>;
import { remoteParentFrom, type RemoteParent } from '../core/traceparent.js';

/**
 * Where a microservice message carries the caller's `traceparent`, per transport. Duck-typed so
 * `@nestjs/microservices` stays optional: NATS `getHeaders()`, Kafka `getMessage().headers`,
 * RabbitMQ `getMessage().properties.headers`, MQTT 5 user properties, gRPC `Metadata`, and, for
 * transports without headers (TCP, Redis), `traceparent`/`tracestate` fields in the payload itself.
 */
export function rpcRemoteParent(rpc: RpcArgumentsHost): RemoteParent | undefined {
  const ctx = rpc.getContext() as Record<string, unknown> | undefined;
  for (const carrier of carriersOf(ctx)) {
    const found = remoteParentFrom(carrier);
    if (found) return found;
  }
  return remoteParentFrom(rpc.getData());
}

function* carriersOf(ctx: Record<string, unknown> | undefined): Generator<unknown> {
  if (!ctx || typeof ctx !== 'object') return;
  const call = (name: string): unknown => {
    const fn = ctx[name];
    try {
      return typeof fn === 'function' ? (fn as () => unknown).call(ctx) : undefined;
    } catch {
      return undefined;
    }
  };
  yield call('getHeaders');
  const message = call('getMessage') as { headers?: unknown; properties?: { headers?: unknown } } | undefined;
  yield message?.headers;
  yield message?.properties?.headers;
  yield (call('getPacket') as { properties?: { userProperties?: unknown } } | undefined)?.properties?.userProperties;
  // gRPC hands the Metadata object itself as the context.
  yield ctx;
}
