import type { WeightReport } from "../weights/locate.ts";
import type { LookupHttp } from "./http.ts";
import { fromCivitai } from "./sources/civitai.ts";
import { fromHuggingFace } from "./sources/huggingface.ts";
import { fromManifests, fromWorkflow, type ManifestIndex } from "./sources/local.ts";
import { fromModelList, type ModelEntry } from "./sources/manager.ts";
import type { Candidate, WantedWeight } from "./sources/types.ts";

/** What was found for one missing weight. */
export interface Resolution {
  /** `resolved`: one trustworthy source; `ambiguous`: several different exact files; `close_only`: similar names. */
  status: "resolved" | "ambiguous" | "close_only" | "not_found";
  chosen?: Candidate;
  /** Every candidate considered worth showing, best first. */
  candidates: Candidate[];
  /** Lookups that failed (a host down, a 429 that outlasted the retries, a deadline). */
  errors: string[];
}

/** Everything the resolver may ask, in SPEC order. */
export interface ResolveContext {
  kits: ManifestIndex;
  manifests: ManifestIndex;
  /** ComfyUI-Manager's list, or why it could not be read. */
  modelList: () => Promise<ModelEntry[] | { error: string }>;
  http: LookupHttp;
  hfEndpoint: string;
  hfToken?: string | undefined;
  civitaiUrl: string;
  civitaiToken?: string | undefined;
}

/**
 * Asks each source in order — the workflow's `models` metadata, built-in kits, user manifests, ComfyUI-Manager's
 * model list, Hugging Face, Civitai — and stops at the first that knows the exact file. Several different exact
 * files (other sha256s, or unknown ones at different URLs) make the weight ambiguous: shown, never downloaded.
 */
export async function resolveWeight(weight: WeightReport, ctx: ResolveContext): Promise<Resolution> {
  const wanted: WantedWeight = {
    folder: weight.folder,
    name: weight.name,
    ...(weight.size !== undefined ? { size: weight.size } : {}),
    ...(weight.source?.sha256 ? { sha256: weight.source.sha256 } : {}),
  };
  const declared =
    fromWorkflow(weight) ?? fromManifests("kit", ctx.kits, wanted) ?? fromManifests("manifest", ctx.manifests, wanted);
  if (declared) return { status: "resolved", chosen: declared, candidates: [declared], errors: [] };
  const errors: string[] = [];
  const close: Candidate[] = [];
  const list = await ctx.modelList();
  const steps: Array<() => Promise<Candidate[]>> = [
    async () => {
      if ("error" in list) errors.push(`ComfyUI-Manager model list: ${list.error}`);
      return "error" in list ? [] : fromModelList(list, wanted);
    },
    async () =>
      _collect(await fromHuggingFace({ http: ctx.http, endpoint: ctx.hfEndpoint, token: ctx.hfToken }, wanted), errors),
    async () =>
      _collect(await fromCivitai({ http: ctx.http, baseUrl: ctx.civitaiUrl, token: ctx.civitaiToken }, wanted), errors),
  ];
  for (const step of steps) {
    const found = await step();
    const exact = found.filter((c) => c.confidence !== "close");
    close.push(...found.filter((c) => c.confidence === "close"));
    if (exact.length > 0) return _decide(exact, close, errors);
  }
  return { status: close.length > 0 ? "close_only" : "not_found", candidates: close.slice(0, 8), errors };
}

function _collect(result: { candidates: Candidate[]; errors: string[] }, errors: string[]): Candidate[] {
  errors.push(...result.errors);
  return result.candidates;
}

// exact hits that are provably the same file (one sha256, or one URL) resolve; different files are ambiguous
function _decide(exact: Candidate[], close: Candidate[], errors: string[]): Resolution {
  const ranked = [...exact].sort((a, b) => _rank(b) - _rank(a));
  const hashes = new Set(ranked.map((c) => c.sha256?.toLowerCase()).filter(Boolean));
  const unhashed = ranked.filter((c) => !c.sha256);
  const same =
    (hashes.size === 1 && unhashed.length === 0) || (hashes.size === 0 && new Set(ranked.map((c) => c.url)).size === 1);
  const chosen = ranked[0] as Candidate;
  if (same || ranked.length === 1)
    return { status: "resolved", chosen, candidates: [...ranked, ...close].slice(0, 8), errors };
  return { status: "ambiguous", candidates: [...ranked, ...close].slice(0, 8), errors };
}

function _rank(candidate: Candidate): number {
  return candidate.confidence === "exact+verified" ? 2 : 1;
}
