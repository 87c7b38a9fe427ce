import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDownloadQueue } from "../download/queue.ts";
import { type RetryOptions, withRetry } from "../download/retry.ts";
import type { Logger } from "../log.ts";
import { hashFile } from "../weights/hash.ts";
import { errorMessage } from "./_errors.ts";
import { type ListOptions, listAll } from "./list.ts";
import { type LocalFile, type PathFilter, type Unreadable, walkLocal } from "./local.ts";
import { normalizePrefix, type PlannedFile, planSync } from "./plan.ts";
import { S3Client } from "./s3/client.ts";
import { deleteObject } from "./s3/ops.ts";
import { abortStaleUploads } from "./stale-uploads.ts";
import type { VolumeTarget } from "./targets.ts";
import { uploadFile } from "./upload.ts";

/** Default part size: large enough for throughput, small enough that a retried part costs little. */
export const PART_BYTES = 64 * 2 ** 20;
/** Parts (or whole small files) in flight at once, over all files of a target. */
export const PARTS_IN_FLIGHT = 4;
const FILES_IN_FLIGHT = 2;
// RunPod suggests 10 attempts for its volumes' 502s (AWS_MAX_ATTEMPTS=10)
const RETRY_ATTEMPTS = 10;

/** How one file ended. */
export type SyncOutcome = "uploaded" | "unchanged" | "deleted" | "failed" | "would_upload" | "would_delete";

/** One file in the report. */
export interface SyncFileResult extends PlannedFile {
  volume: string;
  outcome: SyncOutcome;
  /** Bytes this run sent for it. */
  sent?: number;
  resumed_parts?: number;
  reason?: string;
}

/** A file being sent, for progress output. */
export interface SyncProgress {
  volume: string;
  rel: string;
  bytes: number;
  total: number;
}

/** The report of one volume. */
export interface TargetReport {
  volume: string;
  datacenter?: string;
  url: string;
  files: SyncFileResult[];
  to_send: number;
  sent: number;
  failed: number;
  /** Why the volume could not be synced at all (listing refused, no such volume), when several were. */
  error?: string;
}

/** Knobs of a sync run. */
export interface SyncOptions {
  dir: string;
  prefix: string;
  filter: PathFilter;
  dryRun: boolean;
  delete: boolean;
  stateDir: string;
  partBytes?: number;
  partsInFlight?: number;
  retry?: RetryOptions;
  list?: ListOptions;
  signal?: AbortSignal;
  onProgress?: (progress: SyncProgress) => void;
  onResult?: (result: SyncFileResult) => void;
  /** Notes what was done besides sending (unfinished uploads aborted). */
  log?: Pick<Logger, "info">;
  /** Called once the plan of a volume is known, before anything is sent. */
  onPlan?: (volume: string, plan: PlannedFile[]) => void;
}

/** Syncs the local models folder to every target in turn; a failed file never stops the others. */
export async function syncVolumes(targets: VolumeTarget[], options: SyncOptions): Promise<TargetReport[]> {
  const local = await walkLocal(options.dir, options.filter);
  const reports: TargetReport[] = [];
  for (const target of targets) {
    try {
      reports.push(await syncTarget(target, local, options));
    } catch (error) {
      // one volume alone: its error is the command's; of several, the others are still synced
      if (targets.length === 1 || options.signal?.aborted) throw error;
      reports.push(_volumeFailed(target, normalizePrefix(options.prefix), errorMessage(error)));
    }
  }
  return reports;
}

function _volumeFailed(target: VolumeTarget, prefix: string, reason: string): TargetReport {
  return {
    volume: target.volume,
    url: new S3Client(target).label(prefix),
    files: [],
    to_send: 0,
    sent: 0,
    failed: 1,
    error: reason,
    ...(target.datacenter ? { datacenter: target.datacenter } : {}),
  };
}

