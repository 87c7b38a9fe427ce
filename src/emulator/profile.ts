/**
 * `--comfyui-version`: which ComfyUI the emulator behaves like. Both profiles share the protocol; "new"
 * (ComfyUI 0.28.2, read from its source and a running copy) adds what newer releases do differently.
 */

/** The behaviours that differ between the profiles. */
export interface ComfyProfile {
  name: "oldest" | "old" | "new";
  /** What /system_stats and the start-up banner report (ComfyUI's version, marked as the emulator). */
  version: string;
  /** POST /prompt refuses a prompt_id that is not a canonical lowercase UUID (400 invalid_prompt_id; v0.25+). */
  strictPromptId: boolean;
  /** POST /api/jobs/{id}/cancel and /api/jobs/cancel exist (v0.26+). */
  jobCancel: boolean;
  /** Input files are realpath-checked, so a symlink in input/ pointing outside it is an invalid file (v0.28+). */
  inputContainment: boolean;
  /** A prompt's `extra_data.preview_method` turns previews on or off for that prompt alone (execution.py). */
  promptPreviewMethod: boolean;
  /**
   * An unknown node type (or a node without class_type) is a 400 `missing_node_type` naming the node's title,
   * as a running 0.28.2 answers; the 0.3 line said `invalid_prompt` "Cannot execute because node X does not exist."
   * (which release changed it is not known here, so the old profile keeps the older answer).
   */
  missingNodeType: boolean;
}

const PROFILES: Record<ComfyProfile["name"], ComfyProfile> = {
  // the 0.3 line (0.3.64, autumn 2025): no per-prompt preview method yet
  oldest: {
    name: "oldest",
    version: "0.3.64",
    strictPromptId: false,
    jobCancel: false,
    inputContainment: false,
    promptPreviewMethod: false,
    missingNodeType: false,
  },
  old: {
    name: "old",
    version: "0.14.1",
    strictPromptId: false,
    jobCancel: false,
    inputContainment: false,
    // v0.14.1's execution.py already calls set_preview_method(extra_data.get("preview_method")) (PR #11261, 2025-12)
    promptPreviewMethod: true,
    missingNodeType: false,
  },
  new: {
    name: "new",
    version: "0.28.2",
    strictPromptId: true,
    jobCancel: true,
    inputContainment: true,
    promptPreviewMethod: true,
    missingNodeType: true,
  },
};

/** The names `--comfyui-version` takes: old, new, current, or a release (0.14, 0.28.2, …). */
export const PROFILE_HELP =
  "oldest (0.3.64), old (0.14.1) or new (0.28.2, default); a release number picks the nearest";

/** Resolves a `--comfyui-version` value; undefined when it names neither profile nor a release. */
export function resolveProfile(value: string | undefined): ComfyProfile | undefined {
  const text = (value ?? "new").trim().toLowerCase().replace(/^v/, "");
  if (text === "oldest") return PROFILES.oldest;
  if (text === "old") return PROFILES.old;
  if (text === "new" || text === "current") return PROFILES.new;
  const match = /^(\d+)\.(\d+)(?:\.\d+)?$/.exec(text);
  if (!match) return undefined;
  // releases before the first "new" behaviour (client prompt ids validated, v0.25) act like the old profile
  const [major, minor] = [Number(match[1]), Number(match[2])];
  if (major === 0 && minor < 4) return PROFILES.oldest;
  return major === 0 && minor < 25 ? PROFILES.old : PROFILES.new;
}

/** What /system_stats reports as comfyui_version: the release it behaves like, marked as not ComfyUI. */
export function reportedVersion(profile: ComfyProfile): string {
  return `${profile.version}+emulator`;
}

const CANONICAL_UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** comfy_execution/jobs.validate_job_id: a string that str(uuid.UUID(x)) gives back unchanged. */
export function isCanonicalUuid(value: unknown): value is string {
  return typeof value === "string" && CANONICAL_UUID_RE.test(value);
}
