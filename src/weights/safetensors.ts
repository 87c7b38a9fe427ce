/**
 * safetensors header check: an 8-byte little-endian header length, a JSON header, then tensor data whose
 * `data_offsets` tile the rest of the file exactly. Reads only the header (two small slices), so a
 * truncated or corrupt multi-GB file is caught in microseconds.
 */
import { z } from "zod";

/** Outcome of reading a header: failures are data, with a reason an operator can act on. */
export type HeaderCheck =
  | { ok: true; tensors: number; headerBytes: number; metadata?: Record<string, string> }
  | { ok: false; reason: string };

// the reference implementation refuses headers above 100 MB (safetensors MAX_HEADER_SIZE)
const MAX_HEADER_BYTES = 100_000_000;

/** Bytes per element; F4/F6 pack several elements per byte (fractions are checked on the total). */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  F8_E8M0: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  C64: 8,
  F64: 8,
  I64: 8,
  U64: 8,
  F4: 0.5,
  F6_E2M3: 0.75,
  F6_E3M2: 0.75,
};

const TensorInfo = z.object({
  dtype: z.string(),
  shape: z.array(z.number().int().min(0)),
  data_offsets: z.tuple([z.number().int().min(0), z.number().int().min(0)]),
});
const Header = z.record(z.string(), z.unknown());

/** File names ComfyUI loads as safetensors (comfy.utils.load_torch_file). */
export function isSafetensorsName(name: string): boolean {
  return /\.(safetensors|sft)$/i.test(name);
}

/** Reads and validates the header of the safetensors file at `path`; never throws for bad content. */
export async function checkSafetensors(path: string): Promise<HeaderCheck> {
  const file = Bun.file(path);
  const size = file.size;
  if (size < 8) return { ok: false, reason: `file is ${size} bytes, too short for a safetensors header` };
  const prefix = new DataView(await file.slice(0, 8).arrayBuffer());
  const length = prefix.getBigUint64(0, true);
  if (length > BigInt(Math.min(MAX_HEADER_BYTES, size - 8))) {
    return {
      ok: false,
      reason: `header length ${length} exceeds the file (${size} bytes); truncated or not safetensors`,
    };
  }
  const headerBytes = Number(length);
  const text = await file.slice(8, 8 + headerBytes).text();
  return checkHeaderText(text, headerBytes, size);
}

/** Validates header JSON against the file size: every tensor's bytes, contiguous, ending exactly at EOF. */
export function checkHeaderText(text: string, headerBytes: number, fileSize: number): HeaderCheck {
  if (!text.startsWith("{")) return { ok: false, reason: "header is not a JSON object" };
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { ok: false, reason: "header is not valid JSON" };
  }
  const header = Header.safeParse(raw);
  if (!header.success) return { ok: false, reason: "header is not a JSON object" };
  const { __metadata__: metadata, ...entries } = header.data;
  const spans: Array<[number, number, string]> = [];
  for (const [name, value] of Object.entries(entries)) {
    const tensor = TensorInfo.safeParse(value);
    if (!tensor.success) return { ok: false, reason: `tensor "${name}" has a malformed entry` };
    const problem = _tensorProblem(name, tensor.data);
    if (problem) return { ok: false, reason: problem };
    spans.push([tensor.data.data_offsets[0], tensor.data.data_offsets[1], name]);
  }
  const dataBytes = fileSize - 8 - headerBytes;
  const problem = _layoutProblem(spans, dataBytes);
  if (problem) return { ok: false, reason: problem };
  return {
    ok: true,
    tensors: spans.length,
    headerBytes,
    ...(_isStringRecord(metadata) ? { metadata } : {}),
  };
}

function _tensorProblem(name: string, tensor: z.infer<typeof TensorInfo>): string | undefined {
  const [begin, end] = tensor.data_offsets;
  if (end < begin) return `tensor "${name}" ends before it begins`;
  const width = DTYPE_BYTES[tensor.dtype];
  // an unknown (newer) dtype still has to fit the layout checks below
  if (width === undefined) return undefined;
  const expected = tensor.shape.reduce((a, b) => a * b, 1) * width;
  if (Math.ceil(expected) !== end - begin) {
    return `tensor "${name}" has ${end - begin} bytes but ${tensor.dtype}${JSON.stringify(tensor.shape)} needs ${Math.ceil(expected)}`;
  }
  return undefined;
}

function _layoutProblem(spans: Array<[number, number, string]>, dataBytes: number): string | undefined {
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let at = 0;
  for (const [begin, end, name] of spans) {
    if (begin !== at) return `tensor "${name}" starts at ${begin}, expected ${at} (gap or overlap)`;
    at = end;
  }
  if (at === dataBytes) return undefined;
  if (at > dataBytes) return `tensors need ${at} data bytes but the file has ${dataBytes}: truncated`;
  return `tensors end at ${at} but the file has ${dataBytes} data bytes: trailing bytes`;
}

function _isStringRecord(value: unknown): value is Record<string, string> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string")
  );
}
