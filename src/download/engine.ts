import { constants, writeSync } from "node:fs";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { isWorkerError, WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { ensureFreeSpace, type FreeSpaceFn } from "./disk.ts";
import { isRangeRefusal } from "./fetch-range.ts";
import { createWorkerHasher } from "./hash-worker.ts";
import { createInOrderHasher, type InOrderHasher } from "./hasher.ts";
import { looksLikeHtml } from "./headers.ts";
import { loadPartState, type RemoteIdentity, removePartState, savePartState } from "./part-state.ts";
import { type Probe, probeSource } from "./probe.ts";
import { createProgress, type ProgressCallback, type ProgressTracker } from "./progress.ts";
import type { RetryOptions } from "./retry.ts";
import { createFrontier, planSegments, type Segment, segmentBytesFor } from "./segments.ts";
import { htmlError, type Source } from "./sources.ts";
import { fetchSegments, fetchWhole, type TransferContext } from "./transfer.ts";

// how often the resume state is made durable; a kill -9 loses at most this much transfer
export const STATE_FLUSH_MS = 1000;

/** One file to fetch into `<dest>.part`, verify, and rename onto `dest`. */
export interface PartJob {
  source: Source;
  probe: Probe;
  dest: string;
  expectedSha256: string | undefined;
  connections: number;
  signal?: AbortSignal | undefined;
  retry: RetryOptions;
  stallMs: number;
  onProgress?: ProgressCallback | undefined;
  freeSpace?: FreeSpaceFn | undefined;
  log?: Logger | undefined;
  /** Hash on a worker thread (default); false hashes on the main thread, from memory where it can. */
  hashInWorker?: boolean | undefined;
}

/** The verified file now under its final name. */
export interface PartResult {
  size: number;
  sha256: string;
  /** True when bytes from an earlier, interrupted run were kept. */
  resumed: boolean;
  /** Bytes fetched by this run. */
  fetched: number;
}

/** `<dest>.part` (the bytes) and `<dest>.part.json` (which of them are there). */
export function partPaths(dest: string): { part: string; state: string } {
  return { part: `${dest}.part`, state: `${dest}.part.json` };
}

/**
 * Downloads into `<dest>.part` (resuming a matching earlier `.part`), hashes while writing, checks the
 * sha256, then renames atomically: nothing partial or unverified ever appears under `dest`. A mismatch or
 * an HTML page deletes the `.part`; any other failure keeps it and its state for the next run.
 */
export async function downloadToPart(job: PartJob): Promise<PartResult> {
  const paths = partPaths(job.dest);
  const size = job.probe.size;
  const remote: RemoteIdentity = {
    size: size ?? -1,
    validator: job.probe.validator ?? null,
    sha256: job.expectedSha256 ?? null,
  };
  const ranged = job.probe.ranges && size !== undefined && size > 0;
  const saved = ranged ? await loadPartState(paths.state, paths.part, remote) : undefined;
  if (!saved) await _removePart(paths);
  const already = saved?.written.reduce((sum, bytes) => sum + bytes, 0) ?? 0;
  // before planning segments: an absurd declared size must be refused, not split into millions of ranges
  await ensureFreeSpace(dirname(job.dest), (size ?? 0) - already, job.freeSpace);
  const segmentBytes = saved?.segmentBytes ?? segmentBytesFor(size ?? 0, job.connections);
  const segments = ranged ? planSegments(size, segmentBytes, saved?.written) : [];
  if (already > 0) job.log?.info(`resuming ${job.dest} at ${already} of ${size} bytes`);
  const fh = await open(paths.part, constants.O_RDWR | constants.O_CREAT, 0o644);
  const hasher = _createHasher(job, fh, paths.part);
  const saver = _stateSaver(fh, paths.state, remote, segmentBytes, segments, job.log);
  const progress = createProgress(size, already, job.onProgress);
  try {
    const total = await _transfer(job, fh, hasher, segments, progress, saver);
    progress.phase("verifying");
    const sha256 = await hasher.finish(total);
    await saver.stop(false);
    if (job.expectedSha256 && sha256 !== job.expectedSha256) throw _mismatch(job, sha256);
    // data before name: after a crash the final name never points at unwritten blocks
    await fh.datasync();
    await fh.close();
    await rename(paths.part, job.dest);
    await removePartState(paths.state);
    return { size: total, sha256, resumed: already > 0, fetched: progress.fetched };
  } catch (error) {
    await hasher.stop();
    await saver.stop(!_isGarbage(error));
    await fh.close().catch(() => {}); // already closed when the rename itself failed
    if (_isGarbage(error)) await _removePart(paths);
    throw error;
  }
}

function _createHasher(job: PartJob, fh: FileHandle, part: string): InOrderHasher {
  if (job.hashInWorker === false) return createInOrderHasher(fh);
  try {
    return createWorkerHasher(part);
  } catch (error) {
    job.log?.debug(`no hashing thread (${String(error)}); hashing on the main thread`);
    return createInOrderHasher(fh);
  }
}

async function _transfer(
  job: PartJob,
  fh: FileHandle,
  hasher: InOrderHasher,
  segments: Segment[],
  progress: ProgressTracker,
  saver: ReturnType<typeof _stateSaver>,
): Promise<number> {
  const frontier = createFrontier(segments);
  const ctx: TransferContext = {
    source: job.source,
    url: job.probe.finalUrl,
    refreshUrl: _singleFlight(async () => {
      ctx.url = (await _reprobe(job)).finalUrl;
    }),
    signal: job.signal,
    retry: job.retry,
    stallMs: job.stallMs,
    writeAt: async (position, bytes) => {
      if (position === 0 && looksLikeHtml(bytes)) throw htmlError(job.source);
      _writeFully(fh, bytes, position);
    },
    onWritten: (position, bytes) => {
      progress.add(bytes.length);
      hasher.offer(position, bytes);
      hasher.advance(frontier());
    },
  };
  if (segments.length > 0) {
    hasher.advance(frontier()); // hash what an earlier run left while the rest downloads
    try {
      await fetchSegments(ctx, segments, job.connections);
      return job.probe.size as number;
    } catch (error) {
      if (!isRangeRefusal(error)) throw error;
      job.log?.warn(`${job.source.original}: the host refused a byte range; downloading over one connection`);
    }
  }
  const restart = async () => {
    saver.disable();
    await removePartState(partPaths(job.dest).state);
    await hasher.reset();
    await fh.truncate(0);
    progress.reset(0);
  };
  return fetchWhole(ctx, job.probe.size, restart);
}

// the same file must still be there: a changed size or validator means the `.part` can't be finished
async function _reprobe(job: PartJob): Promise<Probe> {
  const fresh = await probeSource(job.source, { ...job.retry, ...(job.signal ? { signal: job.signal } : {}) });
  if (fresh.size === job.probe.size && (fresh.validator ?? null) === (job.probe.validator ?? null)) return fresh;
  throw new WorkerError("E_DOWNLOAD", `${job.source.original} changed upstream during the download; run it again`, {
    details: { size: fresh.size, validator: fresh.validator },
  });
}

function _singleFlight(task: () => Promise<void>): () => Promise<void> {
  let running: Promise<void> | undefined;
  return () => {
    running ??= task().finally(() => {
      running = undefined;
    });
    return running;
  };
}

function _stateSaver(
  fh: FileHandle,
  path: string,
  remote: RemoteIdentity,
  segmentBytes: number,
  segments: Segment[],
  log?: Logger,
) {
  let enabled = segments.length > 0;
  let chain = Promise.resolve();
  const flush = () => {
    chain = chain
      .then(async () => {
        if (!enabled) return;
        await fh.datasync(); // the state may only claim bytes that are durable
        await savePartState(path, remote, segmentBytes, segments);
      })
      .catch((error: unknown) => log?.debug(`could not save download state ${path}: ${String(error)}`));
    return chain;
  };
  const timer = enabled ? setInterval(flush, STATE_FLUSH_MS) : undefined;
  return {
    disable() {
      enabled = false;
      clearInterval(timer);
    },
    async stop(final: boolean) {
      clearInterval(timer);
      await (final ? flush() : chain);
      enabled = false;
    },
  };
}

// A synchronous pwrite into the page cache. Measured on Bun 1.4.5 (8 ranges, 1 GiB): `FileHandle.write`
// is a thread-pool round trip that halves throughput at 1.5–2× the CPU, even coalesced to 1–4 MiB. The
// price: a write that blocks (a stalled network filesystem) blocks the event loop (oven-sh/bun#35993).
function _writeFully(fh: FileHandle, bytes: Uint8Array, position: number): void {
  let done = 0;
  while (done < bytes.length) done += writeSync(fh.fd, bytes, done, bytes.length - done, position + done);
}

function _mismatch(job: PartJob, actual: string): WorkerError {
  return new WorkerError(
    "E_DOWNLOAD",
    `sha256 mismatch for ${job.dest} from ${job.source.original}: expected ${job.expectedSha256}, got ${actual}; nothing was kept. The host served other bytes (the file changed upstream, or the transfer was corrupted): check the expected hash, then retry`,
    { details: { expected: job.expectedSha256, actual, discard: true } },
  );
}

// bytes that can never become the right file: a hash mismatch, or a web page instead of the file
function _isGarbage(error: unknown): boolean {
  return isWorkerError(error) && error.details.discard === true;
}

async function _removePart(paths: { part: string; state: string }): Promise<void> {
  await unlink(paths.part).catch(() => {});
  await removePartState(paths.state);
}
