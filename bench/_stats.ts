// Small statistics and /history arithmetic for bench/job-overhead.ts.

/** The p-th percentile (nearest rank) of unsorted values. */
export function pct(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ?? Number.NaN;
}

/** "p50 12.3 / p99 45.6 ms". */
export function p50p99(values: number[]): string {
  return `p50 ${pct(values, 50).toFixed(1)} / p99 ${pct(values, 99).toFixed(1)} ms`;
}

/** One line comparing a series with its reference: both percentiles and their difference. */
export function compare(name: string, subject: number[], reference: number[]): string {
  const d50 = pct(subject, 50) - pct(reference, 50);
  const d99 = pct(subject, 99) - pct(reference, 99);
  const sign = (n: number) => `${n >= 0 ? "+" : ""}${n.toFixed(1)}`;
  return `${name.padEnd(26)} bare ${p50p99(reference)}  worker ${p50p99(subject)}  added ${sign(d50)} / ${sign(d99)} ms`;
}

interface HistoryEntry {
  status?: { messages?: Array<[string, { timestamp?: number }]> };
}

/** How long ComfyUI itself ran a prompt: execution_start → execution_success in its /history entry. */
export async function executionMs(comfyUrl: string, promptId: string): Promise<number> {
  const history = (await (await fetch(`${comfyUrl}/history/${promptId}`)).json()) as Record<string, HistoryEntry>;
  const messages = history[promptId]?.status?.messages ?? [];
  const at = (name: string) => messages.find(([event]) => event === name)?.[1].timestamp ?? Number.NaN;
  return at("execution_success") - at("execution_start");
}

/** Idle gaps of ComfyUI between consecutive prompts and the throughput over the whole series. */
export async function idleGaps(
  comfyUrl: string,
  promptIds: string[],
): Promise<{ gapP50: number; gapP90: number; perSecond: number }> {
  const spans: Array<{ start: number; end: number }> = [];
  for (const id of promptIds) {
    const history = (await (await fetch(`${comfyUrl}/history/${id}`)).json()) as Record<string, HistoryEntry>;
    const messages = history[id]?.status?.messages ?? [];
    const at = (name: string) => messages.find(([event]) => event === name)?.[1].timestamp ?? Number.NaN;
    spans.push({ start: at("execution_start"), end: at("execution_success") });
  }
  spans.sort((a, b) => a.start - b.start);
  const gaps = spans.slice(1).map((span, i) => Math.max(0, span.start - (spans[i]?.end ?? span.start)));
  const first = spans[0]?.start ?? 0;
  const last = spans.at(-1)?.end ?? first;
  return { gapP50: pct(gaps, 50), gapP90: pct(gaps, 90), perSecond: (spans.length * 1000) / Math.max(1, last - first) };
}
