/**
 * Which GPUs a multi-GPU worker drives (SPEC §3 COMFY_GPUS): a list given as is, or `auto`: the GPUs
 * `nvidia-smi -L` lists, else the ones CUDA_VISIBLE_DEVICES / NVIDIA_VISIBLE_DEVICES name (containers
 * without nvidia-smi), else none (one ComfyUI, as without COMFY_GPUS).
 */

/** One GPU: its index as CUDA numbers it, and the name nvidia-smi gives (when known). */
export interface Gpu {
  index: number;
  name?: string;
}

// "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-5e0f…)"
const SMI_LINE_RE = /^GPU (\d+): (.+?)(?: \(UUID: [^)]*\))?\s*$/;
const SMI_TIMEOUT_MS = 5_000;

/** The GPUs in `nvidia-smi -L` output. */
export function parseNvidiaSmi(text: string): Gpu[] {
  return text.split("\n").flatMap((line) => {
    const match = SMI_LINE_RE.exec(line.trim());
    return match ? [{ index: Number(match[1]), name: match[2] ?? "" }] : [];
  });
}

/** The GPUs a comma list in CUDA_VISIBLE_DEVICES-style names; UUIDs count by position. */
export function parseVisibleDevices(value: string | undefined): Gpu[] {
  if (!value || value.trim() === "" || value === "void" || value === "none" || value === "NoDevFiles") return [];
  if (value === "all") return [];
  return value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean)
    .map((item, position) => ({ index: /^\d+$/.test(item) ? Number(item) : position }));
}

export interface DiscoverOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** Test seam: runs `nvidia-smi -L`; undefined when it is not installed or fails. */
  nvidiaSmi?: () => Promise<string | undefined>;
}

/**
 * COMFY_GPUS resolved to GPUs: undefined when unset (single-instance worker); `auto` with nothing found
 * is an empty list, which the caller treats as one instance without CUDA_VISIBLE_DEVICES.
 */
export async function resolveGpus(setting: string | undefined, options: DiscoverOptions): Promise<Gpu[] | undefined> {
  if (setting === undefined) return undefined;
  if (setting.trim() !== "auto") {
    const indexes = setting.split(",").map((item) => Number(item.trim()));
    return [...new Set(indexes)].map((index) => ({ index }));
  }
  const listed = parseNvidiaSmi((await (options.nvidiaSmi ?? runNvidiaSmi)()) ?? "");
  if (listed.length > 0) return listed;
  const visible = options.env.CUDA_VISIBLE_DEVICES ?? options.env.NVIDIA_VISIBLE_DEVICES;
  return parseVisibleDevices(visible);
}

/** `nvidia-smi -L`, or undefined when it is missing, fails or takes too long. */
export async function runNvidiaSmi(): Promise<string | undefined> {
  try {
    const proc = Bun.spawn(["nvidia-smi", "-L"], { stdout: "pipe", stderr: "ignore" });
    const timer = setTimeout(() => proc.kill(), SMI_TIMEOUT_MS);
    const [text, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    clearTimeout(timer);
    return code === 0 ? text : undefined;
  } catch {
    return undefined;
  }
}
