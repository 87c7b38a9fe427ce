import { WorkerError } from "../errors.ts";
import type { InOrderHasher } from "./hasher.ts";

// The worker reads the `.part` back (from the page cache, just behind the writers) and hashes it on its
// own thread, so sha256 (~1 GB/s with SHA-NI, ~200 MB/s without) runs beside the main thread's socket
// reads and writes instead of taking turns with them. It is a plain-JS Blob so it works unchanged in a
// `bun build --compile` binary, where a worker file would need its own build entrypoint.
const WORKER_SOURCE = `
const { openSync, readSync, closeSync } = require("node:fs");
const buffer = Buffer.allocUnsafe(${4 * 1024 * 1024});
let fd, hasher = new Bun.CryptoHasher("sha256"), hashed = 0, target = 0, finish = -1;
onmessage = (event) => {
  const message = event.data;
  try {
    if (message.path !== undefined) fd = openSync(message.path, "r");
    if (message.available !== undefined) target = Math.max(target, message.available);
    if (message.finish !== undefined) { finish = message.finish; target = Math.max(target, finish); }
    while (hashed < target) {
      const read = readSync(fd, buffer, 0, Math.min(buffer.length, target - hashed), hashed);
      if (read === 0) throw new Error("the .part file ended at " + hashed + " bytes while hashing");
      hasher.update(buffer.subarray(0, read));
      hashed += read;
    }
    if (finish >= 0 && hashed === finish) { closeSync(fd); postMessage({ digest: hasher.digest("hex"), hashed }); }
  } catch (error) {
    postMessage({ error: String(error && error.message || error) });
  }
};
`;

/**
 * An in-order hasher whose reading and hashing run on a worker thread. `offer` is a no-op: the worker
 * always reads back, which costs a page-cache copy but frees the main thread entirely.
 */
export function createWorkerHasher(path: string): InOrderHasher {
  let channel = _spawn(path);
  let posted = 0;
  let hashed = 0;
  return {
    offer() {},
    advance(available) {
      // batching: one message per MiB or so, not one per fetch chunk
      if (available - posted < HASH_POST_BYTES) return;
      posted = available;
      channel.worker.postMessage({ available });
    },
    get hashed() {
      return hashed;
    },
    async finish(size) {
      channel.worker.postMessage({ finish: size });
      try {
        const done = await channel.done;
        hashed = done.hashed;
        return done.digest;
      } finally {
        _close(channel);
      }
    },
    async reset() {
      _close(channel);
      channel = _spawn(path);
      posted = 0;
      hashed = 0;
    },
    async stop() {
      _close(channel);
    },
  };
}

const HASH_POST_BYTES = 1024 * 1024;

interface Channel {
  worker: Worker;
  url: string;
  /** Settles with the digest, or with the first error the worker reports. */
  done: Promise<{ digest: string; hashed: number }>;
}

function _spawn(path: string): Channel {
  const url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
  const worker = new Worker(url);
  const { promise, resolve, reject } = Promise.withResolvers<{ digest: string; hashed: number }>();
  promise.catch(() => {}); // observed by finish(); an early failure must not be an unhandled rejection
  const fail = (reason: string) => reject(new WorkerError("E_DOWNLOAD", `hashing ${path} failed: ${reason}`));
  worker.onmessage = (event: MessageEvent<{ digest?: string; hashed?: number; error?: string }>) => {
    const { digest, hashed, error } = event.data;
    if (digest !== undefined && hashed !== undefined) resolve({ digest, hashed });
    else fail(error ?? "no digest");
  };
  worker.onerror = (event) => fail(event.message);
  worker.postMessage({ path });
  return { worker, url, done: promise };
}

function _close(channel: Channel): void {
  channel.worker.terminate();
  URL.revokeObjectURL(channel.url);
}
