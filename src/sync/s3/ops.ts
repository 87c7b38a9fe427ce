import { z } from "zod";
import { WorkerError } from "../../errors.ts";
import type { S3Client } from "./client.ts";
import { decodeXml, escapeXml, xmlBlocks, xmlText } from "./xml.ts";

/** Deadline of a bodiless call (HEAD, list, create, delete). */
export const CALL_TIMEOUT_MS = 60_000;
/** RunPod documents that completing a large multipart upload may take up to about two hours. */
export const COMPLETE_TIMEOUT_MS = 7_200_000;
/** A part upload's deadline: a base plus this many ms per MiB, so a stalled connection is retried. */
const PART_BASE_MS = 60_000;
const PART_MS_PER_MIB = 4_000;

/** The metadata header holding the sha256 of the whole file, set at upload. */
export const SHA256_META = "x-amz-meta-sha256";

/** What HEAD tells about an object. */
export interface ObjectInfo {
  size: number;
  sha256?: string;
}

/** One listed object. */
export interface ListedObject {
  key: string;
  size: number;
  /** Epoch ms of LastModified, when the server gave a parsable one. */
  modifiedMs?: number;
}

/** A page of ListObjectsV2. */
export interface ListPage {
  objects: ListedObject[];
  nextToken?: string;
  truncated: boolean;
}

/** A finished part of a multipart upload. */
export interface UploadedPart {
  number: number;
  etag: string;
  size?: number;
}

const Sha = z.string().regex(/^[0-9a-f]{64}$/);
const Size = z.coerce.number().int().min(0);

/** Deadline for sending `bytes`. */
export function partTimeoutMs(bytes: number): number {
  return PART_BASE_MS + Math.ceil(bytes / 2 ** 20) * PART_MS_PER_MIB;
}

/** HEAD of `key`: its size and our sha256 metadata, or undefined when absent. */
export async function headObject(s3: S3Client, key: string, signal?: AbortSignal): Promise<ObjectInfo | undefined> {
  const res = await s3.send({ method: "HEAD", key, timeoutMs: CALL_TIMEOUT_MS, signal, allow: [404] });
  if (res.status === 404) return undefined;
  const size = Size.safeParse(res.headers.get("content-length"));
  if (!size.success)
    throw new WorkerError("E_DOWNLOAD", `HEAD ${s3.label(key)} answered without a valid Content-Length`);
  const sha = Sha.safeParse(res.headers.get(SHA256_META)?.toLowerCase());
  return { size: size.data, ...(sha.success ? { sha256: sha.data } : {}) };
}

/** PutObject of a file (or a slice) with our sha256 metadata. */
export async function putObject(
  s3: S3Client,
  key: string,
  body: Blob,
  sha256: string,
  signal?: AbortSignal,
): Promise<void> {
  await s3.send({
    method: "PUT",
    key,
    body,
    headers: { [SHA256_META]: sha256 },
    timeoutMs: partTimeoutMs(body.size),
    signal,
  });
}

/** CreateMultipartUpload; returns the upload id. The sha256 metadata must be given here, at creation. */
export async function createUpload(s3: S3Client, key: string, sha256: string, signal?: AbortSignal): Promise<string> {
  const text = await s3.text({
    method: "POST",
    key,
    query: { uploads: "" },
    headers: { [SHA256_META]: sha256 },
    timeoutMs: CALL_TIMEOUT_MS,
    signal,
  });
  const id = xmlText(text, "UploadId");
  if (!id)
    throw new WorkerError("E_DOWNLOAD", `CreateMultipartUpload of ${s3.label(key)} answered without an UploadId`);
  return id;
}

/** UploadPart; returns the part's ETag. */
export async function uploadPart(
  s3: S3Client,
  key: string,
  uploadId: string,
  number: number,
  body: Blob,
  signal?: AbortSignal,
): Promise<string> {
  const res = await s3.send({
    method: "PUT",
    key,
    query: { partNumber: String(number), uploadId },
    body,
    timeoutMs: partTimeoutMs(body.size),
    signal,
  });
  await res.arrayBuffer();
  const etag = res.headers.get("etag");
  if (!etag) throw new WorkerError("E_DOWNLOAD", `part ${number} of ${s3.label(key)} was answered without an ETag`);
  return etag;
}

/**
 * ListParts of an upload (all pages). Returns undefined when the upload no longer exists (completed, aborted
 * or expired) and "unsupported" when the server has no ListParts (some S3 clones), so the caller can fall back.
 */
