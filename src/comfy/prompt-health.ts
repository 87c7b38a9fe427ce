import type { ComfyHandle } from "./supervisor.ts";

/**
 * The `health` callback for a supervised ComfyUI: a reason once the process that took the prompt is gone
 * (exited, restarting, failed or stopping); a restart loses ComfyUI's queue, so a new generation counts as gone.
 */
export function healthOf(comfy: Pick<ComfyHandle, "state" | "generation" | "lastExit">): () => string | undefined {
  const generation = comfy.generation;
  return () => {
    const alive = comfy.state === "ready" || comfy.state === "starting";
    if (comfy.generation === generation && alive) return undefined;
    const exit = comfy.lastExit;
    const how = exit
      ? ` (last exit: ${[exit.reason, exit.code ?? exit.signal].filter((p) => p !== null).join(" ")})`
      : "";
    return `${comfy.generation === generation ? `ComfyUI is ${comfy.state}` : "ComfyUI restarted"}${how}`;
  };
}
