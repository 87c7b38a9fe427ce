import { WorkerError } from "../errors.ts";
import { gpuProblemIn } from "./failure-rules.ts";
import type { ComfyExit } from "./supervisor.ts";

const MESSAGE_LINE_CHARS = 300;

/** "exit code 1", "killed by SIGKILL", "stopped answering and was killed", … */
export function describeExit(exit: ComfyExit): string {
  if (exit.reason === "hang") return "stopped answering and was killed";
  if (exit.reason === "ready-timeout") return "did not become ready in time and was killed";
  if (exit.signal) return `killed by ${exit.signal}`;
  return exit.code === null ? "exited" : `exit code ${exit.code}`;
}

/** E_COMFY_START for a first start that ended before ready; the message names the exit code and last line. */
export function startError(exit: ComfyExit, readyTimeoutMs: number): WorkerError {
  const details = { last_log_lines: exit.lastLines, exit_code: exit.code, signal: exit.signal, reason: exit.reason };
  if (exit.reason === "ready-timeout") {
    const message =
      `ComfyUI did not answer GET /system_stats within ${Math.round(readyTimeoutMs / 1000)} s of starting and was ` +
      "killed; raise COMFY_READY_TIMEOUT_S if it is only slow (many custom nodes, first start), else see " +
      "details.last_log_lines";
    return new WorkerError("E_COMFY_START", message, { details });
  }
  const gpu = gpuProblemIn(exit.lastLines);
  if (gpu) {
    const message = `ComfyUI could not start: no usable GPU (${_clip(gpu.line)}): ${gpu.fix}`;
    return new WorkerError("E_GPU_UNAVAILABLE", message, { details: { ...details, failure: { kind: gpu.kind } } });
  }
  const last = exit.lastLines.at(-1);
  const tail = last ? `; its last line: ${_clip(last)}` : "; it printed nothing";
  return new WorkerError("E_COMFY_START", `ComfyUI exited before it was ready (${describeExit(exit)})${tail}`, {
    details,
  });
}

export interface DiedFacts {
  maxRestarts: number;
  windowMs: number;
  restarts: number;
  lines: string[];
}

/** E_COMFY_DIED for a ComfyUI that used up its restarts. */
export function diedError(last: ComfyExit | undefined, facts: DiedFacts): WorkerError {
  const minutes = Math.round(facts.windowMs / 60_000);
  const message =
    `ComfyUI kept dying (${facts.maxRestarts} restarts within ${minutes} min, last: ` +
    `${last ? describeExit(last) : "unknown"}) and is not restarted again; fix the cause shown in ` +
    "details.last_log_lines (or GET /logs), or raise COMFY_MAX_RESTARTS";
  const lastExit = last ? { reason: last.reason, code: last.code, signal: last.signal } : undefined;
  const details = { last_log_lines: facts.lines, restarts: facts.restarts, last_exit: lastExit };
  return new WorkerError("E_COMFY_DIED", message, { details });
}

function _clip(line: string): string {
  return line.length > MESSAGE_LINE_CHARS ? `${line.slice(0, MESSAGE_LINE_CHARS)}…` : line;
}
