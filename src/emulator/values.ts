/** What flows along a link in the emulator: only the facts placeholder outputs need. */
export type Value =
  | { kind: "pixels"; type: string; width: number; height: number; count: number; seconds?: number }
  | { kind: "audio"; seconds: number }
  | { kind: "literal"; type: string; value: unknown }
  | { kind: "opaque"; type: string; from: string };

const DEFAULT_SIDE_PX = 512;
const MAX_SIDE_PX = 8192;
const MAX_BATCH = 256;
const MODEL_UPSCALE_FACTOR = 4;
const PIXEL_TYPES = new Set(["IMAGE", "LATENT", "MASK"]);
const LITERAL_TYPES = new Set(["INT", "FLOAT", "STRING", "BOOLEAN"]);

/** A node's inputs once links are resolved: literals stay as given, links become Values. */
export type ResolvedInputs = Record<string, unknown>;

/** True for a Value (as opposed to a literal input). */
export function isValue(input: unknown): input is Value {
  return typeof input === "object" && input !== null && "kind" in input && typeof input.kind === "string";
}

/**
 * The placeholder outputs of a node, one per declared output type: sizes of images and latents follow the
 * workflow (width/height/batch_size/length/scale_by inputs, or the linked source), strings pass through.
 */
export function computeOutputs(classType: string, nodeId: string, types: string[], inputs: ResolvedInputs): Value[] {
  return types.map((type) => {
    if (PIXEL_TYPES.has(type)) return _pixels(classType, type, inputs);
    if (type === "AUDIO") return { kind: "audio", seconds: _num(inputs.seconds) ?? _sourceSeconds(inputs) ?? 1 };
    if (LITERAL_TYPES.has(type)) return { kind: "literal", type, value: _literal(inputs) ?? _default(type) };
    return { kind: "opaque", type, from: nodeId };
  });
}

/** Text a node like PreviewAny shows for a value. */
export function describeValue(input: unknown): string {
  if (!isValue(input)) return typeof input === "string" ? input : JSON.stringify(input ?? null);
  if (input.kind === "literal") return typeof input.value === "string" ? input.value : JSON.stringify(input.value);
  if (input.kind === "pixels") return `${input.type} ${input.count}x${input.width}x${input.height} (emulated)`;
  if (input.kind === "audio") return `AUDIO ${input.seconds}s (emulated)`;
  return `<emulated ${input.type} from node ${input.from}>`;
}

/** How ComfyUI formats an input in `execution_error.current_inputs` (plain values as is, objects as text). */
export function formatInput(input: unknown): unknown {
  if (input === null || ["string", "number", "boolean"].includes(typeof input)) return input;
  return describeValue(input);
}

function _pixels(classType: string, type: string, inputs: ResolvedInputs): Value {
  const sources = Object.values(inputs).filter((v): v is Extract<Value, { kind: "pixels" }> => {
    return isValue(v) && v.kind === "pixels";
  });
  const source = sources.find((v) => v.type === type) ?? sources[0];
  let width = source?.width ?? DEFAULT_SIDE_PX;
  let height = source?.height ?? DEFAULT_SIDE_PX;
  let count = source?.count ?? 1;
  const [w, h] = [_num(inputs.width) ?? 0, _num(inputs.height) ?? 0];
  if (w > 0 && h > 0) [width, height] = [w, h];
  else if (w > 0) [width, height] = [w, Math.round((height * w) / width)];
  else if (h > 0) [width, height] = [Math.round((width * h) / height), h];
  const scale = _num(inputs.scale_by) ?? (classType.includes("UpscaleWithModel") ? MODEL_UPSCALE_FACTOR : 1);
  [width, height] = [Math.round(width * scale), Math.round(height * scale)];
  if (!source) {
    const frames = _num(inputs.length) ?? _num(inputs.video_frames) ?? 1;
    count = (_num(inputs.batch_size) ?? 1) * Math.max(1, frames);
  }
  // audio latents (EmptyLatentAudio) remember their length for the decoded AUDIO
  const seconds = _num(inputs.seconds) ?? source?.seconds;
  return {
    kind: "pixels",
    type,
    width: _clamp(width, MAX_SIDE_PX),
    height: _clamp(height, MAX_SIDE_PX),
    count: _clamp(count, MAX_BATCH),
    ...(seconds !== undefined ? { seconds } : {}),
  };
}

function _sourceSeconds(inputs: ResolvedInputs): number | undefined {
  for (const input of Object.values(inputs)) {
    if (isValue(input) && (input.kind === "audio" || input.kind === "pixels") && input.seconds !== undefined) {
      return input.seconds;
    }
  }
  return undefined;
}

function _literal(inputs: ResolvedInputs): unknown {
  for (const name of ["value", "text", "string", "source"]) {
    const input = inputs[name];
    if (input === undefined) continue;
    return isValue(input) && input.kind === "literal" ? input.value : isValue(input) ? undefined : input;
  }
  return undefined;
}

function _default(type: string): unknown {
  return type === "STRING" ? "" : type === "BOOLEAN" ? false : 0;
}

function _num(input: unknown): number | undefined {
  const value = isValue(input) && input.kind === "literal" ? input.value : input;
  return typeof value === "number" && Number.isFinite(value) ? value : undefined;
}

function _clamp(value: number, max: number): number {
  return Math.min(Math.max(1, Math.round(value)), max);
}
