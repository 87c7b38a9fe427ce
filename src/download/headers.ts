import { basename } from "node:path";

const CONTENT_RANGE_RE = /^bytes\s+(?:(\d+)-(\d+)|\*)\/(\d+|\*)$/i;
const SHA256_RE = /^[0-9a-f]{64}$/i;
const HTML_START_RE = /^\s*<(?:!doctype\s+html|html|head|body)\b/i;

/** A parsed `Content-Range` (`bytes a-b/total`); `total` is undefined for `/*`. */
export interface ContentRange {
  start?: number;
  end?: number;
  total?: number;
}

/** Parses `Content-Range: bytes 0-9/100` (also the unsatisfied-range form a 416 sends); undefined when malformed. */
export function parseContentRange(value: string | null): ContentRange | undefined {
  const match = value ? CONTENT_RANGE_RE.exec(value.trim()) : null;
  if (!match) return undefined;
  const [, start, end, total] = match;
  return {
    ...(start !== undefined && end !== undefined ? { start: Number(start), end: Number(end) } : {}),
    ...(total !== undefined && total !== "*" ? { total: Number(total) } : {}),
  };
}

/** The file name a `Content-Disposition` header gives (RFC 6266 `filename*` first), reduced to a safe base name. */
export function parseContentDisposition(value: string | null): string | undefined {
  if (!value) return undefined;
  const extended = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(value);
  const plain = /filename\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]+))/i.exec(value);
  let name: string | undefined;
  try {
    if (extended?.[2]) name = decodeURIComponent(extended[2].trim());
  } catch {
    // a malformed percent-encoding: fall back to the plain parameter
  }
  name ??= plain?.[1]?.replace(/\\(.)/g, "$1") ?? plain?.[2]?.trim();
  return name ? safeFilename(name) : undefined;
}

/** A name that cannot leave its folder: the last path segment, never `.`/`..`, never empty. */
export function safeFilename(name: string): string | undefined {
  const base = basename(name.replaceAll("\\", "/")).trim();
  return base && base !== "." && base !== ".." && !base.includes("\0") ? base : undefined;
}

/** The sha256 in an ETag-like value (`"abc…"`, `W/"abc…"`), when it is 64 hex digits; lower-cased. */
export function sha256FromEtag(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const bare = value.trim().replace(/^W\//i, "").replaceAll('"', "");
  return SHA256_RE.test(bare) ? bare.toLowerCase() : undefined;
}

/** True when `value` is a 64-hex sha256. */
export function isSha256(value: string): boolean {
  return SHA256_RE.test(value);
}

/** True for a response that is a web page (a login or model page) rather than the file asked for. */
export function isHtmlContentType(value: string | null): boolean {
  return value !== null && /^\s*(?:text\/html|application\/xhtml\+xml)\b/i.test(value);
}

/** True when the first bytes of a body look like an HTML document. */
export function looksLikeHtml(head: Uint8Array): boolean {
  return HTML_START_RE.test(new TextDecoder().decode(head.subarray(0, 256)));
}
