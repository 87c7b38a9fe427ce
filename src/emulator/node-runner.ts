import type { NodeInfo } from "../comfy/object-info.ts";
import { nodeFrames, type PyFrame } from "./comfy-log.ts";
import type { EmulatorContext } from "./context.ts";
import { type FailureKind, failureOf } from "./failures.ts";
import { annotatedPath } from "./files.ts";
import { asLink, type Prompt, type PromptNode } from "./graph.ts";
import { loadModels } from "./model-load.ts";
import { MAX_PROGRESS_STEPS } from "./options.ts";
import { saveOutputs, type UiOutput } from "./outputs.ts";
import { concatBytes, encodePng, gradientImage, pngSize } from "./png.ts";
import { computeOutputs, type ResolvedInputs, type Value } from "./values.ts";

/** A node raised: becomes `execution_error` with these Python-looking facts. */
export class NodeFailure extends Error {
  override name = "NodeFailure";
  constructor(
    readonly type: string,
    message: string,
    readonly frames: PyFrame[],
  ) {
    super(message);
  }
}

/** /interrupt reached the running prompt (ComfyUI's InterruptProcessingException). */
export class Interrupted extends Error {
  override name = "Interrupted";
}

/** What one prompt run needs from its caller to execute a node. */
export interface NodeRun {
  promptId: string;
  prompt: Prompt;
  extraData: Record<string, unknown>;
  clientId: string | null;
  values: Map<string, Value[]>;
  /** Called halfway through the node the exit/hang knobs picked. */
  midpoint?: (nodeId: string) => Promise<void>;
  progress(nodeId: string, state: "running" | "finished" | "error", value: number, max: number): void;
}

const DEFAULT_SAMPLER_STEPS = 20;
const SLEEP_SLICE_MS = 25;
const PREVIEW_DOWNSCALE = 8;
const PREVIEW_METHODS: ReadonlySet<string> = new Set(["none", "auto", "latent2rgb", "taesd"]);
const SAMPLER_CLASSES = new Set(["SamplerCustom", "SamplerCustomAdvanced"]);

/** Links replaced by upstream values, literals unwrapped from `__value__`. */
export function resolveInputs(node: PromptNode, values: Map<string, Value[]>): ResolvedInputs {
  const out: ResolvedInputs = {};
  for (const [name, raw] of Object.entries(node.inputs ?? {})) {
    const link = asLink(raw);
    if (link) out[name] = values.get(link[0])?.[link[1]];
    else out[name] = typeof raw === "object" && raw !== null && "__value__" in raw ? raw.__value__ : raw;
  }
  return out;
}

/** Runs one node: takes its time, reports sampler progress and previews, writes outputs; returns values and UI. */
export async function runNode(ctx: EmulatorContext, run: NodeRun, id: string, node: PromptNode, info: NodeInfo) {
  const inputs = await _withFileFacts(ctx, node, resolveInputs(node, run.values));
  const failKind = _failKind(ctx, node.class_type);
  if (failKind) {
    await _sleep(ctx, ctx.settings.nodeMs / 2);
    const file = Object.values(node.inputs).find((v): v is string => typeof v === "string" && /\.\w+$/.test(v));
    const [type, message] = failureOf(failKind, node.class_type, file ?? "model.safetensors");
    if (failKind === "oom") ctx.log.error(["Got an OOM, unloading all loaded models."]);
    throw new NodeFailure(type, message, nodeFrames(node.class_type));
  }
  await loadModels(ctx, node);
  const values = computeOutputs(node.class_type, id, (info.output ?? []) as string[], inputs);
  const steps = _samplerSteps(node, info);
  if (steps) await _sample(ctx, run, id, steps, values);
  else {
    await _sleep(ctx, ctx.settings.nodeMs / 2);
    await run.midpoint?.(id);
    await _sleep(ctx, ctx.settings.nodeMs / 2);
  }
  const ui = info.output_node ? await _save(ctx, run, node, inputs) : undefined;
  return { values, ui };
}

async function _sample(ctx: EmulatorContext, run: NodeRun, id: string, steps: number, values: Value[]) {
  const latent = values.find((v) => v.kind === "pixels");
  for (let step = 1; step <= steps; step++) {
    await _sleep(ctx, ctx.settings.nodeMs / steps);
    if (step === Math.ceil(steps / 2)) await run.midpoint?.(id);
    ctx.hub.send("progress", { value: step, max: steps, prompt_id: run.promptId, node: id }, run.clientId);
    run.progress(id, "running", step, steps);
    if (_previewsOn(ctx, run) && latent?.kind === "pixels") _preview(ctx, run, id, latent.width, latent.height, step);
  }
}

