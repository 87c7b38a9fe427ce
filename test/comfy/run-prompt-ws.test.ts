import { afterEach, describe, expect, test } from "bun:test";
import type { ServerWebSocket } from "bun";
import { createComfyClient } from "../../src/comfy/client.ts";
import { type PromptEvent, runPrompt } from "../../src/comfy/run-prompt.ts";
import type { ApiWorkflow } from "../../src/comfy/schemas.ts";
import { addModel, type SpawnedEmulator, sd15Workflow, spawnEmulator } from "../helpers/emulator.ts";

// generous next to what each scenario needs, so a regression shows up as a failure, not a hung suite
const TEST_TIMEOUT_MS = 15_000;
// the old code found a result lost with the socket only at its next routine poll, 5 s later; "promptly" is well
// inside that, with room for a loaded machine
const PROMPT_MS = 2_500;

interface Link {
  clientId: string;
  upstream?: WebSocket;
  pending: string[];
}

/**
 * A loopback proxy in front of the emulator that can cut the websocket right at a prompt's last event: the
 * `execution_success` frame and everything after it never reach the client, and until the client has reconnected
 * /history answers `{}` for that prompt, as ComfyUI does in the moment between that event and writing the entry.
 */
function startProxy(emu: SpawnedEmulator, options: { dropAtLastEvent: boolean; refuseWs?: boolean }) {
  const state = { connections: 0, reconnected: false, hidden: undefined as string | undefined, dropped: false };
  const server = Bun.serve<Link>({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req, srv) {
      const url = new URL(req.url);
      if (url.pathname === "/ws" && options.refuseWs) return new Response("no websockets here", { status: 404 });
      if (url.pathname === "/ws") {
        const clientId = url.searchParams.get("clientId") ?? "";
        return srv.upgrade(req, { data: { clientId, pending: [] } }) ? undefined : new Response("no", { status: 400 });
      }
      if (state.hidden && !state.reconnected && url.pathname === `/history/${state.hidden}`) return Response.json({});
      const body = req.method === "GET" ? undefined : await req.arrayBuffer();
      const res = await fetch(`${emu.url}${url.pathname}${url.search}`, {
        method: req.method,
        headers: req.headers,
        body,
      });
      return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
    },
    websocket: {
      open(ws) {
        state.connections += 1;
        if (state.dropped) state.reconnected = true;
        _connectUpstream(ws, emu, (text) => {
          const message = JSON.parse(text) as { type: string; data: { prompt_id?: string } };
          if (!options.dropAtLastEvent || state.dropped || message.type !== "execution_success") return true;
          state.dropped = true;
          state.hidden = message.data.prompt_id;
          return false;
        });
      },
      message(ws, text) {
        if (ws.data.upstream?.readyState === WebSocket.OPEN) ws.data.upstream.send(text);
        else ws.data.pending.push(String(text));
      },
      close(ws) {
        ws.data.upstream?.close();
      },
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, state, stop: () => server.stop(true) };
}

function _connectUpstream(ws: ServerWebSocket<Link>, emu: SpawnedEmulator, pass: (text: string) => boolean): void {
  const upstream = new WebSocket(`${emu.url.replace("http", "ws")}/ws?clientId=${ws.data.clientId}`);
  ws.data.upstream = upstream;
  upstream.onopen = () => {
    for (const text of ws.data.pending.splice(0)) upstream.send(text);
  };
  upstream.onmessage = (event) => {
    if (typeof event.data !== "string") return;
    if (pass(event.data)) ws.send(event.data);
    else {
      // cut without a close handshake, as a network drop does
      upstream.close();
      ws.terminate();
    }
  };
}

let emulator: SpawnedEmulator | undefined;
afterEach(async () => {
  await emulator?.stop(1_000);
  emulator = undefined;
});

async function emulatorWithModel(args: string[]): Promise<SpawnedEmulator> {
  emulator = await spawnEmulator({ args });
  await addModel(emulator.base, "checkpoints", "dreamshaper_8.safetensors");
  return emulator;
}

describe("runPrompt over one shared websocket", () => {
  test(
    "the socket drops right at the last event: the result is not lost and /history gives it promptly",
    async () => {
      const emu = await emulatorWithModel(["--node-ms", "10"]);
      const proxy = startProxy(emu, { dropAtLastEvent: true });
      const client = createComfyClient({ url: proxy.url, timeoutMs: 5_000 });
      try {
        const run = runPrompt(client, sd15Workflow() as ApiWorkflow);
        const late = Bun.sleep(PROMPT_MS).then(() => "still waiting" as const);
        const ready = await Promise.race([run, late]);
        // the drop happened where the test wanted it, and the socket came back on its own
        expect(proxy.state.dropped).toBe(true);
        expect(proxy.state.connections).toBe(2);
        expect(ready).not.toBe("still waiting");
        const result = await run;
        expect(result.status).toBe("success");
        expect(result.promptId).toBe(proxy.state.hidden ?? "");
        expect(result.entry.outputs["9"]?.images).toHaveLength(1);
      } finally {
        client.close();
        await proxy.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "a prompt sent while the shared socket keeps failing to connect does not wait for it: /history follows it",
    async () => {
      const emu = await emulatorWithModel(["--node-ms", "10"]);
      const proxy = startProxy(emu, { dropAtLastEvent: false, refuseWs: true });
      const client = createComfyClient({ url: proxy.url, timeoutMs: 5_000 });
      try {
        // the socket's first attempt has failed: it is now between reconnect attempts
        expect(await client.events.opened(2_000)).toBe(false);
        expect(client.events.state).toBe("reconnecting");
        const run = runPrompt(client, sd15Workflow() as ApiWorkflow);
        const late = Bun.sleep(PROMPT_MS).then(() => "still waiting" as const);
        expect(await Promise.race([run, late])).not.toBe("still waiting");
        expect((await run).status).toBe("success");
      } finally {
        client.close();
        await proxy.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );

  test(
    "prompts in flight together share one socket and each hears only its own events",
    async () => {
      const emu = await emulatorWithModel(["--node-ms", "20"]);
      const proxy = startProxy(emu, { dropAtLastEvent: false });
      const client = createComfyClient({ url: proxy.url, timeoutMs: 5_000 });
      try {
        const seen = new Map<string, PromptEvent[]>();
        const one = (id: string) =>
          runPrompt(client, sd15Workflow() as ApiWorkflow, {
            promptId: id,
            onEvent: (event) => seen.set(id, [...(seen.get(id) ?? []), event]),
          });
        const ids = [crypto.randomUUID(), crypto.randomUUID(), crypto.randomUUID()];
        const results = await Promise.all(ids.map(one));
        expect(results.map((r) => r.status)).toEqual(["success", "success", "success"]);
        expect(proxy.state.connections).toBe(1);
        for (const id of ids) {
          const events = seen.get(id) ?? [];
          expect(events[0]).toMatchObject({ type: "queued", promptId: id });
          // SaveImage's `executed` for this prompt, exactly once
          expect(events.filter((e) => e.type === "executed")).toHaveLength(1);
        }
      } finally {
        client.close();
        await proxy.stop();
      }
    },
    TEST_TIMEOUT_MS,
  );
});
