import { WorkerError } from "../errors.ts";
import { isAllowedHost } from "../lib/net.ts";
import {
  CIVITAI_DEFAULT_ENDPOINT,
  CIVITAI_HOSTS,
  type CivitaiFile,
  civitaiHttpError,
  parseCivitaiUrl,
} from "./civitai.ts";
import { safeFilename } from "./headers.ts";
import { HF_DEFAULT_ENDPOINT, HF_HOSTS, type HfFile, hfFilename, hfHttpError, parseHfUrl } from "./huggingface.ts";

/** Which host conventions apply to a URL. */
export type SourceKind = "huggingface" | "civitai" | "http";

/** Tokens and endpoints used to resolve a URL; tokens come from config (SPEC §3), never from the URL. */
export interface SourceOptions {
  hfToken?: string | undefined;
  civitaiToken?: string | undefined;
  /** Extra headers for a plain URL's own host (never sent after a redirect to another host). */
  headers?: Record<string, string> | undefined;
  /** Mirrors or test servers standing in for the public hosts (`HF_ENDPOINT` style), as origins. */
  endpoints?: { huggingface?: string | undefined; civitai?: string | undefined } | undefined;
}

/** A URL made ready to download: where to fetch, which headers go to which host, what the host promises. */
export interface Source {
  kind: SourceKind;
  /** What the caller asked for, for messages. */
  original: string;
  /** The URL to fetch (`blob` → `resolve`, a Civitai page → its download URL). */
  url: string;
  /** `host[:port]` that alone receives `headers`; a redirect elsewhere (a CDN) gets none. */
  host: string;
  headers: Record<string, string>;
  filename?: string;
  expectedSha256?: string;
  /** True when `headers` carry a credential. */
  hasToken: boolean;
  hf?: HfFile;
  civitai?: CivitaiFile;
}

/** Resolves a weight URL: Hugging Face and Civitai conventions, auth for the source host only. Throws E_DOWNLOAD. */
export function resolveSource(url: string, options: SourceOptions = {}): Source {
  const parsed = _parseUrl(url);
  if (_matchesHost(parsed, options.endpoints?.huggingface ?? HF_DEFAULT_ENDPOINT, HF_HOSTS)) {
    const hf = parseHfUrl(parsed);
    if (hf) return _withToken({ kind: "huggingface", original: url, url: hf.url, hf }, hfFilename(hf), options.hfToken);
  }
  if (_matchesHost(parsed, options.endpoints?.civitai ?? CIVITAI_DEFAULT_ENDPOINT, CIVITAI_HOSTS)) {
    const civitai = parseCivitaiUrl(parsed);
    if (civitai) {
      return _withToken({ kind: "civitai", original: url, url: civitai.url, civitai }, undefined, options.civitaiToken);
    }
  }
  const headers = options.headers ?? {};
  return {
    kind: "http",
    original: url,
    url: parsed.href,
    host: parsed.host,
    headers,
    hasToken: Object.keys(headers).some((key) => key.toLowerCase() === "authorization"),
    ...(_lastSegment(parsed) ? { filename: _lastSegment(parsed) } : {}),
  };
}

/** The headers a request to `url` may carry: the source's credentials only on the source's own host. */
export function headersFor(source: Source, url: string): Record<string, string> {
  return new URL(url).host === source.host ? source.headers : {};
}

/** The final error for a non-retryable HTTP status, worded for the host (gated model, token, licence page, 404). */
export function httpError(source: Source, status: number, headers: Headers): WorkerError {
  if (source.hf && [401, 403, 404].includes(status)) return hfHttpError(source.hf, status, headers, source.hasToken);
  if (source.civitai && [401, 403, 404].includes(status))
    return civitaiHttpError(source.civitai, status, source.hasToken);
  const details = { status, url: source.original };
  if (status === 401 || status === 403) {
    return new WorkerError(
      "E_DOWNLOAD",
      `${source.original} refused access (HTTP ${status}): the file needs credentials this URL does not carry`,
      { details },
    );
  }
  if (status === 404 || status === 410) {
    return new WorkerError("E_DOWNLOAD", `${source.original} does not exist (HTTP ${status}): check the URL`, {
      details,
    });
  }
  return new WorkerError("E_DOWNLOAD", `${source.original} answered HTTP ${status} instead of the file`, { details });
}

/** The error for a web page served where a file was expected (a login wall, a `/blob/` page, a model page). */
export function htmlError(source: Source): WorkerError {
  const hint =
    source.kind === "civitai"
      ? source.hasToken
        ? "Civitai sent a login or error page: check CIVITAI_TOKEN and that the account can download it"
        : "Civitai sent a login page: this download needs CIVITAI_TOKEN"
      : source.kind === "huggingface"
        ? "use the file's /resolve/ URL, and HF_TOKEN if the repo is gated"
        : "the URL points at a web page, not at the file; use the direct download link";
  return new WorkerError("E_DOWNLOAD", `${source.original} returned an HTML page instead of the file: ${hint}`, {
    details: { url: source.original, discard: true },
  });
}

function _withToken<T extends Pick<Source, "kind" | "original" | "url" | "hf" | "civitai">>(
  base: T,
  filename: string | undefined,
  token: string | undefined,
): Source {
  return {
    ...base,
    host: new URL(base.url).host,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    hasToken: Boolean(token),
    ...(filename ? { filename } : {}),
  };
}

function _parseUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (error) {
    throw new WorkerError("E_DOWNLOAD", `not a URL: ${JSON.stringify(url)}; give an https:// download link`, {
      cause: error,
    });
  }
  if (parsed.protocol !== "https:" && parsed.protocol !== "http:") {
    throw new WorkerError("E_DOWNLOAD", `cannot download ${parsed.protocol} URLs (${url}); give an https:// link`);
  }
  return parsed;
}

function _matchesHost(url: URL, endpoint: string, publicHosts: readonly string[]): boolean {
  return url.host === new URL(endpoint).host || isAllowedHost(url.hostname, publicHosts);
}

function _lastSegment(url: URL): string | undefined {
  const last = url.pathname.split("/").pop() ?? "";
  try {
    return safeFilename(decodeURIComponent(last));
  } catch {
    return safeFilename(last);
  }
}
