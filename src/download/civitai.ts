import { z } from "zod";
import { WorkerError } from "../errors.ts";
import { isSha256 } from "./headers.ts";

export const CIVITAI_DEFAULT_ENDPOINT = "https://civitai.com";
export const CIVITAI_HOSTS = ["civitai.com", "civitai.red"] as const;
const LOOKUP_TIMEOUT_MS = 15_000;

/** A Civitai model version and the URL that downloads it. */
export interface CivitaiFile {
  versionId: string;
  /** `<endpoint>/api/download/models/<id>`, keeping file-selecting query filters (`type`, `format`, `fileId`…). */
  url: string;
  /** Where a person can look at the version (and log in). */
  page: string;
  /** The API root for `/api/v1/model-versions/<id>`. */
  api: string;
}

/**
 * Parses `/api/download/models/<id>`, `/api/v1/model-versions/<id>` and model pages with
 * `?modelVersionId=<id>`; undefined for other paths. A model page without a version is refused:
 * "the newest version" changes under a manifest, so we ask for the exact one.
 */
export function parseCivitaiUrl(url: URL): CivitaiFile | undefined {
  const origin = url.origin;
  const make = (versionId: string, query = ""): CivitaiFile => ({
    versionId,
    url: `${origin}/api/download/models/${versionId}${query}`,
    page: `${origin}/model-versions/${versionId}`,
    api: `${origin}/api/v1`,
  });
  const download = /^\/api\/download\/models\/(\d+)\/?$/.exec(url.pathname);
  if (download?.[1]) return make(download[1], url.search);
  const version = /^\/api\/v1\/model-?versions\/(\d+)\/?$/i.exec(url.pathname);
  if (version?.[1]) return make(version[1]);
  const model = /^\/models\/(\d+)(?:\/[^/]*)?\/?$/.exec(url.pathname);
  if (!model) return undefined;
  const versionId = url.searchParams.get("modelVersionId") ?? url.searchParams.get("version");
  if (versionId && /^\d+$/.test(versionId)) return make(versionId);
  throw new WorkerError(
    "E_DOWNLOAD",
    `${url.href} names a Civitai model but not a version: open it, pick the version, and use the URL with ?modelVersionId=<id> (or ${origin}/api/download/models/<id>)`,
  );
}

/** An operator-facing error for a final 401/403/404 from Civitai. */
export function civitaiHttpError(file: CivitaiFile, status: number, hasToken: boolean): WorkerError {
  const details = { status, page: file.page };
  if (status === 401 || status === 403) {
    const message = hasToken
      ? `Civitai refused CIVITAI_TOKEN for model version ${file.versionId} (HTTP ${status}): check the key at https://civitai.com/user/account and that the account can download ${file.page}`
      : `Civitai requires a logged-in download for model version ${file.versionId} (HTTP ${status}): create an API key at https://civitai.com/user/account and set CIVITAI_TOKEN`;
    return new WorkerError("E_DOWNLOAD", message, { details });
  }
  if (status === 404) {
    return new WorkerError(
      "E_DOWNLOAD",
      `Civitai has no downloadable file for model version ${file.versionId} (HTTP 404; unknown, unpublished, or no file matches the URL's filters): check ${file.page}`,
      { details },
    );
  }
  return new WorkerError("E_DOWNLOAD", `Civitai refused model version ${file.versionId} (HTTP ${status})`, { details });
}

// only what we read of GET /api/v1/model-versions/<id>; the payload has many more fields
const VersionFiles = z.object({
  files: z.array(
    z.looseObject({
      name: z.string(),
      primary: z.boolean().optional(),
      hashes: z.looseObject({ SHA256: z.string().optional() }).optional(),
    }),
  ),
});

/**
 * The sha256 Civitai declares for the file named `filename` in a version (or its primary file).
 * Best effort: any failure yields undefined, and the download then records the hash it computed.
 */
export async function fetchCivitaiSha256(
  file: CivitaiFile,
  filename: string | undefined,
  headers: Record<string, string>,
  signal?: AbortSignal,
): Promise<string | undefined> {
  try {
    const timeout = AbortSignal.timeout(LOOKUP_TIMEOUT_MS);
    const res = await fetch(`${file.api}/model-versions/${file.versionId}`, {
      headers: { accept: "application/json", ...headers },
      signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
    });
    if (!res.ok) return undefined;
    const parsed = VersionFiles.safeParse(await res.json());
    if (!parsed.success) return undefined;
    const files = parsed.data.files;
    // a known name must match exactly: URL filters can pick a file other than the primary one
    const match = filename ? files.find((entry) => entry.name === filename) : files.find((entry) => entry.primary);
    const sha = match?.hashes?.SHA256;
    // Civitai prints hashes in upper case
    return sha && isSha256(sha) ? sha.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}
