import type { ComfyExit, ComfyHandle, ComfyState } from "../../src/comfy/supervisor.ts";

/** A ComfyHandle stand-in for in-process route tests (integration tests use the real supervisor). */
export function fakeComfyHandle(
  state: ComfyState = "ready",
  lines: string[] = ["line 1", "line 2"],
): ComfyHandle & { state: ComfyState } {
  return {
    url: "http://127.0.0.1:1",
    supervised: true,
    state,
    pid: 4242,
    restarts: 0,
    generation: 1,
    lastExit: undefined as ComfyExit | undefined,
    logs: (n?: number) => (n === undefined ? lines : lines.slice(-n)),
    start: async () => {},
    waitReady: async () => {},
    onExit: () => () => {},
    onState: () => () => {},
    onLine: () => () => {},
    onSpawn: () => () => {},
    stop: async () => {},
  };
}
