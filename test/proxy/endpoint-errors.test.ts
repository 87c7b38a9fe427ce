import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng, gradientImage } from "../../src/emulator/png.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { type ProxyHandle, startProxy } from "../../src/proxy/server.ts";
import { saveResult } from "../../src/proxy/store.ts";
import { createEndpointClient } from "../../src/remote/index.ts";
import { addModel, type SpawnedEmulator, spawnEmulator } from "../helpers/emulator.ts";
import { FrontendClient } from "../helpers/frontend-client.ts";

// The endpoint misbehaves (bad key, unknown endpoint): the UI gets execution_error saying what to do.
const WORKFLOW = await Bun.file(join(import.meta.dir, "../../examples/sd15-txt2img.json")).json();
const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });

let local: SpawnedEmulator;
let fake: ReturnType<typeof Bun.serve>;
let cancels = 0;
let cancelFailures = 0;
let cancelled = false;
const proxies: ProxyHandle[] = [];

beforeAll(async () => {
  local = await spawnEmulator();
  await addModel(local.base, "checkpoints", "v1-5-pruned-emaonly.safetensors");
  fake = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path.startsWith("/v2/badkey/")) return new Response("Unauthorized", { status: 401 });
      // a job that fails quoting a bearer token and a URL with a password
      if (path.startsWith("/v2/leaky/")) {
        if (path.endsWith("/run")) return Response.json({ id: "leaky-1", status: "IN_QUEUE" });
        const error = "upload failed: Bearer sekret-key-123 refused at http://user:hunter2@10.0.0.1/bucket";
        return Response.json({ id: "leaky-1", status: "FAILED", error });
      }
      // a job that runs until it is cancelled, on an endpoint whose cancel fails `cancelFailures` times
      if (path.startsWith("/v2/stuck/")) {
        if (path.endsWith("/run")) return Response.json({ id: "stuck-1", status: "IN_QUEUE" });
        if (path.includes("/cancel/")) {
          cancels += 1;
          if (cancels <= cancelFailures) return new Response("upstream error", { status: 502 });
          cancelled = true;
          return Response.json({ id: "stuck-1", status: "CANCELLED" });
        }
        return Response.json({ id: "stuck-1", status: cancelled ? "CANCELLED" : "IN_PROGRESS", stream: [] });
      }
      if (path.endsWith("/x.png")) return new Response(encodePng(gradientImage(4, 4, 1)));
      return new Response("not found", { status: 404 });
    },
  });
}, 30_000);

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await fake?.stop(true);
  await local?.stop();
});

function proxyTo(endpointId: string): ProxyHandle {
  const proxy = startProxy({
    host: "127.0.0.1",
    port: 0,
    comfyUrl: local.url,
    client: createEndpointClient({ endpoint: `http://127.0.0.1:${fake.port}/v2/${endpointId}` }),
    outDir: mkdtempSync(join(tmpdir(), "cw-proxy-err-")),
    guard: { privateAllowed: [] },
    target: "remote",
    log,
  });
  proxies.push(proxy);
  return proxy;
}

async function failureOf(endpointId: string): Promise<Record<string, unknown>> {
  const c = new FrontendClient(proxyTo(endpointId).url);
  await c.init();
  const { prompt_id } = await c.queuePrompt(0, { output: WORKFLOW, workflow: {} });
  await c.finished(prompt_id, 20_000);
  const error = c.eventsOf(prompt_id).find((e) => e.type === "execution_error");
  c.close();
  return error?.data ?? {};
}

