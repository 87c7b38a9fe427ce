import { z } from "zod";
import type { LookupHttp } from "../http.ts";
import { searchTerms } from "./huggingface.ts";
import { baseName, type Candidate, closeName, exactConfidence, type WantedWeight } from "./types.ts";

/** A model version's file (`sizeKB` is KiB as a float; hashes are upper-case hex). */
const CivitaiFile = z
  .object({
    id: z.number().optional(),
    name: z.string(),
    sizeKB: z.number().optional(),
    hashes: z.record(z.string(), z.string()).optional(),
    downloadUrl: z.string(),
    primary: z.boolean().optional(),
  })
  .loose();
const Version = z
  .object({
    id: z.number(),
    modelId: z.number().optional(),
    name: z.string().optional(),
    files: z.array(CivitaiFile),
    model: z.object({ name: z.string() }).loose().optional(),
  })
  .loose();
const Models = z
  .object({
    items: z.array(
      z.object({ id: z.number(), name: z.string(), modelVersions: z.array(Version.partial({ id: true })) }).loose(),
    ),
  })
  .loose();

/** Where and how to ask Civitai. */
export interface CivitaiLookup {
  http: LookupHttp;
  baseUrl: string;
  token?: string | undefined;
}

/**
 * By hash when one is known (`/api/v1/model-versions/by-hash/{sha256}`: an exact, verified answer), else by
 * name (`/api/v1/models?query=`): files of the found versions with the exact name, or close names.
 */
export async function fromCivitai(
  lookup: CivitaiLookup,
  wanted: WantedWeight,
): Promise<{ candidates: Candidate[]; errors: string[] }> {
  const base = lookup.baseUrl.replace(/\/+$/, "");
  const headers: Record<string, string> = lookup.token ? { authorization: `Bearer ${lookup.token}` } : {};
  const errors: string[] = [];
  if (wanted.sha256) {
    const version = await lookup.http.json(`${base}/api/v1/model-versions/by-hash/${wanted.sha256}`, Version, headers);
    if (version.ok) {
      const file = version.value.files.find((f) => f.hashes?.SHA256?.toLowerCase() === wanted.sha256?.toLowerCase());
      if (file) return { candidates: [_candidate(file, "exact+verified", version.value.model?.name)], errors };
    } else if (version.status !== 404) errors.push(`Civitai by hash: ${version.reason}`);
  }
  const close: Candidate[] = [];
  for (const term of searchTerms(wanted.name)) {
    const models = await lookup.http.json(
      `${base}/api/v1/models?query=${encodeURIComponent(term)}&limit=10`,
      Models,
      headers,
    );
    if (!models.ok) {
      if (models.status !== 404) errors.push(`Civitai search: ${models.reason}`);
      continue;
    }
    const exact: Candidate[] = [];
    for (const model of models.value.items) {
      for (const file of model.modelVersions.flatMap((v) => v.files)) {
        const found = _found(file);
        if (file.name === baseName(wanted.name)) {
          const confidence = exactConfidence(wanted, found);
          if (confidence) exact.push(_candidate(file, confidence, model.name));
        } else if (closeName(file.name, wanted.name)) close.push(_candidate(file, "close", model.name));
      }
    }
    if (exact.length > 0) return { candidates: exact, errors };
  }
  return { candidates: close.slice(0, 5), errors };
}

function _found(file: z.infer<typeof CivitaiFile>) {
  const sha256 = file.hashes?.SHA256?.toLowerCase();
  // sizeKB × 1024 is right only to a few bytes: never used to verify, only shown
  return { ...(sha256 ? { sha256 } : {}) };
}

function _candidate(
  file: z.infer<typeof CivitaiFile>,
  confidence: Candidate["confidence"],
  model: string | undefined,
): Candidate {
  const sha256 = file.hashes?.SHA256?.toLowerCase();
  return {
    source: "civitai",
    url: file.downloadUrl,
    name: file.name,
    confidence,
    ...(model ? { ref: model } : {}),
    ...(file.sizeKB !== undefined ? { size: Math.round(file.sizeKB * 1024) } : {}),
    ...(sha256 ? { sha256 } : {}),
  };
}
