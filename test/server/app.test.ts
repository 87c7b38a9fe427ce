import { afterEach, expect, test } from "bun:test";
import { describeFailure } from "../../src/jobs/failure.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { createApp } from "../../src/server/app.ts";
import type { WorkerHealth } from "../../src/server/health.ts";
import { JobStore } from "../../src/server/job-store.ts";
import { Metrics } from "../../src/server/metrics.ts";
import { fakeComfyHandle } from "../helpers/fake-comfy-handle.ts";

const stores: JobStore[] = [];
afterEach(async () => {
  for (const store of stores.splice(0)) await store.drain(0);
});

const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });

function setup(options: { token?: string; phase?: WorkerHealth["phase"]; maxBodyBytes?: number } = {}) {
  const comfy = fakeComfyHandle();
  const jobs = new JobStore({
    concurrency: 1,
    resultTtlMs: 60_000,
    timeoutMs: 0,
    execute: async (job) => {
      const delay = Number((job.request.input as { delay?: number }).delay ?? 0);
      await Bun.sleep(delay);
      return { images: [], echo: job.request.input };
    },
    fail: (error) => describeFailure(error, () => [], new Redactor()),
  });
  stores.push(jobs);
  const health: WorkerHealth = {
    phase: options.phase ?? "serving",
    startedAt: Date.now(),
    comfy,
    jobs,
    weights: { state: "ready", pending: 0, missing: [] },
  };
  const app = createApp({
    health,
    metrics: new Metrics(),
    log,
    apiToken: options.token,
    maxBodyBytes: options.maxBodyBytes,
  });
  return { app, health, comfy, jobs };
}

const json = async (res: Response) => (await res.json()) as Record<string, string>;

const post = (body: unknown, headers: Record<string, string> = {}) => ({
  method: "POST",
  headers: { "content-type": "application/json", ...headers },
  body: JSON.stringify(body),
});

test("GET /health reports SPEC §5 shape and 503 once ComfyUI failed for good", async () => {
  const { app, comfy } = setup();
  const res = await app.request("/health");
  expect(res.status).toBe(200);
  expect(await json(res)).toMatchObject({
    status: "ready",
    comfy: { state: "ready", pid: 4242, restarts: 0, url: "http://127.0.0.1:1" },
    weights: { state: "ready", pending: 0, missing: [] },
    jobs: { inQueue: 0, inProgress: 0, completed: 0, failed: 0 },
  });
  comfy.state = "failed";
  const failed = await app.request("/health");
  expect(failed.status).toBe(503);
  expect((await json(failed)).status).toBe("failed");
});

test("/ready and /ping follow the worker phase", async () => {
  const { app, health, comfy } = setup({ phase: "starting" });
  expect((await app.request("/ready")).status).toBe(503);
  expect((await app.request("/ping")).status).toBe(204);
  health.phase = "serving";
  expect((await app.request("/ready")).status).toBe(200);
  expect((await app.request("/ping")).status).toBe(200);
  comfy.state = "restarting";
  expect((await app.request("/ready")).status).toBe(503);
  expect((await app.request("/ping")).status).toBe(204);
  comfy.state = "failed";
  expect((await app.request("/ping")).status).toBe(503);
});

test("/logs returns the last N lines, newest last", async () => {
  const { app } = setup();
  expect(await (await app.request("/logs?lines=1")).text()).toBe("line 2\n");
  expect((await app.request("/logs?lines=abc")).status).toBe(400);
});

test("run, status and runsync under /v2/{id} and at the root", async () => {
  const { app } = setup();
  const run = await app.request("/v2/any-endpoint/run", post({ input: { prompt: 1 } }));
  expect(run.status).toBe(200);
  const { id, status } = (await run.json()) as { id: string; status: string };
  expect(status).toBe("IN_QUEUE");
  const done = await app.request(`/status-sync/${id}?wait=2000`);
  expect(await json(done)).toMatchObject({ id, status: "COMPLETED", output: { echo: { prompt: 1 } } });
  const sync = await app.request("/runsync?wait=2000", post({ input: { x: 2 } }));
  expect(await json(sync)).toMatchObject({ status: "COMPLETED", output: { echo: { x: 2 } } });
  const viaPost = await app.request(`/v2/e/status/${id}`, { method: "POST" });
  expect((await json(viaPost)).status).toBe("COMPLETED");
});

test("runsync returns the current status when the wait runs out", async () => {
  const { app } = setup();
  const res = await app.request("/runsync?wait=1000", post({ input: { delay: 1500 } }));
  expect((await json(res)).status).toBe("IN_PROGRESS");
});

test("bad bodies get 400 naming the field, unknown jobs 404", async () => {
  const { app } = setup();
  const missing = await app.request("/run", post({ nope: 1 }));
  expect(missing.status).toBe(400);
  expect((await json(missing)).error).toContain("body.input");
  const badHook = await app.request("/run", post({ input: {}, webhook: "ftp://x" }));
  expect(badHook.status).toBe(400);
  const notJson = await app.request("/run", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{",
  });
  expect(notJson.status).toBe(400);
  expect((await json(notJson)).error).toStartWith("the request body is not valid JSON (");
  const unknown = await app.request("/status/nope");
  expect(unknown.status).toBe(404);
  expect((await json(unknown)).code).toBe("E_NOT_FOUND");
});

