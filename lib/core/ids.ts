import { randomUUID } from 'node:crypto';

/** The one id generator: UUID v4 for traces, spans and calls (the seed's schema types them UUID). */
export const newId: () => string = randomUUID;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID.test(value);
}

/** A 32-hex W3C trace id as a UUID, and back: the mapping is lossless. */
export function hexToUuid(hex: string): string {
  const h = hex.toLowerCase().padEnd(32, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export function uuidToHex(uuid: string): string {
  return uuid.replace(/-/g, '').toLowerCase();
}
