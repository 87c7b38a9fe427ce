import { WorkerError } from "../errors.ts";
import { safeFilename } from "./headers.ts";

export const HF_DEFAULT_ENDPOINT = "https://huggingface.co";
export const HF_HOSTS = ["huggingface.co", "hf.co"] as const;
const REPO_TYPES = new Set(["datasets", "spaces"]);

/** Where a Hugging Face file lives: repo (with its `datasets/`/`spaces/` prefix when any), revision and path. */
export interface HfFile {
  /** The repo as it appears in URLs, e.g. `black-forest-labs/FLUX.1-dev` or `datasets/org/name`. */
  repo: string;
  revision: string;
  path: string;
  /** The repo's page, where a gated model's licence is accepted. */
  page: string;
  /** The download URL, always `/resolve/` (a `/blob/` URL is an HTML page). */
  url: string;
}

/** Parses `<endpoint>/<repo>/(resolve|blob)/<rev>/<path>`; undefined when `url` is not such a URL. */
export function parseHfUrl(url: URL): HfFile | undefined {
  const parts = url.pathname.split("/").filter(Boolean);
  const marker = parts.findIndex((part, index) => index > 0 && (part === "resolve" || part === "blob"));
  if (marker < 1 || parts.length < marker + 3) return undefined;
  const repoParts = parts.slice(0, marker);
  // a canonical repo has no org (`gpt2`); a typed repo needs one more segment than its prefix
  if (REPO_TYPES.has(repoParts[0] ?? "") && repoParts.length < 2) return undefined;
  const repo = repoParts.join("/");
  const revision = parts[marker + 1] as string;
  const path = parts.slice(marker + 2).join("/");
  const resolved = new URL(url.href);
  resolved.pathname = `/${repo}/resolve/${revision}/${path}`;
  return { repo, revision, path, page: `${url.origin}/${repo}`, url: resolved.href };
}

/** The file name a Hugging Face URL implies (the last path segment, decoded). */
export function hfFilename(file: HfFile): string | undefined {
  const last = file.path.split("/").pop() ?? "";
  try {
    return safeFilename(decodeURIComponent(last));
  } catch {
    return safeFilename(last);
  }
}

/** An operator-facing error for a final 401/403/404 from Hugging Face, using its `X-Error-Code`. */
export function hfHttpError(file: HfFile, status: number, headers: Headers, hasToken: boolean): WorkerError {
  const code = headers.get("x-error-code") ?? "";
  const where = `${file.repo} (${file.path} at ${file.revision})`;
  const details = { status, errorCode: code || undefined, page: file.page };
  const tokenHelp = "create a read token at https://huggingface.co/settings/tokens and set HF_TOKEN";
  if (status === 401 && code === "GatedRepo") {
    const message = hasToken
      ? `${where} is gated and HF_TOKEN was not accepted for it: open ${file.page}, accept the licence with the account that owns the token, and check the token is valid`
      : `${where} is gated: open ${file.page}, log in and accept the licence, then ${tokenHelp}`;
    return new WorkerError("E_DOWNLOAD", message, { details });
  }
  if (status === 401) {
    const message = hasToken
      ? `Hugging Face refused HF_TOKEN for ${where} (invalid or expired token, or a private repo it cannot read): check the token and the repo at ${file.page}`
      : `${where} is private, gated or does not exist: check the URL, or ${tokenHelp} (for a gated model also accept its licence at ${file.page})`;
    return new WorkerError("E_DOWNLOAD", message, { details });
  }
  if (status === 403) {
    return new WorkerError(
      "E_DOWNLOAD",
      `HF_TOKEN has no access to ${where}: open ${file.page} and accept the licence or request access with the account that owns the token (a fine-grained token also needs "read access to public gated repos")`,
      { details },
    );
  }
  if (status === 404) {
    const what = code === "RevisionNotFound" ? `revision ${file.revision}` : `file ${file.path}`;
    return new WorkerError(
      "E_DOWNLOAD",
      `${what} not found in ${file.repo} on Hugging Face (HTTP 404): check the URL`,
      {
        details,
      },
    );
  }
  const reason = headers.get("x-error-message") ?? `HTTP ${status}`;
  return new WorkerError("E_DOWNLOAD", `Hugging Face refused ${where}: ${reason}`, { details });
}
