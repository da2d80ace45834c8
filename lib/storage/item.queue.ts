import type { TelemetryItem } from './record.codec.js';

/** The writer's in-memory FIFO: O(1) push, batches read from the front without copying the rest. */
export class ItemQueue {
  private items: TelemetryItem[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: TelemetryItem): void {
    this.items.push(item);
  }

  /** Up to `n` items starting `offset` items after the front, without removing them. */
  peek(n: number, offset = 0): TelemetryItem[] {
    return this.items.slice(this.head + offset, this.head + offset + n);
  }

  drop(n: number): void {
    this.head += n;
    if (this.head >= this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 4096 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }

  takeAll(): TelemetryItem[] {
    const all = this.items.slice(this.head);
    this.items = [];
    this.head = 0;
    return all;
  }
}