// latent_preview.set_preview_method: a prompt's own method wins where the server reads it ("default" or an
// unknown name falls back to the start flag, --previews here)
function _previewsOn(ctx: EmulatorContext, run: NodeRun): boolean {
  const method = run.extraData.preview_method;
  if (!ctx.settings.comfyuiVersion.promptPreviewMethod || typeof method !== "string") return ctx.settings.previews;
  if (PREVIEW_METHODS.has(method)) return method !== "none";
  return ctx.settings.previews;
}

function _preview(ctx: EmulatorContext, run: NodeRun, id: string, width: number, height: number, step: number) {
  const w = Math.max(8, Math.round(width / PREVIEW_DOWNSCALE));
  const h = Math.max(8, Math.round(height / PREVIEW_DOWNSCALE));
  const png = encodePng(gradientImage(w, h, step), {}, 1);
  let frame: Uint8Array;
  if (ctx.hub.supportsPreviewMetadata(run.clientId)) {
    const meta = new TextEncoder().encode(
      JSON.stringify({
        node_id: id,
        prompt_id: run.promptId,
        display_node_id: id,
        parent_node_id: null,
        real_node_id: id,
        image_type: "image/png",
      }),
    );
    frame = _frame(4, [_u32(meta.length), meta, png]);
  } else {
    frame = _frame(1, [_u32(2), png]); // 2 = PNG
  }
  ctx.hub.sendBinary(frame, run.clientId);
}

async function _save(
  ctx: EmulatorContext,
  run: NodeRun,
  node: PromptNode,
  inputs: ResolvedInputs,
): Promise<UiOutput | undefined> {
  const extra = run.extraData.extra_pnginfo;
  const pngText: Record<string, string> = { prompt: JSON.stringify(run.prompt) };
  if (typeof extra === "object" && extra !== null) {
    for (const [key, value] of Object.entries(extra)) pngText[key] = JSON.stringify(value);
  }
  const seed = [...run.promptId].reduce((sum, ch) => (sum * 31 + ch.charCodeAt(0)) >>> 0, 7);
  return saveOutputs({ classType: node.class_type, inputs, dirs: ctx.dirs, pngText, seed });
}

async function _withFileFacts(ctx: EmulatorContext, node: PromptNode, inputs: ResolvedInputs) {
  if (node.class_type !== "LoadImage" && node.class_type !== "LoadImageMask") return inputs;
  const name = typeof inputs.image === "string" ? inputs.image : "";
  const path = annotatedPath(name, ctx.dirs, "input");
  const file = path ? Bun.file(path) : undefined;
  if (!file || !(await file.exists())) {
    const frames = nodeFrames(node.class_type);
    throw new NodeFailure("FileNotFoundError", `[Errno 2] No such file or directory: '${path ?? name}'`, frames);
  }
  const size = pngSize(new Uint8Array(await file.slice(0, 32).arrayBuffer()));
  return { ...inputs, width: size?.width ?? 512, height: size?.height ?? 512 };
}

function _samplerSteps(node: PromptNode, info: NodeInfo): number | undefined {
  if (!((info.output ?? []) as string[]).includes("LATENT")) return undefined;
  const steps = node.inputs?.steps;
  if (typeof steps === "number" && steps > 0) return Math.min(Math.round(steps), MAX_PROGRESS_STEPS);
  return SAMPLER_CLASSES.has(node.class_type) ? DEFAULT_SAMPLER_STEPS : undefined;
}

/** Sleeps in slices so /interrupt takes effect mid-node, as samplers' callbacks let it in ComfyUI. */
async function _sleep(ctx: EmulatorContext, ms: number): Promise<void> {
  const end = performance.now() + ms;
  for (;;) {
    if (ctx.state.interrupted) throw new Interrupted("Processing interrupted");
    const left = end - performance.now();
    if (left <= 0) return;
    await Bun.sleep(Math.min(left, SLEEP_SLICE_MS));
  }
}

function _frame(type: number, parts: Uint8Array[]): Uint8Array {
  return concatBytes([_u32(type), ...parts]);
}

function _u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

// "--fail-node KSampler" raises the generic error; "--fail-node KSampler=oom" a real ComfyUI failure
function _failKind(ctx: EmulatorContext, classType: string): FailureKind | undefined {
  for (const entry of ctx.settings.failNodes) {
    const [type, kind = "error"] = entry.split("=");
    if (type === classType) return kind as FailureKind;
  }
  return undefined;
}