test("a body not sent as JSON is refused saying what to send, not read as an empty request", async () => {
  const { app } = setup();
  const body = JSON.stringify({ input: { workflow: {} } });
  // curl -d sends a form type; a browser page may send text/plain to a local worker without asking first
  for (const [type, got] of [
    ["application/x-www-form-urlencoded", "Content-Type application/x-www-form-urlencoded"],
    ["text/plain;charset=UTF-8", "Content-Type text/plain"],
    [undefined, "no Content-Type"],
  ] as const) {
    for (const path of ["/run", "/runsync", "/v2/ep/runsync"]) {
      const res = await app.request(path, { method: "POST", body, headers: type ? { "content-type": type } : {} });
      expect(res.status).toBe(400);
      expect(await json(res)).toMatchObject({
        code: "E_INPUT",
        error: `the request body must be JSON, sent with Content-Type: application/json (got ${got})`,
      });
    }
  }
  // a JSON type with parameters or a +json suffix is JSON
  const ok = await app.request("/run", {
    method: "POST",
    body,
    headers: { "content-type": "application/json; charset=utf-8" },
  });
  expect(ok.status).toBe(200);
  const vendor = await app.request("/run", {
    method: "POST",
    body,
    headers: { "content-type": "application/vnd.x+json" },
  });
  expect(vendor.status).toBe(200);
  for (const res of [ok, vendor]) expect((await app.request(`/status/${(await json(res)).id}`)).status).toBe(200);
});

test("oversized bodies get 413", async () => {
  const { app } = setup({ maxBodyBytes: 1024 });
  const res = await app.request("/run", post({ input: { big: "x".repeat(4096) } }));
  expect(res.status).toBe(413);
  expect((await json(res)).error).toContain("over the");
});

test("API_TOKEN guards every route but /health, /ready and /ping; Bearer or raw key", async () => {
  const { app } = setup({ token: "s3cret-token" });
  expect((await app.request("/health")).status).toBe(200);
  expect((await app.request("/ping")).status).toBe(200);
  expect((await app.request("/logs")).status).toBe(401);
  expect((await app.request("/run", post({ input: {} }, { authorization: "Bearer wrong" }))).status).toBe(401);
  expect((await app.request("/run", post({ input: {} }, { authorization: "Bearer s3cret-token" }))).status).toBe(200);
  expect((await app.request("/metrics", { headers: { authorization: "s3cret-token" } })).status).toBe(200);
});

test("cancel, retry, purge-queue and RunPod's health shape", async () => {
  const { app } = setup();
  const first = (await (await app.request("/run", post({ input: { delay: 300 } }))).json()) as { id: string };
  const second = (await (await app.request("/run", post({ input: {} }))).json()) as { id: string };
  const third = (await (await app.request("/run", post({ input: {} }))).json()) as { id: string };
  const cancelled = await app.request(`/cancel/${second.id}`, { method: "POST" });
  expect(await json(cancelled)).toEqual({ id: second.id, status: "CANCELLED" });
  expect(await (await app.request("/v2/x/purge-queue", { method: "POST" })).json()).toEqual({
    removed: 1,
    status: "completed",
  });
  expect((await json(await app.request(`/status/${third.id}`))).status).toBe("CANCELLED");
  const health = await (await app.request("/v2/x/health")).json();
  expect(health).toMatchObject({ jobs: { inProgress: 1, inQueue: 0 }, workers: { running: 1 } });
  const retry = await app.request(`/retry/${first.id}`, { method: "POST" });
  expect(retry.status).toBe(400);
});

test("metrics are Prometheus text", async () => {
  const { app } = setup();
  const text = await (await app.request("/metrics")).text();
  expect(text).toContain("# TYPE comfy_worker_jobs_total counter");
  expect(text).toContain("comfy_worker_queue_depth 0");
  expect(text).toContain("comfy_worker_ready 1");
});

test("/openapi.json describes every route and /docs renders offline", async () => {
  const { app } = setup();
  const doc = (await (await app.request("/openapi.json")).json()) as {
    paths: Record<string, unknown>;
    components: { schemas: Record<string, unknown> };
  };
  for (const path of [
    "/health",
    "/v2/{endpoint_id}/run",
    "/v2/{endpoint_id}/runsync",
    "/v2/{endpoint_id}/status/{id}",
    "/v2/{endpoint_id}/stream/{id}",
    "/v2/{endpoint_id}/cancel/{id}",
    "/v2/{endpoint_id}/retry/{id}",
    "/v2/{endpoint_id}/purge-queue",
    "/v2/{endpoint_id}/status-sync/{id}",
  ]) {
    expect(Object.keys(doc.paths)).toContain(path);
  }
  expect(Object.keys(doc.components.schemas)).toEqual(
    expect.arrayContaining(["JobRequest", "JobInput", "JobOutput", "JobView"]),
  );
  const html = await (await app.request("/docs")).text();
  expect(html).toContain("/v2/{endpoint_id}/runsync");
  expect(html).not.toContain("<script src=");
});
