import { join } from "node:path";
import { encodeFlac, encodeWebp, videoPlaceholder } from "./media.ts";
import { encodePng, gradientImage } from "./png.ts";
import { counterName, saveImagePath } from "./save-path.ts";
import { describeValue, isValue, type ResolvedInputs, type Value } from "./values.ts";

/** The directories ComfyUI's `get_directory_by_type` knows. */
export interface TypeDirs {
  input: string;
  output: string;
  temp: string;
}

/** What an output node needs to write its placeholder files. */
export interface SaveRequest {
  classType: string;
  inputs: ResolvedInputs;
  dirs: TypeDirs;
  /** tEXt chunks SaveImage embeds: `prompt` and every `extra_pnginfo` key, JSON-encoded. */
  pngText: Record<string, string>;
  /** Varies the placeholder pixels between prompts and nodes. */
  seed: number;
}

/** A node's `ui` dict, as `executed.output` and `history[id].outputs[node]` carry it. */
export type UiOutput = Record<string, unknown[]>;
type FileRef = { filename: string; subfolder: string; type: "output" | "temp" };
type Pixels = Extract<Value, { kind: "pixels" }>;
type Saver = (req: SaveRequest) => Promise<UiOutput>;

const PREVIEW_PNG_LEVEL = 1;
const TEMP_SUFFIX_CHARS = "abcdefghijklmnopqrstupvxyz";
const PLACEHOLDER_NOTE = "comfy-worker emulator placeholder: not a playable video";

const SAVERS: Record<string, Saver> = {
  SaveImage: (req) => _images(req, "images", "output", _prefix(req, "ComfyUI")),
  PreviewImage: (req) => _images(req, "images", "temp", _tempPrefix()),
  MaskPreview: (req) => _images(req, "mask", "temp", _tempPrefix()),
  SaveAnimatedWEBP: (req) => _animatedWebp(req),
  SaveAnimatedPNG: async (req) => ({
    ...(await _images(req, "images", "output", _prefix(req, "ComfyUI"), 1)),
    animated: [true],
  }),
  SaveWEBM: (req) => _video(req, "webm", "ComfyUI"),
  SaveVideo: (req) => _video(req, "mp4", "video/ComfyUI"),
  SaveAudio: (req) => _audio(req, "flac", "output", _prefix(req, "audio/ComfyUI")),
  SaveAudioMP3: (req) => _audio(req, "mp3", "output", _prefix(req, "audio/ComfyUI")),
  SaveAudioOpus: (req) => _audio(req, "opus", "output", _prefix(req, "audio/ComfyUI")),
  PreviewAudio: (req) => _audio(req, "flac", "temp", _tempPrefix()),
  SaveLatent: (req) => _latent(req),
  PreviewAny: async (req) => ({ text: [describeValue(req.inputs.source)] }),
};

/** Writes an output node's placeholder files and returns its `ui` dict; undefined for nodes without one. */
export async function saveOutputs(req: SaveRequest): Promise<UiOutput | undefined> {
  return SAVERS[req.classType]?.(req);
}

async function _images(req: SaveRequest, input: string, type: FileRef["type"], prefix: string, limit = Infinity) {
  const pixels = _pixels(req.inputs[input]);
  const dir = type === "temp" ? req.dirs.temp : req.dirs.output;
  const path = await saveImagePath(prefix, dir, pixels.width, pixels.height);
  const images: FileRef[] = [];
  for (let i = 0; i < Math.min(pixels.count, limit); i++) {
    const file = counterName(path.filename.replaceAll("%batch_num%", String(i)), path.counter + i, "png");
    const image = gradientImage(pixels.width, pixels.height, req.seed + i);
    await Bun.write(join(path.folder, file), encodePng(image, req.pngText, type === "temp" ? PREVIEW_PNG_LEVEL : 4));
    images.push({ filename: file, subfolder: path.subfolder, type });
  }
  return { images };
}

async function _animatedWebp(req: SaveRequest): Promise<UiOutput> {
  const pixels = _pixels(req.inputs.images);
  const path = await saveImagePath(_prefix(req, "ComfyUI"), req.dirs.output, pixels.width, pixels.height);
  const file = counterName(path.filename, path.counter, "webp");
  const colors = Array.from({ length: pixels.count }, (_, i) => _color(req.seed + i));
  const fps = typeof req.inputs.fps === "number" && req.inputs.fps > 0 ? req.inputs.fps : 6;
  await Bun.write(join(path.folder, file), encodeWebp(pixels.width, pixels.height, colors, Math.round(1000 / fps)));
  return { images: [{ filename: file, subfolder: path.subfolder, type: "output" }], animated: [pixels.count !== 1] };
}

async function _video(req: SaveRequest, ext: "mp4" | "webm", fallback: string): Promise<UiOutput> {
  const path = await saveImagePath(_prefix(req, fallback), req.dirs.output);
  const file = counterName(path.filename, path.counter, ext);
  await Bun.write(join(path.folder, file), videoPlaceholder(ext, PLACEHOLDER_NOTE));
  return { images: [{ filename: file, subfolder: path.subfolder, type: "output" }], animated: [true] };
}

async function _audio(req: SaveRequest, ext: string, type: FileRef["type"], prefix: string): Promise<UiOutput> {
  const dir = type === "temp" ? req.dirs.temp : req.dirs.output;
  const path = await saveImagePath(prefix, dir);
  const file = counterName(path.filename.replaceAll("%batch_num%", "0"), path.counter, ext);
  const audio = req.inputs.audio;
  const seconds = isValue(audio) && audio.kind === "audio" ? audio.seconds : 1;
  await Bun.write(join(path.folder, file), encodeFlac(seconds));
  return { audio: [{ filename: file, subfolder: path.subfolder, type }] };
}

async function _latent(req: SaveRequest): Promise<UiOutput> {
  const path = await saveImagePath(_prefix(req, "latents/ComfyUI"), req.dirs.output);
  const file = counterName(path.filename, path.counter, "latent");
  // a real (tiny) safetensors file, the format SaveLatent writes
  const header = JSON.stringify({ latent_tensor: { dtype: "F32", shape: [1, 4, 1, 1], data_offsets: [0, 16] } });
  const size = new Uint8Array(8);
  new DataView(size.buffer).setBigUint64(0, BigInt(header.length), true);
  await Bun.write(join(path.folder, file), new Blob([size, header, new Uint8Array(16)]));
  return { latents: [{ filename: file, subfolder: path.subfolder, type: "output" }] };
}

function _pixels(input: unknown): Pixels {
  if (isValue(input) && input.kind === "pixels") return input;
  return { kind: "pixels", type: "IMAGE", width: 512, height: 512, count: 1 };
}

function _prefix(req: SaveRequest, fallback: string): string {
  const prefix = req.inputs.filename_prefix;
  return typeof prefix === "string" && prefix ? prefix : fallback;
}

function _tempPrefix(): string {
  const suffix = Array.from({ length: 5 }, () => TEMP_SUFFIX_CHARS[Math.floor(Math.random() * 26)]).join("");
  return `ComfyUI_temp_${suffix}`;
}

function _color(seed: number): [number, number, number] {
  return [(seed * 67) % 256, (seed * 131 + 64) % 256, (seed * 29 + 128) % 256];
}
