import { WorkerError } from "../errors.ts";

/**
 * RunPod serverless flex prices in $/s per GPU type, approximate (runpod.io/pricing, 2026); only for estimates.
 * GPU_PRICES overrides or extends it, `--gpu-price` replaces it for one run.
 */
export const GPU_PRICE_TABLE: Readonly<Record<string, number>> = {
  B200: 0.0024,
  H200: 0.00155,
  H100: 0.00116,
  A100: 0.00076,
  L40S: 0.00053,
  L40: 0.00053,
  RTX6000ADA: 0.00053,
  A6000: 0.00034,
  A40: 0.00034,
  RTX4090: 0.00031,
  RTX5090: 0.00044,
  L4: 0.00019,
  A5000: 0.00019,
  RTX3090: 0.00019,
  A4500: 0.00016,
  A4000: 0.00016,
  RTX4000ADA: 0.00016,
};

/** The price used for a run and where it came from (for the printed estimate). */
export interface GpuPrice {
  perSecond: number;
  source: string;
}

/** `GPU_PRICES` (`A100=0.00076,L4=0.00019`) → table entries; E_CONFIG names a malformed entry. */
export function parseGpuPrices(setting: string | undefined): Record<string, number> {
  const prices: Record<string, number> = {};
  for (const entry of (setting ?? "")
    .split(",")
    .map((e) => e.trim())
    .filter(Boolean)) {
    const [name, value] = entry.split("=");
    const price = Number(value);
    if (!name || !value || !(price >= 0))
      throw new WorkerError(
        "E_CONFIG",
        `GPU_PRICES entry "${entry}" must look like TYPE=DOLLARS_PER_SECOND (e.g. A100=0.00076)`,
      );
    prices[_key(name)] = price;
  }
  return prices;
}

/**
 * The $/s for a run: `--gpu-price` wins, else `--gpu TYPE` looked up in GPU_PRICES then the built-in table;
 * undefined when neither flag is given. E_USAGE for a bad price or an unknown type (listing the known ones).
 */
export function resolveGpuPrice(
  flags: { gpuPrice?: string | undefined; gpu?: string | undefined },
  setting: string | undefined,
): GpuPrice | undefined {
  if (flags.gpuPrice !== undefined) {
    const perSecond = Number(flags.gpuPrice);
    if (!(perSecond >= 0 && Number.isFinite(perSecond)) || flags.gpuPrice.trim() === "")
      throw new WorkerError(
        "E_USAGE",
        `--gpu-price must be dollars per second (e.g. 0.00076), got "${flags.gpuPrice}"`,
      );
    return { perSecond, source: "--gpu-price" };
  }
  if (!flags.gpu) return undefined;
  const table: Record<string, number> = { ...GPU_PRICE_TABLE, ...parseGpuPrices(setting) };
  const perSecond = table[_key(flags.gpu)];
  if (perSecond === undefined)
    throw new WorkerError(
      "E_USAGE",
      `--gpu ${flags.gpu} has no price; use one of ${Object.keys(table).join(", ")}, pass --gpu-price, or add it to GPU_PRICES`,
    );
  return { perSecond, source: `${_key(flags.gpu)} at $${perSecond}/s` };
}

/** RunPod bills per second, rounded up (reference §6): the seconds this job's execution is billed for. */
export function billedSeconds(executionMs: number | undefined): number {
  return Math.ceil(Math.max(0, executionMs ?? 0) / 1000);
}

// "rtx 4090", "RTX-4090" and "rtx4090" name the same GPU
function _key(name: string): string {
  return name.toUpperCase().replace(/[\s_-]+/g, "");
}
