/**
 * A wake-up signal for the consumer's background loops and waiting iterators: `wait` resolves
 * at the next `wake()`, after `ms` when given, or when `signal` aborts, whichever comes first.
 * Waiting never rejects; callers look at their state after it returns.
 */
export class Wakeup {
  private waiters = new Set<() => void>();

  wait(ms?: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.waiters.delete(done);
        resolve();
      };
      if (ms !== undefined) timer = setTimeout(done, Math.max(0, ms));
      signal?.addEventListener('abort', done, { once: true });
      this.waiters.add(done);
    });
  }

  wake(): void {
    if (this.waiters.size === 0) return;
    for (const waiter of [...this.waiters]) waiter();
  }
}
