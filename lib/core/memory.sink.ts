import type { CallRecord, SpanRecord, TelemetrySink } from './call-record.js';

/** Keeps everything in arrays; for tests and scripts that read results in-process. */
export class MemorySink implements TelemetrySink {
  readonly calls: CallRecord[] = [];
  readonly spans: SpanRecord[] = [];

  recordCall(call: CallRecord): void {
    this.calls.push(call);
  }

  recordSpan(span: SpanRecord): void {
    this.spans.push(span);
  }

  callsOf(traceId: string): CallRecord[] {
    return this.calls.filter((c) => c.traceId === traceId);
  }

  clear(): void {
    this.calls.length = 0;
    this.spans.length = 0;
  }
}
