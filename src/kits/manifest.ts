/**
 * Model kits (SPEC §7): YAML manifests listing the files a model's standard ComfyUI workflow needs.
 *
 * The built-in kits in `manifests/` are imported as text so the compiled binary carries them; user
 * manifests (`pull --manifest FILE`) go through the same schema via `loadManifest`.
 */
import { readFile } from "node:fs/promises";
import type { Document, LineCounter } from "yaml";
import { z } from "zod";
import flux1Dev from "../../manifests/flux1-dev.yaml" with { type: "text" };
import flux1DevFp8 from "../../manifests/flux1-dev-fp8.yaml" with { type: "text" };
import flux1Schnell from "../../manifests/flux1-schnell.yaml" with { type: "text" };
import sd15 from "../../manifests/sd15.yaml" with { type: "text" };
import sd35Medium from "../../manifests/sd35-medium.yaml" with { type: "text" };
import sdxl from "../../manifests/sdxl.yaml" with { type: "text" };
import wan22Ti2v5b from "../../manifests/wan22-ti2v-5b.yaml" with { type: "text" };
import { WorkerError } from "../errors.ts";
import { describeProblem } from "../lib/issues.ts";
import { yaml } from "../lib/lazy-modules.ts";
import { DEFAULT_FOLDERS } from "../weights/folders.ts";
import { FOLDER_ALIASES } from "../weights/loaders.ts";

// bun-types types *.yaml imports as `any`; with `type: "text"` each one is the file's text
const BUILTIN_TEXTS: Readonly<Record<string, string>> = {
  "flux1-dev": flux1Dev,
  "flux1-dev-fp8": flux1DevFp8,
  "flux1-schnell": flux1Schnell,
  sd15,
  "sd35-medium": sd35Medium,
  sdxl,
  "wan22-ti2v-5b": wan22Ti2v5b,
};

/** Folder keys a kit file may name: ComfyUI's model folders plus the legacy `unet` and `clip`. */
export const KIT_FOLDERS: readonly string[] = [...Object.keys(DEFAULT_FOLDERS), ...Object.keys(FOLDER_ALIASES)];