export async function listParts(
  s3: S3Client,
  key: string,
  uploadId: string,
  signal?: AbortSignal,
): Promise<UploadedPart[] | undefined | "unsupported"> {
  const parts: UploadedPart[] = [];
  let marker: string | undefined;
  do {
    const query: Record<string, string> = { uploadId, ...(marker ? { "part-number-marker": marker } : {}) };
    const res = await s3.send({
      method: "GET",
      key,
      query,
      timeoutMs: CALL_TIMEOUT_MS,
      signal,
      allow: [404, 405, 501],
    });
    const text = await res.text();
    if (res.status === 404) return undefined;
    if (res.status === 405 || res.status === 501) return "unsupported";
    for (const block of xmlBlocks(text, "Part")) {
      const number = Number(xmlText(block, "PartNumber"));
      const etag = xmlText(block, "ETag");
      if (Number.isInteger(number) && etag) parts.push({ number, etag, size: Number(xmlText(block, "Size")) });
    }
    marker = xmlText(text, "IsTruncated") === "true" ? xmlText(text, "NextPartNumberMarker") : undefined;
  } while (marker);
  return parts;
}

/** CompleteMultipartUpload with the parts in order. */
export async function completeUpload(
  s3: S3Client,
  key: string,
  uploadId: string,
  parts: UploadedPart[],
  signal?: AbortSignal,
): Promise<void> {
  const body = `<CompleteMultipartUpload>${[...parts]
    .sort((a, b) => a.number - b.number)
    .map((p) => `<Part><PartNumber>${p.number}</PartNumber><ETag>${escapeXml(p.etag)}</ETag></Part>`)
    .join("")}</CompleteMultipartUpload>`;
  await s3.text({
    method: "POST",
    key,
    query: { uploadId },
    body,
    headers: { "content-type": "application/xml" },
    timeoutMs: COMPLETE_TIMEOUT_MS,
    signal,
  });
}

/** AbortMultipartUpload; a missing upload is fine. */
export async function abortUpload(s3: S3Client, key: string, uploadId: string, signal?: AbortSignal): Promise<void> {
  await s3.send({ method: "DELETE", key, query: { uploadId }, timeoutMs: CALL_TIMEOUT_MS, signal, allow: [404] });
}

/** DeleteObject (RunPod has no DeleteObjects, so one call per key). */
export async function deleteObject(s3: S3Client, key: string, signal?: AbortSignal): Promise<void> {
  await s3.send({ method: "DELETE", key, timeoutMs: CALL_TIMEOUT_MS, signal, allow: [404] });
}

/** GetObject as text, or undefined when absent. */
export async function getText(s3: S3Client, key: string, signal?: AbortSignal): Promise<string | undefined> {
  const res = await s3.send({ method: "GET", key, timeoutMs: CALL_TIMEOUT_MS, signal, allow: [404] });
  const text = await res.text();
  return res.status === 404 ? undefined : text;
}

/** One page of ListObjectsV2 under `prefix`. */
export async function listPage(
  s3: S3Client,
  prefix: string,
  token: string | undefined,
  signal?: AbortSignal,
): Promise<ListPage> {
  const query: Record<string, string> = { "list-type": "2", prefix, ...(token ? { "continuation-token": token } : {}) };
  const text = await s3.text({ method: "GET", query, timeoutMs: CALL_TIMEOUT_MS, signal });
  // a cut-off body or a proxy's HTML page would read as "nothing there": sync would send everything again, and
  // check call every weight missing. It is asked again, then fails the volume
  if (!/<ListBucketResult[\s>][\s\S]*<\/ListBucketResult>/.test(text)) {
    throw new WorkerError(
      "E_DOWNLOAD",
      `listing ${s3.label(prefix)} answered with something that is no S3 listing (${JSON.stringify(text.slice(0, 80))}); is --endpoint-url an S3 API?`,
      { details: { transient: true } },
    );
  }
  const objects = xmlBlocks(text, "Contents").map((block) => {
    const modifiedMs = Date.parse(xmlText(block, "LastModified") ?? "");
    return {
      key: decodeXml(xmlBlocks(block, "Key")[0] ?? ""),
      size: Number(xmlText(block, "Size") ?? 0),
      ...(Number.isNaN(modifiedMs) ? {} : { modifiedMs }),
    };
  });
  const nextToken = xmlText(text, "NextContinuationToken");
  return { objects, truncated: xmlText(text, "IsTruncated") === "true", ...(nextToken ? { nextToken } : {}) };
}
