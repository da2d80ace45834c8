import { appendFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeItem, type TelemetryItem } from './record.codec.js';

/**
 * Rows PostgreSQL rejected, one JSON line each with the reason, so an operator can inspect, fix
 * and re-import them. Appends are synchronous: they are rare, and a dead letter must not be lost.
 */
export class DeadLetterFile {
  count = 0;
  lastAt: Date | null = null;

  constructor(readonly path: string) {}

  write(item: TelemetryItem, reason: { code: string | null; message: string }): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const at = new Date();
    appendFileSync(this.path, `{"at":"${at.toISOString()}","reason":${JSON.stringify(reason)},"item":${encodeItem(item)}}\n`);
    this.count++;
    this.lastAt = at;
  }

  /** A spool line that could not even be parsed, kept verbatim. */
  writeRaw(line: string, reason: { code: string | null; message: string }): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const at = new Date();
    appendFileSync(this.path, `{"at":"${at.toISOString()}","reason":${JSON.stringify(reason)},"raw":${JSON.stringify(line)}}\n`);
    this.count++;
    this.lastAt = at;
  }
}
