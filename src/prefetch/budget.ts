import { readFile } from "node:fs/promises";
import { freemem } from "node:os";

/**
 * Share of the memory the kernel calls available that prefetch may fill. Reading more than what stays
 * cached evicts the first files read before ComfyUI asks for them, which is worse than not reading at all.
 */
const AVAILABLE_SHARE = 0.8;
const GB = 1e9;

/** MemAvailable from /proc/meminfo (page cache that can be reclaimed included); os.freemem elsewhere. */
export async function availableMemory(): Promise<number> {
  try {
    const text = await readFile("/proc/meminfo", "utf8");
    const kib = /^MemAvailable:\s+(\d+) kB/m.exec(text)?.[1];
    if (kib) return Number(kib) * 1024;
  } catch {
    // not Linux
  }
  return freemem();
}

/** Bytes prefetch may read: PREFETCH_BUDGET_GB when set, never more than what free memory holds. */
export async function prefetchBudget(budgetGb: number | undefined): Promise<number> {
  const holds = Math.floor((await availableMemory()) * AVAILABLE_SHARE);
  return budgetGb === undefined ? holds : Math.min(Math.floor(budgetGb * GB), holds);
}
