import { z } from "zod";
import type { LookupHttp } from "../http.ts";
import { baseName, type Candidate, closeName, exactConfidence, type WantedWeight } from "./types.ts";

/** `GET /api/models?search=` items (only the fields used). */
const SearchHits = z.array(z.object({ id: z.string(), downloads: z.number().optional() }).loose());
/** `GET /api/models/{repo}/tree/{rev}?recursive=true` entries: LFS files carry their sha256 as `lfs.oid`. */
const Tree = z.array(
  z
    .object({
      type: z.string(),
      path: z.string(),
      size: z.number().optional(),
      lfs: z.object({ oid: z.string(), size: z.number() }).nullish(),
    })
    .loose(),
);
/** `GET /api/models/{repo}`: `gated` is false, "auto" or "manual". */
const RepoInfo = z.object({ id: z.string(), gated: z.union([z.boolean(), z.string()]).optional() }).loose();

/** Where and how to ask Hugging Face. */
export interface HfLookup {
  http: LookupHttp;
  endpoint: string;
  token?: string | undefined;
  /** Repos whose tree is read per search. */
  repos?: number;
}

const REPOS_PER_SEARCH = 4;
// precision and packaging suffixes people add to re-uploads of the same weights
const SUFFIX_RE = /([-_.](fp8(_e4m3fn)?|fp16|bf16|fp32|pruned|emaonly|ema|scaled|safetensors))+$/i;
// a version tag at the end (`-v2`, `_v1.5`): the repo usually carries the name without it
const VERSION_RE = /[-_.]v\d+(\.\d+)*$/i;

/** The search terms for a file: its stem, then without precision/packaging suffixes, then without a version tag. */
export function searchTerms(name: string): string[] {
  const stem = baseName(name).replace(/\.[A-Za-z0-9]+$/, "");
  const plain = stem.replace(SUFFIX_RE, "");
  return [...new Set([stem, plain, plain.replace(VERSION_RE, "")])].filter((term) => term.length >= 3);
}

/**
 * Searches model repos by the file's name, then reads the most downloaded repos' file trees for a file of that
 * exact name (with its size and the sha256 of its LFS object); close names are kept only when nothing exact is
 * found. Gated repos are marked, so nothing is downloaded that needs HF_TOKEN and an accepted licence.
 */
export async function fromHuggingFace(
  lookup: HfLookup,
  wanted: WantedWeight,
): Promise<{ candidates: Candidate[]; errors: string[] }> {
  const headers: Record<string, string> = lookup.token ? { authorization: `Bearer ${lookup.token}` } : {};
  const base = lookup.endpoint.replace(/\/+$/, "");
  const errors: string[] = [];
  const close: Candidate[] = [];
  for (const term of searchTerms(wanted.name)) {
    const search = await lookup.http.json(
      `${base}/api/models?search=${encodeURIComponent(term)}&sort=downloads&direction=-1&limit=20`,
      SearchHits,
      headers,
    );
    if (!search.ok) {
      if (search.status !== 404) errors.push(`Hugging Face search: ${search.reason}`);
      continue;
    }
    const exact: Candidate[] = [];
    for (const repo of search.value.slice(0, lookup.repos ?? REPOS_PER_SEARCH)) {
      const tree = await lookup.http.json(`${base}/api/models/${repo.id}/tree/main?recursive=true`, Tree, headers);
      if (!tree.ok) continue;
      for (const entry of tree.value.filter((e) => e.type === "file")) {
        const found = { size: entry.lfs?.size ?? entry.size, sha256: entry.lfs?.oid };
        const candidate = {
          source: "huggingface" as const,
          url: `${base}/${repo.id}/resolve/main/${entry.path.split("/").map(encodeURIComponent).join("/")}`,
          name: baseName(entry.path),
          ref: repo.id,
          ..._defined(found),
        };
        if (baseName(entry.path) === baseName(wanted.name)) {
          const confidence = exactConfidence(wanted, found);
          if (confidence) exact.push({ ...candidate, confidence });
        } else if (closeName(entry.path, wanted.name) && /\.(safetensors|sft|ckpt|pt|pth|bin|gguf)$/i.test(entry.path))
          close.push({ ...candidate, confidence: "close" });
      }
    }
    if (exact.length > 0) return { candidates: await _markGated(lookup, base, exact, headers), errors };
  }
  return { candidates: close.slice(0, 5), errors };
}

async function _markGated(
  lookup: HfLookup,
  base: string,
  candidates: Candidate[],
  headers: Record<string, string>,
): Promise<Candidate[]> {
  const gated = new Map<string, boolean>();
  for (const repo of new Set(candidates.map((c) => c.ref as string))) {
    const info = await lookup.http.json(`${base}/api/models/${repo}`, RepoInfo, headers);
    gated.set(repo, info.ok ? Boolean(info.value.gated) : false);
  }
  return candidates.map((c) => (gated.get(c.ref as string) ? { ...c, gated: true } : c));
}

function _defined(found: { size: number | undefined; sha256: string | undefined }) {
  return {
    ...(found.size !== undefined ? { size: found.size } : {}),
    ...(found.sha256 ? { sha256: found.sha256 } : {}),
  };
}
