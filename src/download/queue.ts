/** Runs async tasks at most `limit` at a time, in the order they were added. */
export interface DownloadQueue {
  /** Queues `task`; resolves or rejects with it. A failing task does not stop the others. */
  add<T>(task: () => Promise<T>): Promise<T>;
  /** Tasks running now. */
  readonly active: number;
  /** Tasks waiting for a slot. */
  readonly waiting: number;
}

/** A queue of `limit` slots: `DOWNLOAD_CONCURRENCY` files at once. */
export function createDownloadQueue(limit: number): DownloadQueue {
  const slots = Math.max(1, Math.floor(limit));
  const waiting: Array<() => void> = [];
  let active = 0;
  // a finishing task hands its slot straight to the next waiter, so `active` never overshoots
  const release = () => {
    const next = waiting.shift();
    if (next) next();
    else active--;
  };
  return {
    async add<T>(task: () => Promise<T>): Promise<T> {
      if (active >= slots) await new Promise<void>((resolve) => waiting.push(resolve));
      else active++;
      try {
        return await task();
      } finally {
        release();
      }
    },
    get active() {
      return active;
    },
    get waiting() {
      return waiting.length;
    },
  };
}
