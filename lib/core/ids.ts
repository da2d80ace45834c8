import { randomBytes } from 'node:crypto';

/*
 * Ids are UUID-formatted (the seed's schema types them UUID) but built from a random 94-bit
 * prefix plus a 28-bit counter: crypto.randomUUID() costs 130-270 ns here, a large share of the
 * whole trace+span+call budget. The prefix is redrawn whenever the counter wraps, so ids stay
 * unique across processes with the odds of random UUIDs. The counter stays a small integer
 * because V8 prints those in hex far faster than large ones.
 */
const COUNTER_LIMIT = 2 ** 28;
const PAD = '0000000';
let prefix = '';
let counter = 0;

function reseed(): void {
  const hex = randomBytes(16).toString('hex');
  // Version 4 and variant 10xx nibbles keep the ids valid v4 UUIDs for any validator.
  const variant = ((parseInt(hex[16], 16) & 0x3) | 0x8).toString(16);
  prefix = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 25)}`;
  counter = 0;
}
reseed();

/** The one id generator for traces, spans and calls. */
export function newId(): string {
  if (++counter >= COUNTER_LIMIT) reseed();
  const tail = counter.toString(16);
  return prefix + PAD.slice(tail.length) + tail;
}

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
