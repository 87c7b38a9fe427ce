import type { FileHandle } from "node:fs/promises";
import { WorkerError } from "../errors.ts";

// one reusable read buffer: large reads amortise the syscall, and it bounds the hasher's memory
export const HASH_READ_BYTES = 4 * 1024 * 1024;

/**
 * sha256 of a file being written out of order, computed in order while the download runs: bytes
 * written exactly at the hashed prefix are hashed straight from memory (the whole story for a single
 * connection); anything else is read back from the `.part` (page cache) once the contiguous prefix
 * reaches it. So hashing overlaps the transfer and only the last few segments are hashed after it.
 */
export interface InOrderHasher {
  /** Hashes `bytes` (just written at `position`) from memory when they extend the hashed prefix. */
  offer(position: number, bytes: Uint8Array): void;
  /** The first `available` bytes of the file are on disk; hash up to there in the background. */
  advance(available: number): void;
  /** Bytes hashed so far. */
  readonly hashed: number;
  /** Hashes up to `size` and returns the hex digest; rejects if the file is shorter. */
  finish(size: number): Promise<string>;
  /** Starts over from byte 0 (a single-stream download restarted); waits for a running read. */
  reset(): Promise<void>;
  /** Stops reading; call before closing the file. */
  stop(): Promise<void>;
}

/** An {@link InOrderHasher} reading back from `fh` when it must. */
export function createInOrderHasher(fh: FileHandle): InOrderHasher {
  let hasher = new Bun.CryptoHasher("sha256");
  let hashed = 0;
  let target = 0;
  let running: Promise<void> | undefined;
  let failure: unknown;
  let stopped = false;
  const buffer = Buffer.allocUnsafe(HASH_READ_BYTES);

  const readBack = async () => {
    while (hashed < target && !stopped) {
      const length = Math.min(HASH_READ_BYTES, target - hashed);
      const { bytesRead } = await fh.read(buffer, 0, length, hashed);
      if (bytesRead === 0) throw new WorkerError("E_DOWNLOAD", `the .part file ended at ${hashed} bytes while hashing`);
      hasher.update(buffer.subarray(0, bytesRead));
      hashed += bytesRead;
    }
  };
  const kick = () => {
    if (running || failure !== undefined || hashed >= target || stopped) return;
    running = readBack()
      .catch((error: unknown) => {
        failure = error;
      })
      .finally(() => {
        running = undefined;
        kick();
      });
  };

  return {
    offer(position, bytes) {
      if (running || position !== hashed || stopped) return;
      hasher.update(bytes);
      hashed += bytes.length;
      target = Math.max(target, hashed);
    },
    advance(available) {
      target = Math.max(target, available);
      kick();
    },
    get hashed() {
      return hashed;
    },
    async finish(size) {
      this.advance(size);
      while (running !== undefined) await running;
      if (failure !== undefined) throw failure;
      if (hashed !== size) throw new WorkerError("E_DOWNLOAD", `hashed ${hashed} bytes of a ${size}-byte file`);
      return hasher.digest("hex");
    },
    async reset() {
      stopped = true;
      while (running !== undefined) await running;
      hasher = new Bun.CryptoHasher("sha256");
      hashed = 0;
      target = 0;
      failure = undefined;
      stopped = false;
    },
    async stop() {
      stopped = true;
      while (running !== undefined) await running;
    },
  };
}