describe("endpoint errors reach the UI as execution_error", () => {
  test("a bad API key", async () => {
    const error = await failureOf("badkey");
    expect(error.exception_type).toBe("E_AUTH");
    expect(String(error.exception_message)).toContain("401");
  });

  test("a remote error that quotes a token or a URL password shows them as *** in the UI", async () => {
    const error = await failureOf("leaky");
    expect(String(error.exception_message)).toContain(
      "upload failed: Bearer *** refused at http://***@10.0.0.1/bucket",
    );
    expect(JSON.stringify(error)).not.toContain("sekret-key-123");
    expect(JSON.stringify(error)).not.toContain("hunter2");
  });

  test("an unknown endpoint", async () => {
    const error = await failureOf("nosuch");
    expect(error.exception_type).toBe("E_NOT_FOUND");
    expect(String(error.exception_message)).toContain("404");
  });

  test("an interrupt whose cancel fails is tried again; one that never reaches the endpoint is an error, not a stop", async () => {
    const interrupt = async (failures: number) => {
      [cancels, cancelFailures, cancelled] = [0, failures, false];
      const c = new FrontendClient(proxyTo("stuck").url);
      await c.init();
      const { prompt_id } = await c.queuePrompt(0, { output: WORKFLOW, workflow: {} });
      await c.waitFor((e) => e.type === "execution_start" && e.data.prompt_id === prompt_id, 10_000);
      await c.interrupt(prompt_id);
      await c.finished(prompt_id, 20_000);
      const events = c.eventsOf(prompt_id);
      c.close();
      return events;
    };
    // two failed tries, then the endpoint takes it: the job is cancelled and the UI sees an interrupt
    const retried = await interrupt(2);
    expect(cancels).toBe(3);
    expect(retried.some((e) => e.type === "execution_interrupted")).toBe(true);
    // every try fails: the UI is told the job may still run, rather than that it stopped
    const failed = await interrupt(100);
    expect(cancels).toBe(4);
    const error = failed.find((e) => e.type === "execution_error")?.data ?? {};
    expect(String(error.exception_message)).toContain("could not cancel remote job stuck-1");
    expect(String(error.exception_message)).toContain("cancel it in the RunPod console");
    expect(failed.some((e) => e.type === "execution_interrupted")).toBe(false);
  }, 40_000);

  test("with the local ComfyUI down, the proxy's remote prompts still show in /queue, /history and /api/jobs", async () => {
    [cancels, cancelFailures, cancelled] = [0, 0, false];
    // a hop to the emulator that can be taken away, standing in for a ComfyUI that stops
    const relay = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (req) => {
        const url = new URL(req.url);
        return fetch(`${local.url}${url.pathname}${url.search}`, {
          method: req.method,
          headers: req.headers,
          body: req.method === "GET" ? undefined : req.body,
        });
      },
    });
    const proxy = startProxy({
      host: "127.0.0.1",
      port: 0,
      comfyUrl: `http://127.0.0.1:${relay.port}`,
      client: createEndpointClient({ endpoint: `http://127.0.0.1:${fake.port}/v2/stuck` }),
      outDir: mkdtempSync(join(tmpdir(), "cw-proxy-down-")),
      guard: { privateAllowed: [] },
      target: "remote",
      log,
    });
    proxies.push(proxy);
    // no browser socket here (the hop carries no websockets): the prompt is followed through HTTP
    const posted = await fetch(`${proxy.url}/api/prompt`, {
      method: "POST",
      headers: { origin: proxy.url },
      body: JSON.stringify({ prompt: WORKFLOW }),
    });
    const { prompt_id } = (await posted.json()) as { prompt_id: string };
    const running = async () =>
      ((await (await fetch(`${proxy.url}/api/queue`)).json()) as { queue_running: unknown[][] }).queue_running;
    for (let i = 0; i < 200 && (await running()).length === 0; i++) await Bun.sleep(25);
    await relay.stop(true);
    const queue = await fetch(`${proxy.url}/api/queue`);
    expect(queue.status).toBe(200);
    expect(((await queue.json()) as { queue_running: unknown[][] }).queue_running.map((item) => item[1])).toEqual([
      prompt_id,
    ]);
    expect(await (await fetch(`${proxy.url}/api/history`)).json()).toEqual({});
    const jobs = (await (await fetch(`${proxy.url}/api/jobs`)).json()) as { jobs: { id: string }[] };
    expect(jobs.jobs.map((job) => job.id)).toEqual([prompt_id]);
    const interrupt = await fetch(`${proxy.url}/api/interrupt`, { method: "POST", headers: { origin: proxy.url } });
    expect(interrupt.status).toBe(200);
    for (let i = 0; i < 400 && (await running()).length > 0; i++) await Bun.sleep(25);
    expect(cancels).toBe(1);
    const history = (await (await fetch(`${proxy.url}/api/history`)).json()) as Record<string, unknown>;
    expect(Object.keys(history)).toEqual([prompt_id]);
  }, 40_000);

  test("an output URL on a private address is refused unless PRIVATE_HOSTS_ALLOWED names it", async () => {
    const out = mkdtempSync(join(tmpdir(), "cw-proxy-url-"));
    const url = `http://127.0.0.1:${fake.port}/bucket/x.png`;
    const result = {
      images: [{ filename: "x.png", subfolder: "", node_id: "9", type: "s3_url", data: url, mime: "image/png" }],
    };
    await expect(saveResult(result, [], { outDir: out, guard: { privateAllowed: [] } })).rejects.toThrow("private");
    const ui = await saveResult(result, [], { outDir: out, guard: { privateAllowed: ["127.0.0.1"] } });
    expect(ui.get("9")).toEqual({ images: [{ filename: "x.png", subfolder: "remote", type: "output" }] });
    expect((await Bun.file(join(out, "remote", "x.png")).bytes()).length).toBeGreaterThan(50);
  });
});
