/**
 * One downloader per process for `pull`, `check --download`, preloads and job downloads: DOWNLOAD_CONCURRENCY
 * files at once, and one transfer per destination whose progress every asker sees (the downloader itself
 * shares the promise, but calls back only its first caller).
 */
import { type DownloadOptions, type DownloadResult, downloadFile } from "../download/download.ts";
import type { DownloadProgress, ProgressCallback } from "../download/progress.ts";
import { createDownloadQueue } from "../download/queue.ts";
import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";

/** Settings every download shares: tokens, connections, and the test knobs of the downloader. */
export type FetcherDownloadOptions = Pick<
  DownloadOptions,
  "connections" | "hfToken" | "civitaiToken" | "endpoints" | "retry" | "stallMs" | "lock" | "freeSpace" | "hashInWorker"
>;

export interface WeightFetcherOptions {
  /** Files at once (DOWNLOAD_CONCURRENCY). */
  concurrency: number;
  download: FetcherDownloadOptions;
  log: Logger;
  /** Aborts every transfer (shutdown, Ctrl-C); a `.part` stays for the next run to resume. */
  signal?: AbortSignal;
  /** Bytes this process fetched, once per finished transfer (the /metrics counter). */
  onFetched?: (bytes: number) => void;
}

/** One file to fetch: where from, where to, what it must be. */
export interface FetchRequest {
  url: string;
  dest: string;
  sha256?: string | undefined;
  size?: number | undefined;
}

export interface WeightFetcher {
  /**
   * Downloads `request.dest` (or joins the transfer already running for it). `signal` only stops this
   * caller waiting: a transfer others may share goes on. Throws E_DOWNLOAD / E_INTERRUPTED.
   */
  fetch(request: FetchRequest, onProgress?: ProgressCallback, signal?: AbortSignal): Promise<DownloadResult>;
}

type Shared = { promise: Promise<DownloadResult>; listeners: Set<ProgressCallback>; readonly last?: DownloadProgress };

/** Creates the process's fetcher. */
export function createWeightFetcher(options: WeightFetcherOptions): WeightFetcher {
  const queue = createDownloadQueue(options.concurrency);
  const active = new Map<string, Shared>();
  const start = (request: FetchRequest): Shared => {
    const listeners = new Set<ProgressCallback>();
    const seen: { last?: DownloadProgress } = {};
    const onProgress = (progress: DownloadProgress) => {
      seen.last = progress;
      for (const listener of listeners) listener(progress);
    };
    const promise = queue
      .add(() => {
        options.signal?.throwIfAborted();
        return downloadFile({ ...options.download, ...request, signal: options.signal, onProgress, log: options.log });
      })
      .then((result) => {
        if (result.fetched > 0) options.onFetched?.(result.fetched);
        return result;
      })
      .finally(() => active.delete(request.dest));
    const shared: Shared = {
      promise,
      listeners,
      get last() {
        return seen.last;
      },
    };
    active.set(request.dest, shared);
    return shared;
  };
  return {
    async fetch(request, onProgress, signal) {
      const shared = active.get(request.dest) ?? start(request);
      if (onProgress) {
        shared.listeners.add(onProgress);
        if (shared.last) onProgress(shared.last);
      }
      try {
        return await (signal ? _untilAborted(shared.promise, signal) : shared.promise);
      } finally {
        if (onProgress) shared.listeners.delete(onProgress);
      }
    },
  };
}

function _untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(_reason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(_reason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener("abort", onAbort));
  });
}

function _reason(signal: AbortSignal): unknown {
  return signal.reason instanceof Error ? signal.reason : new WorkerError("E_INTERRUPTED", "the download was stopped");
}
