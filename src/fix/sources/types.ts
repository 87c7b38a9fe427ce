/** Where a candidate came from, in the order `fix` asks. */
export const SOURCE_ORDER = ["workflow", "kit", "manifest", "comfyui-manager", "huggingface", "civitai"] as const;
export type SourceName = (typeof SOURCE_ORDER)[number];

/**
 * How sure a match is: the exact file name with a matching size or sha256 (`exact+verified`), the exact name
 * alone (`exact`), or only a similar name (`close`, never downloaded without confirmation).
 */
export type Confidence = "exact+verified" | "exact" | "close";

/** One place a missing weight could be downloaded from. */
export interface Candidate {
  source: SourceName;
  url: string;
  /** The file's name at the source (differs from the wanted name for close matches). */
  name: string;
  confidence: Confidence;
  size?: number;
  sha256?: string;
  /** Hugging Face repo id, Civitai model name, manifest path, list entry name… */
  ref?: string;
  /** The host needs a token and an accepted licence. */
  gated?: boolean;
}

/** What a missing weight is known by when looking it up. */
export interface WantedWeight {
  folder: string;
  name: string;
  /** Known from the workflow's metadata. */
  size?: number;
  sha256?: string;
}

/** The file-name part of a weight name (`sub/x.safetensors` → `x.safetensors`). */
export function baseName(name: string): string {
  return name.split(/[/\\]/).pop() ?? name;
}

/** Confidence of an exact-name hit, raised when a known size or sha256 agrees (and never when one disagrees). */
export function exactConfidence(
  wanted: WantedWeight,
  found: { size?: number; sha256?: string },
): Confidence | undefined {
  if (wanted.sha256 && found.sha256)
    return wanted.sha256.toLowerCase() === found.sha256.toLowerCase() ? "exact+verified" : undefined;
  if (wanted.size !== undefined && found.size !== undefined)
    return wanted.size === found.size ? "exact+verified" : undefined;
  return "exact";
}

/** A loose similarity of two file names (same stem after removing separators and case), for close matches. */
export function closeName(a: string, b: string): boolean {
  const norm = (s: string) =>
    baseName(s)
      .toLowerCase()
      .replace(/\.[a-z0-9]+$/, "")
      .replace(/[^a-z0-9]/g, "");
  const x = norm(a);
  const y = norm(b);
  return x.length > 3 && y.length > 3 && x !== y && (x.includes(y) || y.includes(x));
}
