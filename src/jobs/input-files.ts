import { WorkerError } from "../errors.ts";
import { formatBytes } from "../lib/bytes.ts";
import type { LookupFn } from "../lib/net.ts";
import { guardedFetch } from "../lib/url-guard.ts";
import type { JobFile } from "./schema.ts";

/** An input file ready to upload to ComfyUI's input folder. */
export interface InputFile {
  subfolder: string;
  filename: string;
  bytes: Uint8Array;
}

export interface DecodeOptions {
  allowHosts: readonly string[];
  /** PRIVATE_HOSTS_ALLOWED: private hosts, addresses or CIDRs an input URL may still reach. */
  privateAllowed?: readonly string[];
  maxBytes: number;
  fetch?: typeof fetch;
  lookup?: LookupFn;
  signal?: AbortSignal;
}

const BASE64_RE = /^[A-Za-z0-9+/]*={0,2}$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]*={0,2}$/;
const DATA_URI_RE = /^data:([\w.+-]+\/[\w.+-]+)?((?:;[\w-]+=[^;,]*)*);base64,/i;
const MAX_REDIRECTS = 5;
const FETCH_TIMEOUT_MS = 120_000;

/** A file name's path parts as the upload writes them: empty and "." parts dropped (`./a//b.png` → a, b.png). */
export function inputNameParts(name: string): string[] {
  return name.split("/").filter((part) => part !== "" && part !== ".");
}

/** Splits a job file name into a safe subfolder and file name; refuses anything that could leave the input folder. */
export function safeInputName(name: string): { subfolder: string; filename: string } {
  const bad = (why: string) => new WorkerError("E_INPUT", `images[].name "${name}" ${why}`);
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what we refuse
  if (/[\u0000-\u001f\\]/.test(name)) throw bad("contains a backslash or control character");
  if (name.startsWith("/") || /^[a-z]:/i.test(name)) throw bad("must be relative to ComfyUI's input folder");
  if (name.endsWith("/")) throw bad("has no file name");
  const parts = inputNameParts(name);
  if (parts.some((part) => part === "..")) throw bad("must not contain '..' (it would escape the input folder)");
  const filename = parts.pop();
  if (!filename) throw bad("has no file name");
  if (/ \[(input|output|temp)\]$/.test(filename)) throw bad("must not carry a [type] annotation");
  return { subfolder: parts.join("/"), filename };
}

/** Decodes base64 strictly: wrong alphabet or length is an error, never silently dropped bytes. */
export function decodeBase64(text: string, what: string): Uint8Array {
  const clean = text.replace(/\s+/g, "");
  const url = !BASE64_RE.test(clean) && BASE64URL_RE.test(clean);
  const data = clean.replace(/=+$/, "");
  const badPadding = data.length !== clean.length && clean.length % 4 !== 0;
  if ((!BASE64_RE.test(clean) && !url) || data.length === 0 || data.length % 4 === 1 || badPadding) {
    throw new WorkerError("E_INPUT", `${what} is not valid base64 (expected base64 text, a data: URI or an https URL)`);
  }
  return Buffer.from(clean, url ? "base64url" : "base64");
}

/** Turns one `images[]` entry into bytes: base64, data: URI, or an https URL from an allowed public host. */
export async function decodeJobFile(file: JobFile, options: DecodeOptions): Promise<InputFile> {
  const { subfolder, filename } = safeInputName(file.name);
  const what = `images["${file.name}"].image`;
  let bytes: Uint8Array;
  if (/^https?:\/\//i.test(file.image)) bytes = await fetchInputUrl(file.image, what, options);
  else {
    const data = DATA_URI_RE.exec(file.image);
    if (!data && file.image.startsWith("data:"))
      throw new WorkerError("E_INPUT", `${what} is a data: URI without ;base64`);
    bytes = decodeBase64(data ? file.image.slice(data[0].length) : file.image, what);
  }
  if (bytes.byteLength > options.maxBytes) {
    throw new WorkerError(
      "E_TOO_LARGE",
      `${what} is ${formatBytes(bytes.byteLength)}, over the ${formatBytes(options.maxBytes)} limit`,
    );
  }
  return { subfolder, filename, bytes };
}

/** Downloads a job input URL: https only, allowed hosts only, no private addresses (checked on every redirect). */
export async function fetchInputUrl(url: string, what: string, options: DecodeOptions): Promise<Uint8Array> {
  const parsed = URL.parse(url);
  if (parsed?.username || parsed?.password)
    throw new WorkerError("E_INPUT", `${what}: URLs with credentials are refused`);
  const guard = { ...options, privateAllowed: options.privateAllowed ?? [], maxRedirects: MAX_REDIRECTS };
  const init = { signal: options.signal ?? AbortSignal.timeout(FETCH_TIMEOUT_MS) };
  const res = await guardedFetch(url, init, what, guard).catch((error: unknown) => {
    if (error instanceof WorkerError) throw error;
    throw new WorkerError("E_INPUT", `${what}: could not download ${url} (${String(error)})`, { cause: error });
  });
  if (!res.ok) throw new WorkerError("E_INPUT", `${what}: ${url} answered HTTP ${res.status}`);
  return _readLimited(res, what, options.maxBytes);
}

async function _readLimited(res: Response, what: string, maxBytes: number): Promise<Uint8Array> {
  const declared = Number(res.headers.get("content-length") ?? 0);
  if (declared > maxBytes)
    throw new WorkerError(
      "E_TOO_LARGE",
      `${what} is ${formatBytes(declared)}, over the ${formatBytes(maxBytes)} limit`,
    );
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of res.body ?? []) {
    total += chunk.byteLength;
    if (total > maxBytes) throw new WorkerError("E_TOO_LARGE", `${what} is over the ${formatBytes(maxBytes)} limit`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
