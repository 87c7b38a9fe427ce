import { stat } from "node:fs/promises";
import type { DownloadQueue } from "../download/queue.ts";
import { type RetryOptions, withRetry } from "../download/retry.ts";
import { WorkerError } from "../errors.ts";
import type { S3Client } from "./s3/client.ts";
import {
  abortUpload,
  completeUpload,
  createUpload,
  headObject,
  listParts,
  putObject,
  type UploadedPart,
  uploadPart,
} from "./s3/ops.ts";
import { dropState, loadState, saveState, statePath, type UploadState } from "./state.ts";

/** RunPod's largest multipart part (and largest PutObject). */
export const MAX_PART_BYTES = 500 * 1000 * 1000;
const MAX_PARTS = 10_000;

/** How one file is sent. */
export interface UploadOptions {
  /** Shared by every file: bounds the parts (and single PUTs) in flight, hence memory and connections. */
  slots: DownloadQueue;
  /** Preferred part size; files up to it go in one PutObject. */
  partBytes: number;
  stateDir: string;
  /** Names the endpoint + bucket in resume records. */
  targetId: string;
  retry?: RetryOptions;
  signal?: AbortSignal;
  /** Called with bytes acknowledged so far (finished parts only). */
  onProgress?: (bytes: number) => void;
}

/** What a finished upload did. */
export interface UploadOutcome {
  /** Bytes sent by this run (resumed parts not counted). */
  sent: number;
  parts: number;
  resumedParts: number;
}

/** The part size for a file: the preferred one, grown so no file needs more than 10,000 parts, never over 500 MB. */
export function partSizeFor(size: number, preferred: number): number {
  const needed = Math.ceil(size / MAX_PARTS);
  const part = Math.min(MAX_PART_BYTES, Math.max(preferred, needed));
  if (part * MAX_PARTS < size)
    throw new WorkerError("E_USAGE", `a ${size}-byte file is larger than S3 multipart allows`);
  return part;
}

/**
 * Sends `path` to `key` with `sha256` as metadata, then checks with HEAD that the object has the file's size and
 * our sha256. Files above one part go multipart, resuming an earlier upload of the same file version when its
 * record and ListParts agree; each part is streamed from disk (a file slice) and retried on its own.
 */
export async function uploadFile(
  s3: S3Client,
  path: string,
  key: string,
  size: number,
  sha256: string,
  options: UploadOptions,
): Promise<UploadOutcome> {
  const partBytes = partSizeFor(size, Math.min(options.partBytes, MAX_PART_BYTES));
  const retry = { ...options.retry, signal: options.signal };
  const before = await stat(path);
  let outcome: UploadOutcome;
  if (size <= partBytes) {
    await options.slots.add(() =>
      withRetry(`upload of ${s3.label(key)}`, () => putObject(s3, key, Bun.file(path), sha256, options.signal), retry),
    );
    options.onProgress?.(size);
    outcome = { sent: size, parts: 1, resumedParts: 0 };
  } else {
    outcome = await _multipart(s3, path, key, size, sha256, partBytes, options);
  }
  const head = await withRetry(`HEAD ${s3.label(key)}`, () => headObject(s3, key, options.signal), retry);
  if (!head || head.size !== size || head.sha256 !== sha256)
    throw new WorkerError(
      "E_DOWNLOAD",
      `${s3.label(key)} does not match after upload (${head ? `size ${head.size}, sha256 ${head.sha256 ?? "none"}` : "absent"}; expected size ${size}, sha256 ${sha256}); run sync again`,
    );
  // the HEAD can only confirm the sha256 we sent: bytes that changed while they were read make that a lie
  const after = await stat(path);
  if (before.size !== size || after.size !== size || after.mtimeMs !== before.mtimeMs)
    throw new WorkerError(
      "E_DOWNLOAD",
      `${path} changed while it was uploaded to ${s3.label(key)}; run sync again once it is written`,
    );
  return outcome;
}

