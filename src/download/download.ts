import { mkdir, stat } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { fetchCivitaiSha256 } from "./civitai.ts";
import type { FreeSpaceFn } from "./disk.ts";
import { downloadToPart } from "./engine.ts";
import { isSha256 } from "./headers.ts";
import { acquireFileLock, type LockOptions } from "./lock.ts";
import { type Probe, probeSource } from "./probe.ts";
import type { ProgressCallback } from "./progress.ts";
import { STALL_TIMEOUT_MS } from "./pump.ts";
import type { RetryOptions } from "./retry.ts";
import { recordSha256 } from "./sha-record.ts";
import { resolveSource, type Source, type SourceOptions } from "./sources.ts";

/** Parallel connections per file when the caller does not pass `connections` (SPEC §3 DOWNLOAD_CONNECTIONS). */
export const DEFAULT_CONNECTIONS = 8;

/** One file to download; give `dest` (the final path) or `dir` (the name then comes from the URL or host). */
export interface DownloadOptions extends SourceOptions {
  url: string;
  dest?: string | undefined;
  dir?: string | undefined;
  /** The sha256 the file must have (manifest, workflow metadata); else the host's declared one is used. */
  sha256?: string | undefined;
  /** Expected bytes; a host serving another size fails before anything is fetched. */
  size?: number | undefined;
  connections?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ProgressCallback | undefined;
  log?: Logger | undefined;
  /** Retry delays and attempts (tests shrink them). */
  retry?: Pick<RetryOptions, "attempts" | "initialMs" | "maxMs"> | undefined;
  stallMs?: number | undefined;
  freeSpace?: FreeSpaceFn | undefined;
  lock?: Pick<LockOptions, "staleMs" | "pollMs"> | undefined;
  /** Hash on a worker thread (default true). */
  hashInWorker?: boolean | undefined;
}

/** A file present under its final name. */
export interface DownloadResult {
  path: string;
  size: number;
  /** The verified digest; for a skipped file only the expected one, when given. */
  sha256: string | undefined;
  /** True when an interrupted earlier run's bytes were reused. */
  resumed: boolean;
  /** Set when the file was already there (possibly fetched by another job or process just now). */
  skipped?: "exists";
  /** Bytes fetched by this call. */
  fetched: number;
}

// one download per destination within this process: later callers share the running promise
const INFLIGHT = new Map<string, Promise<DownloadResult>>();

/**
 * Downloads `url` to its destination, at most once per file across jobs (in-process) and processes
 * (a lock file), resuming, verifying the sha256 and renaming into place. Throws E_DOWNLOAD with advice.
 */
export async function downloadFile(options: DownloadOptions): Promise<DownloadResult> {
  const source = resolveSource(options.url, options);
  const expected = _normaliseSha(options.sha256);
  const needsName = options.dest === undefined && !source.filename;
  const early = needsName ? await probeSource(source, _retry(options, source)) : undefined;
  const dest = resolve(options.dest ?? join(_requireDir(options), _filename(source, early)));
  const running = INFLIGHT.get(dest);
  if (running !== undefined) return running;
  const task = _downloadOnce(dest, source, expected, early, options).finally(() => INFLIGHT.delete(dest));
  INFLIGHT.set(dest, task);
  return task;
}

async function _downloadOnce(
  dest: string,
  source: Source,
  expected: string | undefined,
  early: Probe | undefined,
  options: DownloadOptions,
): Promise<DownloadResult> {
  await mkdir(dirname(dest), { recursive: true });
  const present = await _existing(dest, options.size, expected);
  if (present) return present;
  const lock = await acquireFileLock(`${dest}.part.lock`, {
    ...options.lock,
    signal: options.signal,
    onWait: (holder) =>
      options.log?.info(`waiting: process ${holder.pid} on ${holder.hostname} is downloading ${dest}`),
  });
  try {
    // the holder we waited for may have just finished this very file
    const done = await _existing(dest, options.size, expected);
    if (done) return done;
    const retry = _retry(options, source);
    const probe = early ?? (await probeSource(source, retry));
    _checkSize(source, probe, options.size);
    const sha256 = await _expectedSha(source, probe, expected, options);
    const connections = Math.max(1, options.connections ?? DEFAULT_CONNECTIONS);
    options.log?.info(`downloading ${source.original} to ${dest}`, {
      size: probe.size,
      connections,
      ranges: probe.ranges,
    });
    const result = await downloadToPart({
      source,
      probe,
      dest,
      expectedSha256: sha256,
      connections,
      retry,
      signal: options.signal,
      stallMs: options.stallMs ?? STALL_TIMEOUT_MS,
      onProgress: options.onProgress,
      freeSpace: options.freeSpace,
      log: options.log,
      hashInWorker: options.hashInWorker,
    });
    await recordSha256(dest, result.sha256);
    return { path: dest, size: result.size, sha256: result.sha256, resumed: result.resumed, fetched: result.fetched };
  } finally {
    await lock.release();
  }
}

async function _expectedSha(
  source: Source,
  probe: Probe,
  expected: string | undefined,
  options: DownloadOptions,
): Promise<string | undefined> {
  if (expected && probe.declaredSha256 && probe.declaredSha256 !== expected) {
    throw new WorkerError(
      "E_DOWNLOAD",
      `${source.original}: the host declares sha256 ${probe.declaredSha256} but ${expected} is expected; the file changed upstream or the expected hash is wrong`,
      { details: { expected, declared: probe.declaredSha256 } },
    );
  }
  if (expected ?? probe.declaredSha256) return expected ?? probe.declaredSha256;
  if (!source.civitai) return undefined;
  return fetchCivitaiSha256(source.civitai, probe.filename, source.headers, options.signal);
}

async function _existing(
  dest: string,
  size: number | undefined,
  sha256: string | undefined,
): Promise<DownloadResult | undefined> {
  const info = await stat(dest).catch(() => undefined);
  if (!info?.isFile() || (size !== undefined && info.size !== size)) return undefined;
  return { path: dest, size: info.size, sha256, resumed: false, skipped: "exists", fetched: 0 };
}

function _checkSize(source: Source, probe: Probe, size: number | undefined): void {
  if (size === undefined || probe.size === undefined || probe.size === size) return;
  throw new WorkerError(
    "E_DOWNLOAD",
    `${source.original} is ${probe.size} bytes but ${size} are expected; the file changed upstream or the expected size is wrong`,
    { details: { expected: size, actual: probe.size } },
  );
}

function _retry(options: DownloadOptions, source: Source): RetryOptions {
  return {
    ...options.retry,
    ...(options.signal ? { signal: options.signal } : {}),
    onRetry: ({ attempt, delayMs, error }) =>
      options.log?.warn(
        `${source.original}: ${error instanceof Error ? error.message : String(error)}; retry ${attempt} in ${delayMs} ms`,
      ),
  };
}

function _normaliseSha(sha256: string | undefined): string | undefined {
  if (sha256 === undefined || sha256 === "") return undefined;
  if (!isSha256(sha256))
    throw new WorkerError("E_DOWNLOAD", `expected sha256 ${JSON.stringify(sha256)} is not 64 hex digits`);
  return sha256.toLowerCase();
}

function _requireDir(options: DownloadOptions): string {
  if (options.dir) return options.dir;
  throw new WorkerError("E_INTERNAL", "downloadFile needs dest or dir");
}

function _filename(source: Source, probe: Probe | undefined): string {
  const name = source.filename ?? probe?.filename;
  if (name) return name;
  throw new WorkerError(
    "E_DOWNLOAD",
    `cannot tell the file name of ${source.original} (neither the URL nor the host names it); give the destination file name`,
  );
}
