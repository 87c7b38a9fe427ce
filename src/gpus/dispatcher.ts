import type { GpuInstance, InstancePool } from "./pool.ts";

interface Waiter {
  models: readonly string[];
  resolve: (instance: GpuInstance) => void;
  reject: (reason: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: () => void;
}

/**
 * Gives each job an idle, ready instance: among several, the one whose last job loaded the most of the
 * models this job needs (they are still in its VRAM), else the lowest slot. Jobs wait in order while
 * every ready instance is busy. The worker's concurrency is `capacity()`: instances not failed for good.
 */
export class Dispatcher {
  readonly #pool: InstancePool;
  readonly #busy = new Set<GpuInstance>();
  readonly #loaded = new Map<GpuInstance, ReadonlySet<string>>();
  readonly #waiters: Waiter[] = [];

  constructor(pool: InstancePool) {
    this.#pool = pool;
    for (const instance of pool.instances) instance.comfy.onState(() => this.#pump());
  }

  /** How many jobs may run at once now. */
  capacity(): number {
    return Math.max(1, this.#pool.healthy().length);
  }

  busy(instance: GpuInstance): boolean {
    return this.#busy.has(instance);
  }

  /** An instance for a job that loads `models` (e.g. `checkpoints/x.safetensors`); hold it until release(). */
  acquire(models: readonly string[], signal?: AbortSignal): Promise<GpuInstance> {
    signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const waiter: Waiter = { models, resolve, reject, signal, onAbort: () => {} };
      waiter.onAbort = () => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(signal?.reason);
      };
      signal?.addEventListener("abort", waiter.onAbort, { once: true });
      this.#waiters.push(waiter);
      this.#pump();
    });
  }

  /** The job is done with `instance`; `models` stay loaded there. */
  release(instance: GpuInstance, models: readonly string[]): void {
    this.#busy.delete(instance);
    this.#loaded.set(instance, new Set(models));
    this.#pump();
  }

  #pump(): void {
    while (this.#waiters.length > 0) {
      const idle = this.#pool.instances.filter((i) => i.comfy.state === "ready" && !this.#busy.has(i));
      const waiter = this.#waiters[0];
      if (idle.length === 0 || !waiter) return;
      this.#waiters.shift();
      waiter.signal?.removeEventListener("abort", waiter.onAbort);
      const instance = this.#best(idle, waiter.models);
      this.#busy.add(instance);
      waiter.resolve(instance);
    }
  }

  #best(idle: GpuInstance[], models: readonly string[]): GpuInstance {
    let best = idle[0] as GpuInstance;
    let score = -1;
    for (const instance of idle) {
      const loaded = this.#loaded.get(instance);
      const hits = loaded ? models.filter((model) => loaded.has(model)).length : 0;
      if (hits > score) {
        best = instance;
        score = hits;
      }
    }
    return best;
  }
}
