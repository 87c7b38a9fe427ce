import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { ComfyExit, ComfyState } from "./handle-types.ts";

/** State, listeners and `waitReady` shared by the supervised and the attached ComfyUI handle. */
export abstract class HandleBase {
  protected current: ComfyState = "starting";
  protected failure: WorkerError | undefined;
  protected exit: ComfyExit | undefined;
  /** Aborted by stop(): every loop, sleep and probe of this handle listens to it. */
  protected readonly life = new AbortController();
  protected readonly log: Logger;
  readonly #exitListeners = new Set<(exit: ComfyExit) => void>();
  readonly #stateListeners = new Set<(state: ComfyState) => void>();
  readonly #lineListeners = new Set<(line: string) => void>();
  readonly #spawnListeners = new Set<(pid: number) => void>();

  constructor(log: Logger) {
    this.log = log;
  }

  get state(): ComfyState {
    return this.current;
  }

  get lastExit(): ComfyExit | undefined {
    return this.exit;
  }

  onExit(listener: (exit: ComfyExit) => void): () => void {
    this.#exitListeners.add(listener);
    return () => this.#exitListeners.delete(listener);
  }

  onState(listener: (state: ComfyState) => void): () => void {
    this.#stateListeners.add(listener);
    return () => this.#stateListeners.delete(listener);
  }

  /** Every non-empty output line of the process, as it arrives (none for an attached ComfyUI). */
  onLine(listener: (line: string) => void): () => void {
    this.#lineListeners.add(listener);
    return () => this.#lineListeners.delete(listener);
  }

  /** Every (re)spawn of a supervised ComfyUI process, with its pid (none for an attached ComfyUI). */
  onSpawn(listener: (pid: number) => void): () => void {
    this.#spawnListeners.add(listener);
    return () => this.#spawnListeners.delete(listener);
  }

  waitReady(signal?: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settled = (): boolean => {
        if (this.current === "ready") resolve();
        else if (this.failure) reject(this.failure);
        else if (this.life.signal.aborted) reject(stoppedError());
        else if (signal?.aborted) reject(signal.reason);
        else return false;
        return true;
      };
      if (settled()) return;
      const check = () => {
        if (!settled()) return;
        off();
        signal?.removeEventListener("abort", check);
      };
      const off = this.onState(check);
      signal?.addEventListener("abort", check, { once: true });
    });
  }

  protected setState(state: ComfyState): void {
    if (state === this.current) return;
    this.current = state;
    for (const listener of [...this.#stateListeners]) this.#call(() => listener(state));
  }

  protected emitExit(exit: ComfyExit): void {
    this.exit = exit;
    for (const listener of [...this.#exitListeners]) this.#call(() => listener(exit));
  }

  protected emitSpawn(pid: number): void {
    for (const listener of this.#spawnListeners) this.#call(() => listener(pid));
  }

  protected emitLine(line: string): void {
    for (const listener of this.#lineListeners) this.#call(() => listener(line));
  }

  /** For good: waitReady rejects with `error` from now on. Callers log it unless it is thrown to someone. */
  protected fail(error: WorkerError): void {
    this.failure = error;
    this.setState("failed");
  }

  // a listener's bug must not break supervision
  #call(fn: () => void): void {
    try {
      fn();
    } catch (error) {
      this.log.error(`a ComfyUI state listener threw: ${(error as Error)?.message ?? error}`);
    }
  }
}

/** The error for anything waiting on a ComfyUI handle that stop() was called on. */
export function stoppedError(): WorkerError {
  return new WorkerError("E_INTERRUPTED", "ComfyUI was stopped (the worker is shutting down)");
}

// a promise that never settles and holds nothing: "this process never exits" for handles without one
export const NEVER: Promise<never> = new Promise<never>(() => undefined);
