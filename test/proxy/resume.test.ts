import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import type { Server } from "bun";
import { addModel, freePort, type SpawnedEmulator, spawnEmulator } from "../helpers/emulator.ts";
import { FrontendClient } from "../helpers/frontend-client.ts";
import { type Proc, spawnEndpoint, spawnProxy } from "./_stack.ts";

// A dropped connection to the endpoint mid-job: the proxy follows the same job again, never resubmits.
const WORKFLOW = (await Bun.file(join(import.meta.dir, "../../examples/sd15-txt2img.json")).json()) as Record<
  string,
  { inputs: Record<string, unknown> }
>;
const OUTAGE_MS = 1500;

let local: SpawnedEmulator;
let endpoint: Proc & { url: string; base: string };
let proxy: Proc & { url: string; jobIds(): string[] };
let link: Link;

/** An HTTP hop between the proxy and the endpoint that can be cut: open connections die, new ones are refused. */
interface Link {
  port: number;
  runs: number;
  cut(ms: number): Promise<void>;
  stop(): Promise<void>;
}

async function startLink(target: string): Promise<Link> {
  const port = await freePort();
  const state = { runs: 0, server: undefined as Server<undefined> | undefined };
  const listen = () => {
    state.server = Bun.serve({
      hostname: "127.0.0.1",
      port,
      idleTimeout: 0,
      async fetch(req) {
        const url = new URL(req.url);
        if (req.method === "POST" && url.pathname.endsWith("/run")) state.runs += 1;
        const body = req.method === "GET" ? undefined : await req.arrayBuffer();
        const res = await fetch(`${target}${url.pathname}${url.search}`, {
          method: req.method,
          headers: req.headers,
          body,
        });
        return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
      },
    });
  };
  listen();
  return {
    port,
    get runs() {
      return state.runs;
    },
    async cut(ms) {
      await state.server?.stop(true);
      await Bun.sleep(ms);
      listen();
    },
    stop: async () => void (await state.server?.stop(true)),
  };
}

beforeAll(async () => {
  [local, endpoint] = await Promise.all([spawnEmulator(), spawnEndpoint("--node-ms 600")]);
  await addModel(local.base, "checkpoints", "v1-5-pruned-emaonly.safetensors");
  link = await startLink(endpoint.base);
  proxy = await spawnProxy(local.url, `http://127.0.0.1:${link.port}/v2/local`);
}, 60_000);

afterAll(async () => {
  await Promise.all([proxy?.stop(), endpoint?.stop(), local?.stop(), link?.stop()]);
});

test("a connection to the endpoint dropped mid-job resumes following the same job", async () => {
  const c = new FrontendClient(proxy.url);
  await c.init();
  const { prompt_id } = await c.queuePrompt(0, { output: WORKFLOW, workflow: {} });
  await c.waitFor((e) => e.type === "executing" && e.data.prompt_id === prompt_id, 30_000);
  await link.cut(OUTAGE_MS);
  await c.finished(prompt_id, 60_000);
  expect(c.eventsOf(prompt_id).some((e) => e.type === "execution_success")).toBe(true);
  expect(c.eventsOf(prompt_id).some((e) => e.type === "executed")).toBe(true);
  expect(link.runs).toBe(1);
  expect(proxy.jobIds()).toHaveLength(1);
  expect(proxy.output()).toContain(`following job ${proxy.jobIds()[0]} again`);
  c.close();
}, 90_000);
