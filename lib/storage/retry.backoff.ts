/**
 * Waits between retries of a failed write: exponential with equal jitter, so replicas that lost
 * the database together do not retry in step. The wait can be cut short (a flush, shutdown).
 */
export class RetryBackoff {
  /** Consecutive failures; 0 once a write succeeds. */
  failures = 0;
  private wake: (() => void) | null = null;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  failed(): void {
    this.failures++;
  }

  succeeded(): void {
    this.failures = 0;
  }

  wait(): Promise<void> {
    const exp = Math.min(this.maxMs, this.baseMs * 2 ** Math.min(Math.max(this.failures - 1, 0), 20));
    const delay = exp / 2 + Math.random() * (exp / 2);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === interrupt) this.wake = null;
        resolve();
      };
      const interrupt = () => done();
      const timer = setTimeout(done, delay);
      // A script whose database is down must still be able to exit (its exit hook spools the rest).
      timer.unref();
      this.wake = interrupt;
    });
  }

  /** Ends the current wait now. */
  interrupt(): void {
    this.wake?.();
  }
}