const KIT_NAME_RE = /^[a-z0-9][a-z0-9._-]*$/;
const SHA256_RE = /^[0-9a-f]{64}$/;
const HTTPS_URL_RE = /^https:\/\/[^\s/?#]+[^\s]*$/;
// plain http only to this machine: a local mirror or cache (and the tests' weight host), never the network
const FILE_URL_RE = /^(?:https:\/\/[^\s/?#]+|http:\/\/(?:127\.0\.0\.1|localhost|\[::1\])(?::\d+)?(?=[/?#]|$))[^\s]*$/;
// relative, "/"-separated, no empty, "." or ".." segment, no backslash, colon or NUL
const FILE_NAME_RE = /^(?!\/)(?!.*\/$)(?!.*\/\/)(?!(?:.*\/)?\.\.?(?:\/|$))[^\\:\0]+$/;
const MAX_ISSUES_SHOWN = 10;

/** One file of a kit: where it goes (folder + name) and where it comes from. */
export const ManifestFile = z.strictObject({
  folder: z
    .enum(KIT_FOLDERS as [string, ...string[]], {
      error: "not a ComfyUI model folder key (checkpoints, diffusion_models, text_encoders, vae, loras, …)",
    })
    .describe("ComfyUI model folder key the file belongs in (folder_paths.py)"),
  name: z
    .string()
    .regex(FILE_NAME_RE, { error: "must be a relative path inside the folder (no '..', no leading '/')" })
    .describe("file name as the loader node's widget shows it; may contain '/'-separated subfolders"),
  url: z
    .string()
    .regex(FILE_URL_RE, { error: "expected an https:// URL (plain http:// only to 127.0.0.1 or localhost)" })
    .refine((value) => URL.canParse(value), { error: "expected an https:// URL" })
    .describe(
      "direct download URL (Hugging Face resolve URL, Civitai download URL, …); http:// only for a mirror on this machine",
    ),
  sha256: z
    .string()
    .regex(SHA256_RE, { error: "expected 64 lower-case hex digits" })
    .optional()
    .describe("sha256 of the file's content, checked after download"),
  size: z
    .number({ error: "expected a whole number of bytes" })
    .int({ error: "expected a whole number of bytes" })
    .positive({ error: "expected a positive number of bytes" })
    .optional()
    .describe("size in bytes"),
  gated: z
    .boolean({ error: "expected true or false" })
    .default(false)
    .describe("the host needs a token and an accepted licence (e.g. a gated Hugging Face repo)"),
});
export type ManifestFile = z.infer<typeof ManifestFile>;

/** A kit manifest; (folder, name) pairs are unique, `unet`/`clip` counting as their canonical folders. */
export const Manifest = z
  .strictObject({
    name: z
      .string()
      .regex(KIT_NAME_RE, { error: "expected lower-case letters, digits, '.', '_' or '-'" })
      .describe("kit name, as `pull --kit` and PRELOAD_KIT spell it"),
    description: z.string().min(1, { error: "must not be empty" }).describe("one line: what the kit runs"),
    homepage: z
      .string()
      .regex(HTTPS_URL_RE, { error: "expected an https:// URL" })
      .optional()
      .describe("model card or project page"),
    license: z.string().min(1).optional().describe("licence the weights are published under"),
    files: z.array(ManifestFile).min(1, { error: "a kit needs at least one file" }),
  })
  .superRefine((manifest, ctx) => {
    const seen = new Set<string>();
    manifest.files.forEach((file, index) => {
      const key = `${FOLDER_ALIASES[file.folder] ?? file.folder}/${file.name}`;
      if (seen.has(key)) ctx.addIssue({ code: "custom", path: ["files", index, "name"], message: `${key} twice` });
      seen.add(key);
    });
  });
export type Manifest = z.infer<typeof Manifest>;

/** The JSON Schema of a manifest file, generated from `Manifest` (written to manifests/manifest.schema.json). */
export function manifestJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(Manifest, { io: "input", target: "draft-2020-12" });
  return { ...schema, title: "comfy-worker model kit manifest" };
}

/** Parses manifest YAML; throws E_INPUT naming `source`, the line and the key of every problem found. */
export function parseManifest(text: string, source: string): Manifest {
  const { LineCounter, parseDocument } = yaml();
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const yamlError = doc.errors[0];
  if (yamlError) {
    const line = lines.linePos(yamlError.pos[0]).line;
    const reason = yamlError.message.split("\n")[0];
    throw new WorkerError("E_INPUT", `${source}${line ? `:${line}` : ""}: invalid YAML (${reason})`, {
      details: { file: source, line },
    });
  }
  const value: unknown = doc.toJS();
  const parsed = Manifest.safeParse(value);
  if (parsed.success) return parsed.data;
  const problems = parsed.error.issues.map((issue) => _problem(issue, doc, lines, value));
  const shown = problems.slice(0, MAX_ISSUES_SHOWN).map((p) => `${source}${p.line ? `:${p.line}` : ""}: ${p.text}`);
  if (problems.length > shown.length) shown.push(`… and ${problems.length - shown.length} more`);
  throw new WorkerError("E_INPUT", `invalid manifest ${source}:\n  - ${shown.join("\n  - ")}`, {
    details: { file: source, problems },
  });
}

/** Reads and validates a manifest file; throws E_INPUT when it can't be read or is invalid. */
export async function loadManifest(path: string): Promise<Manifest> {
  const text = await readFile(path, "utf8").catch((error: NodeJS.ErrnoException) => {
    throw new WorkerError("E_INPUT", `manifest ${path}: cannot be read (${error.code ?? error.message})`, {
      cause: error,
    });
  });
  return parseManifest(text, path);
}

/** Every built-in kit, sorted by name; the manifests are part of the binary. */
export function listKits(): Manifest[] {
  return builtinKitNames().map((name) => loadKit(name));
}

/** The built-in kit `name`; throws E_USAGE listing the known kits when there is none. */
export function loadKit(name: string): Manifest {
  const text = Object.hasOwn(BUILTIN_TEXTS, name) ? BUILTIN_TEXTS[name] : undefined;
  if (text === undefined) {
    const known = builtinKitNames();
    throw new WorkerError("E_USAGE", `unknown kit "${name}"; the built-in kits are: ${known.join(", ")}`, {
      details: { kit: name, known },
    });
  }
  return parseManifest(text, `manifests/${name}.yaml`);
}

/** Names of the built-in kits, sorted. */
export function builtinKitNames(): string[] {
  return Object.keys(BUILTIN_TEXTS).sort();
}

// --- internal ---

type Problem = { key: string; line?: number; text: string };

function _problem(issue: z.core.$ZodIssue, doc: Document, lines: LineCounter, value: unknown): Problem {
  const path = issue.path.map((part) => (typeof part === "symbol" ? String(part) : part));
  const extra = issue.code === "unrecognized_keys" ? issue.keys : [];
  const keyPath = extra.length === 1 ? [...path, extra[0] as string] : path;
  const key = _keyName(keyPath);
  const line = _lineOf(doc, keyPath, lines);
  return { key, line, text: `${key}: ${_message(issue, extra, value)}` };
}

// in our words (lib/issues.ts), not zod's "Invalid input: expected object, received string"
function _message(issue: z.core.$ZodIssue, unknownKeys: string[], value: unknown): string {
  if (issue.code === "unrecognized_keys")
    return `unknown key${unknownKeys.length > 1 ? "s" : ""} ${unknownKeys.join(", ")}`;
  return describeProblem(issue, value);
}

/** `files[2].sha256` style, `(top level)` for the document itself. */
function _keyName(path: (string | number)[]): string {
  if (path.length === 0) return "(top level)";
  return path.map((part, i) => (typeof part === "number" ? `[${part}]` : i === 0 ? part : `.${part}`)).join("");
}

/** Line of the key at the end of `path`, else of the deepest node on it that exists. */
function _lineOf(doc: Document, path: (string | number)[], lines: LineCounter): number | undefined {
  for (let depth = path.length; depth >= 0; depth--) {
    const offset = _keyOffset(doc, path.slice(0, depth)) ?? _range(_node(doc, path.slice(0, depth)));
    if (offset !== undefined) return lines.linePos(offset).line;
  }
  return undefined;
}

function _node(doc: Document, path: (string | number)[]): unknown {
  return path.length === 0 ? doc.contents : doc.getIn(path, true);
}

// a mapping key's own position, so a value on the next lines still reports the key's line
function _keyOffset(doc: Document, path: (string | number)[]): number | undefined {
  const last = path.at(-1);
  if (typeof last !== "string") return undefined;
  const parent = _node(doc, path.slice(0, -1));
  const { isMap, isScalar } = yaml();
  if (!isMap(parent)) return undefined;
  const pair = parent.items.find((item) => isScalar(item.key) && item.key.value === last);
  return _range(pair?.key);
}

function _range(node: unknown): number | undefined {
  return (node as { range?: [number, number, number] } | null | undefined)?.range?.[0];
}
