import { type ComfyLineFact, ComfyLineReader, type PackImport } from "./comfy-lines.ts";

/** The phases of a worker's start, in the order they normally happen (SPEC §5 `startup`). */
export const STARTUP_PHASES = [
  "process_start",
  "comfy_spawned",
  "python_up",
  "custom_nodes",
  "http_listening",
  "comfy_ready",
  "preloads_done",
  "prefetch_done",
  "warmup_done",
  "ready",
  "first_job_taken",
  "first_model_load",
  "first_job_done",
] as const;
export type StartupPhase = (typeof STARTUP_PHASES)[number];

/** When a phase was reached: ms since the process started, plus what it carries. */
export interface PhaseMark {
  at_ms: number;
  [fact: string]: unknown;
}

/** The phases of one ComfyUI restart (after a crash or hang), relative to the process start too. */
export type RestartRecord = Partial<
  Record<"comfy_spawned" | "python_up" | "http_listening" | "comfy_ready", PhaseMark>
>;

/** What /health `startup`, the log table, /metrics and the first job's `timings.cold_start` show. */
export interface StartupReport {
  /** Wall-clock time the process started (ISO 8601). */
  started_at: string;
  phases: Partial<Record<StartupPhase, PhaseMark>>;
  custom_nodes: PackImport[];
  restarts: RestartRecord[];
}

/**
 * One record per worker start. Marks are first-wins (a phase happens once per start); ComfyUI's own output
 * lines fill in python_up, the custom-node import table, listening and the first model load. After a
 * restart, ComfyUI's phases go into a new restart record instead.
 */
export class StartupTimeline {
  readonly #origin: number;
  readonly #phases: Partial<Record<StartupPhase, PhaseMark>> = {};
  readonly #packs: PackImport[] = [];
  readonly #restarts: RestartRecord[] = [];
  readonly #lines = new ComfyLineReader();
  readonly #listeners = new Set<(phase: StartupPhase, mark: PhaseMark) => void>();
  #current: RestartRecord | undefined;
  #requested: string | undefined;

  /** `originMs` is the process start on performance.now()'s clock (0 = the process's own start). */
  constructor(originMs = 0) {
    this.#origin = originMs;
    this.#phases.process_start = { at_ms: 0 };
  }

  /** Records `phase` unless it was already reached; returns whether it was new. */
  mark(phase: StartupPhase, facts: Record<string, unknown> = {}): boolean {
    if (this.#phases[phase]) return false;
    const mark = { at_ms: this.#now(), ...facts };
    this.#phases[phase] = mark;
    for (const listener of this.#listeners) listener(phase, mark);
    return true;
  }

  has(phase: StartupPhase): boolean {
    return this.#phases[phase] !== undefined;
  }

  /** Called for every ComfyUI (re)spawn; the first is the start, later ones open a restart record. */
  spawned(pid?: number): void {
    if (this.mark("comfy_spawned", pid === undefined ? {} : { pid })) return;
    this.#current = { comfy_spawned: { at_ms: this.#now(), ...(pid === undefined ? {} : { pid }) } };
    this.#restarts.push(this.#current);
  }

  /** ComfyUI answers /system_stats. */
  comfyReady(): void {
    if (this.#current) this.#current.comfy_ready ??= { at_ms: this.#now() };
    else this.mark("comfy_ready");
  }

  /** One line of ComfyUI's output; returns what it was recognised as (for other observers). */
  line(text: string): ComfyLineFact | undefined {
    this.#comfyPhase("python_up");
    const fact = this.#lines.read(text);
    if (fact?.kind === "pack-import" && !this.#current) this.#packs.push(fact.pack);
    else if (fact?.kind === "model-requested") this.#requested ??= fact.model;
    else if (fact?.kind === "model-loaded") this.mark("first_model_load", _load(fact, this.#requested));
    // the table ends at its first non-row line; no table at all means no custom nodes, known by listening
    const tableEnded = this.#packs.length > 0 && fact?.kind !== "pack-import";
    if (!this.#current && (tableEnded || fact?.kind === "listening")) this.#closePacks();
    if (fact?.kind === "listening") this.#comfyPhase("http_listening");
    return fact;
  }

  /** Fired once per phase reached (metrics, prefetch stopping on a model load). */
  onPhase(listener: (phase: StartupPhase, mark: PhaseMark) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  report(): StartupReport {
    return {
      started_at: new Date(performance.timeOrigin + this.#origin).toISOString(),
      phases: structuredClone(this.#phases),
      custom_nodes: this.#packs.map((pack) => ({ ...pack })),
      restarts: structuredClone(this.#restarts),
    };
  }

  #comfyPhase(phase: "python_up" | "http_listening"): void {
    if (this.#current) this.#current[phase] ??= { at_ms: this.#now() };
    else this.mark(phase);
  }

  #closePacks(): void {
    if (this.#phases.custom_nodes) return;
    const failed = this.#packs.filter((pack) => pack.failed).map((pack) => pack.name);
    const seconds = this.#packs.reduce((sum, pack) => sum + pack.seconds, 0);
    this.mark("custom_nodes", { packs: this.#packs.length, seconds: Math.round(seconds * 10) / 10, failed });
  }

  #now(): number {
    return Math.round(performance.now() - this.#origin);
  }
}

function _load(fact: Extract<ComfyLineFact, { kind: "model-loaded" }>, model?: string): Record<string, unknown> {
  return {
    ...(model ? { model } : {}),
    mode: fact.mode,
    ...(fact.loaded_mb !== undefined ? { loaded_mb: fact.loaded_mb } : {}),
  };
}

/** The once-per-start log table: phase, time since start, time since the previous phase. */
export function formatTimeline(report: StartupReport): string {
  const rows = STARTUP_PHASES.flatMap((phase) => {
    const mark = report.phases[phase];
    return mark ? [{ phase, at: mark.at_ms }] : [];
  }).sort((a, b) => a.at - b.at);
  let previous = 0;
  const lines = rows.map(({ phase, at }) => {
    const line = `  ${phase.padEnd(18)} ${_seconds(at).padStart(8)}  (+${_seconds(at - previous)})`;
    previous = at;
    return line;
  });
  const packs = report.custom_nodes.map(
    (pack) => `    ${pack.name}: ${pack.seconds.toFixed(1)} s${pack.failed ? " (IMPORT FAILED)" : ""}`,
  );
  return ["start-up timeline:", ...lines, ...(packs.length ? ["  custom node imports:", ...packs] : [])].join("\n");
}

function _seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}
