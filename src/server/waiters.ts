/** Long-poll waits keyed by job id: a wait ends when its condition holds after a notify, or when time runs out. */
export class Waiters {
  readonly #waiters = new Map<string, Set<() => void>>();

  /** Resolves once `done()` is true after a `notify(key)`, or after `ms`; never rejects. */
  wait(key: string, ms: number, done: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const waiters = this.#waiters.get(key) ?? new Set();
      this.#waiters.set(key, waiters);
      const finish = () => {
        clearTimeout(timer);
        waiters.delete(check);
        // drop the empty set so a long-running worker doesn't keep one per finished job
        if (waiters.size === 0) this.#waiters.delete(key);
        resolve();
      };
      const check = () => {
        if (done()) finish();
      };
      const timer = setTimeout(finish, ms);
      waiters.add(check);
    });
  }

  /** Lets every wait on `key` re-check its condition. */
  notify(key: string): void {
    for (const waiter of [...(this.#waiters.get(key) ?? [])]) waiter();
  }
}