/** Lists, plans, and (unless dry-run) uploads, verifies and deletes on one volume. */
export async function syncTarget(
  target: VolumeTarget,
  local: { files: LocalFile[]; unreadable: Unreadable[] },
  options: SyncOptions,
): Promise<TargetReport> {
  const s3 = new S3Client(target);
  const prefix = normalizePrefix(options.prefix);
  const remote = await listAll(s3, prefix, { ...options.list, signal: options.signal });
  const hashCacheDir = join(tmpdir(), "comfy-worker-sha256");
  const plan = await planSync(s3, prefix, local.files, remote, {
    delete: options.delete,
    filter: options.filter,
    hashCacheDir,
    unreadable: local.unreadable.map((folder) => folder.rel),
    signal: options.signal,
  });
  options.onPlan?.(target.volume, plan);
  if (!options.dryRun) {
    const sending = new Set(plan.filter((f) => f.action === "new" || f.action === "changed").map((f) => f.key));
    const targetId = `${target.endpoint}/${target.bucket}`;
    const stale = await abortStaleUploads(s3, {
      stateDir: options.stateDir,
      targetId,
      prefix,
      sending,
      signal: options.signal,
    });
    for (const key of stale)
      options.log?.info(`aborted the unfinished upload of ${s3.label(key)}: nothing will resume it`);
  }
  const toSend = plan.filter((f) => f.action === "new" || f.action === "changed").reduce((sum, f) => sum + f.size, 0);
  const report: TargetReport = {
    volume: target.volume,
    url: s3.label(prefix),
    files: [],
    to_send: toSend,
    sent: 0,
    failed: 0,
    ...(target.datacenter ? { datacenter: target.datacenter } : {}),
  };
  const record = (result: SyncFileResult) => {
    report.files.push(result);
    report.sent += result.sent ?? 0;
    if (result.outcome === "failed") report.failed++;
    options.onResult?.(result);
  };
  // a folder that could not be listed fails this run (exit 4), and nothing under it was planned
  for (const folder of local.unreadable) {
    const key = `${prefix}${folder.rel}`;
    record({
      rel: folder.rel,
      key,
      action: "new",
      size: 0,
      volume: target.volume,
      outcome: "failed",
      reason: folder.reason,
    });
  }
  const slots = createDownloadQueue(options.partsInFlight ?? PARTS_IN_FLIGHT);
  const files = createDownloadQueue(FILES_IN_FLIGHT);
  await Promise.all(
    plan.map((file) =>
      files.add(async () => record(await _apply(s3, target, file, { ...options, hashCacheDir }, slots))),
    ),
  );
  report.files.sort((a, b) => (a.key < b.key ? -1 : 1));
  return report;
}

async function _apply(
  s3: S3Client,
  target: VolumeTarget,
  file: PlannedFile,
  options: SyncOptions & { hashCacheDir: string },
  slots: ReturnType<typeof createDownloadQueue>,
): Promise<SyncFileResult> {
  const base = { ...file, volume: target.volume };
  const retry: RetryOptions = { attempts: RETRY_ATTEMPTS, ...options.retry };
  if (file.action === "unchanged") return { ...base, outcome: "unchanged" };
  if (options.dryRun) return { ...base, outcome: file.action === "delete" ? "would_delete" : "would_upload" };
  try {
    if (file.action === "delete") {
      await withRetry(`deleting ${s3.label(file.key)}`, () => deleteObject(s3, file.key, options.signal), {
        ...retry,
        ...(options.signal ? { signal: options.signal } : {}),
      });
      return { ...base, outcome: "deleted" };
    }
    const path = file.path as string;
    const sha256 =
      file.sha256 ?? (await hashFile(path, { cacheDir: options.hashCacheDir, signal: options.signal })).sha256;
    const done = await uploadFile(s3, path, file.key, file.size, sha256, {
      slots,
      partBytes: options.partBytes ?? PART_BYTES,
      stateDir: options.stateDir,
      targetId: `${target.endpoint}/${target.bucket}`,
      retry,
      ...(options.signal ? { signal: options.signal } : {}),
      onProgress: (bytes) => options.onProgress?.({ volume: target.volume, rel: file.rel, bytes, total: file.size }),
    });
    return {
      ...base,
      sha256,
      outcome: "uploaded",
      sent: done.sent,
      ...(done.resumedParts ? { resumed_parts: done.resumedParts } : {}),
    };
  } catch (error) {
    if (options.signal?.aborted) throw error;
    return { ...base, outcome: "failed", reason: errorMessage(error) };
  }
}
