// What the server, the job runner and /health see of a ComfyUI, supervised or attached.

/** Lifecycle of a ComfyUI handle; "failed" is for good (restart limit reached or first start failed). */
export type ComfyState = "starting" | "ready" | "restarting" | "failed" | "stopping" | "stopped";

/** Why a ComfyUI process went away (not reported for stop()). */
export interface ComfyExit {
  reason: "exit" | "hang" | "ready-timeout";
  code: number | null;
  signal: string | null;
  lastLines: string[];
}

/** A running (or attached) ComfyUI, as the server, the job runner and /health see it. */
export interface ComfyHandle {
  /** Base URL without trailing slash, e.g. http://127.0.0.1:8188. */
  readonly url: string;
  /** False for COMFY_URL (attachComfy): no process, no restarts, no logs. */
  readonly supervised: boolean;
  readonly state: ComfyState;
  /** Pid (= process group id) of the running ComfyUI; undefined when none runs. */
  readonly pid: number | undefined;
  /** Restarts so far (lifetime). */
  readonly restarts: number;
  /** +1 on every (re)start; lets a job notice its ComfyUI was replaced. */
  readonly generation: number;
  readonly lastExit: ComfyExit | undefined;
  /** The last `lines` output lines (all kept by default), newest last. */
  logs(lines?: number): string[];
  /** Resolves when ready; throws E_COMFY_START (exit before ready, timeout, cannot spawn), E_INTERRUPTED if stopped. */
  start(): Promise<void>;
  /** Resolves when ready; rejects with the failure (E_COMFY_DIED / E_COMFY_START) once failed, E_INTERRUPTED once stopped. */
  waitReady(signal?: AbortSignal): Promise<void>;
  /** Fired at once when ComfyUI crashes, hangs or fails to come back (never for stop()); jobs fail on it. */
  onExit(listener: (exit: ComfyExit) => void): () => void;
  onState(listener: (state: ComfyState) => void): () => void;
  /** Every non-empty output line of a supervised ComfyUI as it arrives (start-up timeline, import failures). */
  onLine(listener: (line: string) => void): () => void;
  /** Every (re)spawn of a supervised ComfyUI process, with its pid. */
  onSpawn(listener: (pid: number) => void): () => void;
  /** SIGTERM to the whole group, SIGKILL after `graceMs` (default 10 s); idempotent. */
  stop(graceMs?: number): Promise<void>;
}
