/**
 * A stand-in ComfyUI for the warm-up job (prime.ts): on loopback, for one prompt, it answers POST /prompt,
 * /history and /view and sends the websocket events a real ComfyUI sends for that prompt, in its order. The
 * warm-up runs through our real client, socket and pipeline code, never through the user's ComfyUI, so no
 * prompt, history entry or log line of it appears there.
 */
import type { Server, ServerWebSocket } from "bun";
import type { ComfyHandle } from "../comfy/handle-types.ts";
import { coreNodeInfo, fillFileCombos, type ObjectInfo } from "../comfy/object-info.ts";

/** The prompt the stand-in runs: an image into an output, and a loader whose file the weights check finds. */
export const PRIME_PROMPT = {
  "0": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "prime.safetensors" } },
  "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } },
};
// the stand-in's model folders: the loader's file is there, so the weights check finds it
const MODELS: Record<string, string[]> = { checkpoints: ["prime.safetensors"], embeddings: [] };
const PRIME_IMAGE = { filename: "comfy-worker-prime.png", subfolder: "", type: "temp" } as const;

export interface PrimeComfy {
  url: string;
  handle: ComfyHandle;
  objectInfo: ObjectInfo;
  stop(): void;
}

/** Starts the stand-in on a free loopback port; `image` is what /view serves for PRIME_IMAGE. */
export function startPrimeComfy(image: Uint8Array): PrimeComfy {
  const sockets = new Set<ServerWebSocket<unknown>>();
  const history = new Map<string, unknown>();
  const send = (type: string, data: Record<string, unknown>) => {
    for (const ws of sockets) ws.send(JSON.stringify({ type, data }));
  };
  const run = (promptId: string, prompt: unknown, extraData: unknown) => {
    const at = Date.now();
    const messages: [string, Record<string, unknown>][] = [
      ["execution_start", { prompt_id: promptId, timestamp: at }],
      ["execution_cached", { nodes: [], prompt_id: promptId, timestamp: at }],
    ];
    for (const [type, data] of messages) send(type, data);
    send("executing", { node: "1", display_node: "1", prompt_id: promptId });
    send("executing", { node: "2", display_node: "2", prompt_id: promptId });
    send("progress", { value: 1, max: 1, prompt_id: promptId, node: "2" });
    const output = { images: [PRIME_IMAGE] };
    send("executed", { node: "2", display_node: "2", output, prompt_id: promptId });
    messages.push(["execution_success", { prompt_id: promptId, timestamp: Date.now() }]);
    history.set(promptId, {
      prompt: [0, promptId, prompt, extraData, ["2"]],
      outputs: { "2": output },
      status: { status_str: "success", completed: true, messages },
      meta: { "2": { node_id: "2", display_node: "2", parent_node: null, real_node_id: "2" } },
    });
    send("execution_success", { prompt_id: promptId, timestamp: Date.now() });
    send("executing", { node: null, prompt_id: promptId });
  };
  const server: Server<unknown> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (req, srv) => {
      const { pathname } = new URL(req.url);
      if (pathname === "/ws")
        return srv.upgrade(req, { data: undefined }) ? undefined : new Response(null, { status: 400 });
      if (pathname === "/prompt" && req.method === "POST") {
        const body = (await req.json()) as { prompt_id?: string; prompt?: unknown; extra_data?: unknown };
        const promptId = body.prompt_id ?? crypto.randomUUID();
        setTimeout(() => run(promptId, body.prompt, body.extra_data), 0);
        return Response.json({ prompt_id: promptId, number: 0, node_errors: {} });
      }
      if (pathname.startsWith("/history/")) {
        const id = decodeURIComponent(pathname.slice("/history/".length));
        return Response.json(history.has(id) ? { [id]: history.get(id) } : {});
      }
      if (pathname === "/view") return new Response(image, { headers: { "content-type": "image/png" } });
      if (pathname === "/models") return Response.json(Object.keys(MODELS));
      const folder = pathname.startsWith("/models/") ? MODELS[pathname.slice("/models/".length)] : undefined;
      if (folder) return Response.json(folder);
      return new Response("not found", { status: 404 });
    },
    websocket: {
      open: (ws) => {
        sockets.add(ws);
        ws.send(JSON.stringify({ type: "status", data: { status: { exec_info: { queue_remaining: 0 } } } }));
      },
      close: (ws) => {
        sockets.delete(ws);
      },
      message: () => {},
    },
  });
  const url = `http://127.0.0.1:${server.port}`;
  // ComfyUI's own entries for the prompt's nodes (the bundled snapshot), its loader listing the stand-in's file
  const types = [...new Set(Object.values(PRIME_PROMPT).map((node) => node.class_type))];
  const objectInfo = fillFileCombos(coreNodeInfo(types), (folder) => MODELS[folder] ?? []);
  return { url, handle: _readyHandle(url), objectInfo, stop: () => server.stop(true) };
}

// what a job sees of a ComfyUI that is up and never exits
function _readyHandle(url: string): ComfyHandle {
  const off = () => () => {};
  return {
    url,
    supervised: false,
    state: "ready",
    pid: undefined,
    restarts: 0,
    generation: 1,
    lastExit: undefined,
    logs: () => [],
    start: async () => {},
    waitReady: async () => {},
    onExit: off,
    onState: off,
    onLine: off,
    onSpawn: off,
    stop: async () => {},
  };
}
