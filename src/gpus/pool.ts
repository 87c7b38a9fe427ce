import type { ComfyExit, ComfyHandle, ComfyState } from "../comfy/supervisor.ts";
import { WorkerError } from "../errors.ts";
import type { Gpu } from "./discover.ts";

/** One ComfyUI of a multi-GPU worker. */
export interface GpuInstance {
  /** Position in the pool (0-based), used in logs and /health. */
  slot: number;
  gpu: Gpu;
  comfy: ComfyHandle;
}

/**
 * The instances of a multi-GPU worker seen as one ComfyHandle by what watches the whole worker (/health,
 * the failed-for-good exit, RunPod's take gate, bring-up): ready while any instance is, failed only when
 * every one failed for good, so a GPU that keeps crashing is dropped and the rest go on serving. Jobs never
 * use it: each runs on the instance the dispatcher gave it.
 */
export class InstancePool implements ComfyHandle {
  readonly supervised = true;
  readonly instances: readonly GpuInstance[];
  readonly #stateListeners = new Set<(state: ComfyState) => void>();
  #state: ComfyState = "starting";

  constructor(instances: readonly GpuInstance[]) {
    if (instances.length === 0) throw new WorkerError("E_INTERNAL", "a GPU pool needs at least one instance");
    this.instances = instances;
    for (const { comfy } of instances) comfy.onState(() => this.#update());
    this.#update();
  }

  get url(): string {
    return this.#first().comfy.url;
  }
  get state(): ComfyState {
    return this.#state;
  }
  get pid(): number | undefined {
    return this.#first().comfy.pid;
  }
  get restarts(): number {
    return this.instances.reduce((sum, { comfy }) => sum + comfy.restarts, 0);
  }
  get generation(): number {
    return this.instances.reduce((sum, { comfy }) => sum + comfy.generation, 0);
  }
  get lastExit(): ComfyExit | undefined {
    return this.#first().comfy.lastExit;
  }

  /** Instances not failed for good (their ComfyUI runs or is being restarted). */
  healthy(): GpuInstance[] {
    return this.instances.filter(({ comfy }) => comfy.state !== "failed");
  }

  logs(lines?: number): string[] {
    return this.#first().comfy.logs(lines);
  }

  /** Starts every instance; resolves once all settled with at least one ready, else rejects with the first failure. */
  async start(): Promise<void> {
    const results = await Promise.allSettled(this.instances.map(({ comfy }) => comfy.start()));
    if (results.some((result) => result.status === "fulfilled")) return;
    throw (results[0] as PromiseRejectedResult).reason;
  }

  waitReady(signal?: AbortSignal): Promise<void> {
    return Promise.any(this.instances.map(({ comfy }) => comfy.waitReady(signal))).catch((error: AggregateError) => {
      throw error.errors[0];
    });
  }

  onExit(listener: (exit: ComfyExit) => void): () => void {
    const offs = this.instances.map(({ comfy }) => comfy.onExit(listener));
    return () => {
      for (const off of offs) off();
    };
  }

  onState(listener: (state: ComfyState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  onLine(listener: (line: string) => void): () => void {
    return this.#first().comfy.onLine(listener);
  }

  onSpawn(listener: (pid: number) => void): () => void {
    return this.#first().comfy.onSpawn(listener);
  }

  async stop(graceMs?: number): Promise<void> {
    await Promise.all(this.instances.map(({ comfy }) => comfy.stop(graceMs)));
  }

  // the first instance not failed speaks for the pool (url, pid, logs, the start-up timeline)
  #first(): GpuInstance {
    return this.healthy()[0] ?? (this.instances[0] as GpuInstance);
  }

  #update(): void {
    const states = this.instances.map(({ comfy }) => comfy.state);
    const next: ComfyState = states.includes("ready")
      ? "ready"
      : states.every((state) => state === "failed")
        ? "failed"
        : (states.find((state) => state !== "failed") ?? "failed");
    if (next === this.#state) return;
    this.#state = next;
    for (const listener of [...this.#stateListeners]) listener(next);
  }
}
