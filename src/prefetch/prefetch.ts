/**
 * Prefetch (SPEC §3 PREFETCH): while ComfyUI boots, read the weights it will load first into the page
 * cache, so the first job's model loads read memory instead of a 200–400 MB/s network volume. What comes
 * first: the warmup workflow's weights, then the preload kits' and workflows', then what jobs on this
 * endpoint loaded most (the usage files on the volume). Never delays readiness, never fails the worker.
 */
import { stat } from "node:fs/promises";
import { formatBytes } from "../lib/bytes.ts";
import type { Logger } from "../log.ts";
import { buildPullPlan } from "../preload/pull.ts";
import { resolveWeight } from "../weights/locate.ts";
import type { ModelSnapshot } from "../weights/model-index.ts";
import type { LocalModels } from "../weights/serve-weights.ts";
import { prefetchBudget } from "./budget.ts";
import { type PrefetchFile, readIntoCache } from "./reader.ts";
import { readUsage } from "./usage.ts";

export type PrefetchState = "off" | "planning" | "reading" | "done" | "stopped";

/** /health `prefetch`, the log line and /metrics. */
export interface PrefetchReport {
  state: PrefetchState;
  budget_bytes: number;
  planned: { files: number; bytes: number };
  /** `folder/name` of the planned files, in reading order. */
  order: string[];
  read: { files: number; bytes: number };
  seconds: number;
  mb_per_s: number;
  /** Why it stopped early (a job started loading models, shutdown). */
  stopped_by?: string;
}

export interface PrefetchOptions {
  local: () => Promise<LocalModels>;
  warmup?: string | undefined;
  kits: readonly string[];
  workflows: readonly string[];
  /** `<models>/.comfy-worker`, where the usage files are; undefined = no usage history. */
  stateDir?: () => Promise<string | undefined>;
  budgetGb?: number | undefined;
  log: Logger;
  /** Test seam: the bytes prefetch may read (default: free memory, PREFETCH_BUDGET_GB). */
  budget?: () => Promise<number>;
}

/** One prefetch run per worker start; `run()` resolves when it is done or stopped, never rejects. */
export class Prefetch {
  readonly report: PrefetchReport = {
    state: "planning",
    budget_bytes: 0,
    planned: { files: 0, bytes: 0 },
    order: [],
    read: { files: 0, bytes: 0 },
    seconds: 0,
    mb_per_s: 0,
  };
  readonly #options: PrefetchOptions;
  readonly #stop = new AbortController();

  constructor(options: PrefetchOptions) {
    this.#options = options;
  }

  /** Stops reading between chunks (a job started loading models, or shutdown); what was read stays cached. */
  stop(reason: string): void {
    if (this.#stop.signal.aborted) return;
    this.report.stopped_by ??= reason;
    this.#stop.abort();
  }

  async run(): Promise<PrefetchReport> {
    const started = performance.now();
    try {
      this.report.budget_bytes = await (this.#options.budget?.() ?? prefetchBudget(this.#options.budgetGb));
      const files = await this.#plan();
      this.report.planned = { files: files.length, bytes: files.reduce((sum, file) => sum + file.size, 0) };
      this.report.order = files.map((file) => file.label);
      if (this.#stop.signal.aborted || files.length === 0) return this.#finish(started);
      this.report.state = "reading";
      const result = await readIntoCache(files, {
        signal: this.#stop.signal,
        onBytes: (bytes) => {
          this.report.read.bytes = bytes;
          this.#rate(started);
        },
      });
      this.report.read = { files: result.files.length, bytes: result.bytes };
    } catch (error) {
      this.#options.log.warn(`prefetch gave up: ${(error as Error)?.message ?? error}`);
    }
    return this.#finish(started);
  }

  #finish(started: number): PrefetchReport {
    this.#rate(started);
    this.report.state =
      this.#stop.signal.aborted && this.report.read.bytes < this.report.planned.bytes ? "stopped" : "done";
    const { read, planned } = this.report;
    this.#options.log.info(
      `prefetch ${this.report.state}: read ${read.files}/${planned.files} file(s), ${formatBytes(read.bytes)} of ${formatBytes(planned.bytes)} in ${this.report.seconds} s (${this.report.mb_per_s} MB/s)${this.report.stopped_by ? `; stopped: ${this.report.stopped_by}` : ""}`,
    );
    return this.report;
  }

  #rate(started: number): void {
    const seconds = (performance.now() - started) / 1000;
    this.report.seconds = Math.round(seconds * 100) / 100;
    this.report.mb_per_s = seconds > 0 ? Math.round(this.report.read.bytes / 1e6 / seconds) : 0;
  }

  // the first files to be loaded, resolved the way ComfyUI resolves them, until the budget is full
  async #plan(): Promise<PrefetchFile[]> {
    const { local } = this.#options;
    const snapshot = await (await local()).index.snapshot();
    const wanted = [...(await this.#fromWorkflows(snapshot)), ...(await this.#fromUsage(snapshot))];
    const seen = new Set<string>();
    const files: PrefetchFile[] = [];
    let total = 0;
    for (const { path, label } of wanted) {
      if (seen.has(path)) continue;
      seen.add(path);
      const size = await stat(path).then(
        (s) => (s.isFile() ? s.size : 0),
        () => 0,
      );
      if (size === 0 || total + size > this.report.budget_bytes) continue;
      total += size;
      files.push({ path, size, label });
    }
    return files;
  }

  async #fromWorkflows(snapshot: ModelSnapshot): Promise<{ path: string; label: string }[]> {
    const { warmup, kits, workflows } = this.#options;
    const sources = [...(warmup ? [warmup] : []), ...workflows];
    if (sources.length + kits.length === 0) return [];
    const plan = await buildPullPlan({ kits, workflows: sources, manifests: [] }).catch((error: unknown) => {
      this.#options.log.debug(`prefetch: cannot read the warmup or preload list: ${(error as Error)?.message}`);
      return new Map();
    });
    // workflows first (the warmup loads them at once), then kit files
    const items = [...plan.values()].sort((a, b) => _kitLast(a.from) - _kitLast(b.from));
    return items.flatMap((item) => {
      const path = resolveWeight(snapshot, { ...item, ...item.lookup, nodes: [] });
      return path ? [{ path, label: `${item.folder}/${item.name}` }] : [];
    });
  }

  async #fromUsage(snapshot: ModelSnapshot): Promise<{ path: string; label: string }[]> {
    const dir = await this.#options.stateDir?.().catch(() => undefined);
    if (!dir) return [];
    const ranks = await readUsage(dir);
    return ranks.flatMap((rank) => {
      const path = snapshot.find(rank.folder, rank.name);
      return path ? [{ path, label: `${rank.folder}/${rank.name}` }] : [];
    });
  }
}

function _kitLast(from: readonly string[]): number {
  return from.every((source) => source.startsWith("kit ") || source.startsWith("manifest ")) ? 1 : 0;
}
