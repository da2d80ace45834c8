import type { CallRecord, SpanRecord, TelemetrySink } from './call-record.js';
import { drainRecords } from './deferred-records.js';

/** Keeps everything in arrays; for tests and scripts that read results in-process. */
export class MemorySink implements TelemetrySink {
  private readonly callList: CallRecord[] = [];
  private readonly spanList: SpanRecord[] = [];

  /** Every call so far, including tracked calls whose bookkeeping was still queued. */
  get calls(): CallRecord[] {
    drainRecords();
    return this.callList;
  }

  get spans(): SpanRecord[] {
    drainRecords();
    return this.spanList;
  }

  recordCall(call: CallRecord): void {
    this.callList.push(call);
  }

  recordSpan(span: SpanRecord): void {
    this.spanList.push(span);
  }

  callsOf(traceId: string): CallRecord[] {
    return this.calls.filter((c) => c.traceId === traceId);
  }

  clear(): void {
    drainRecords();
    this.callList.length = 0;
    this.spanList.length = 0;
  }
}