async function _multipart(
  s3: S3Client,
  path: string,
  key: string,
  size: number,
  sha256: string,
  partBytes: number,
  options: UploadOptions,
): Promise<UploadOutcome> {
  const retry = { ...options.retry, signal: options.signal };
  const record = statePath(options.stateDir, options.targetId, key);
  const state = (await _resumable(s3, record, key, size, sha256, partBytes, options)) ?? {
    version: 1 as const,
    target: options.targetId,
    key,
    size,
    sha256,
    partSize: partBytes,
    parts: [],
    uploadId: await withRetry(
      `starting the upload of ${s3.label(key)}`,
      () => createUpload(s3, key, sha256, options.signal),
      retry,
    ),
  };
  await saveState(record, state);
  const done = new Map(state.parts.map((part) => [part.number, part.etag]));
  const count = Math.ceil(size / partBytes);
  const resumedParts = done.size;
  let acknowledged = [...done.keys()].reduce((sum, n) => sum + _partLength(n, partBytes, size), 0);
  let sent = 0;
  options.onProgress?.(acknowledged);
  let saving = Promise.resolve();
  const sendPart = async (number: number) => {
    const start = (number - 1) * partBytes;
    const body = Bun.file(path).slice(start, Math.min(size, start + partBytes));
    const etag = await options.slots.add(() =>
      withRetry(
        `part ${number} of ${s3.label(key)}`,
        () => uploadPart(s3, key, state.uploadId, number, body, options.signal),
        retry,
      ),
    );
    done.set(number, etag);
    acknowledged += body.size;
    sent += body.size;
    options.onProgress?.(acknowledged);
    // one writer at a time: records are replaced whole, in order
    saving = saving.then(() =>
      saveState(record, { ...state, parts: [...done].map(([n, e]) => ({ number: n, etag: e })) }),
    );
    await saving;
  };
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((n) => !done.has(n));
  const results = await Promise.allSettled(missing.map(sendPart));
  const failed = results.find((result) => result.status === "rejected");
  if (failed) throw (failed as PromiseRejectedResult).reason;
  const parts: UploadedPart[] = [...done].map(([number, etag]) => ({ number, etag }));
  await withRetry(
    `completing ${s3.label(key)}`,
    () => completeUpload(s3, key, state.uploadId, parts, options.signal),
    retry,
  );
  await dropState(record);
  return { sent, parts: count, resumedParts };
}

/** An earlier upload of this very file version we can continue, with its parts confirmed by ListParts. */
async function _resumable(
  s3: S3Client,
  record: string,
  key: string,
  size: number,
  sha256: string,
  partBytes: number,
  options: UploadOptions,
): Promise<UploadState | undefined> {
  const saved = await loadState(record);
  if (!saved) return undefined;
  if (saved.size !== size || saved.sha256 !== sha256 || saved.partSize !== partBytes) {
    // an upload of an older version of the file: its staged parts would only take space on the volume
    await abortUpload(s3, key, saved.uploadId, options.signal).catch(() => {});
    return undefined;
  }
  const listed = await withRetry(
    `listing the parts of ${s3.label(key)}`,
    () => listParts(s3, key, saved.uploadId, options.signal),
    { ...options.retry, signal: options.signal },
  );
  if (listed === undefined) return undefined;
  // without ListParts (some S3 clones) the record alone says which parts were acknowledged
  if (listed === "unsupported") return saved;
  // the server's word wins: a part it holds for this upload (made for this file version) at the right length is
  // done, even one acknowledged just before a kill and never recorded; a recorded part it lacks is sent again
  const count = Math.ceil(size / partBytes);
  const parts = listed.filter(
    (part) =>
      part.number <= count &&
      (part.size === undefined || Number.isNaN(part.size) || part.size === _partLength(part.number, partBytes, size)),
  );
  return { ...saved, parts: parts.map(({ number, etag }) => ({ number, etag })) };
}

function _partLength(number: number, partBytes: number, size: number): number {
  return Math.max(0, Math.min(partBytes, size - (number - 1) * partBytes));
}
