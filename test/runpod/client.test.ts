import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { createRunpodClient, RUNPOD_VERSION, type RunpodClientOptions } from "../../src/runpod/client.ts";
import { resolveRunpodUrls } from "../../src/runpod/urls.ts";
import { type FakeRunpod, startFakeRunpod } from "../helpers/fake-runpod.ts";

let fake: FakeRunpod;
const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });
const FAST_RETRY = { attempts: 4, initialMs: 10, maxMs: 20 };

beforeAll(() => {
  fake = startFakeRunpod({ holdMs: 300 });
});
afterAll(async () => {
  await fake.close();
});

function client(options: Partial<RunpodClientOptions> = {}) {
  const urls = resolveRunpodUrls(loadConfig({ env: fake.env() }), fake.workerId);
  return createRunpodClient({ urls, apiKey: fake.apiKey, log, retry: FAST_RETRY, ...options });
}

describe("job take", () => {
  test("sends the raw key, job_in_progress, and returns the job object", async () => {
    fake.enqueue({ id: "job-1-u1", input: { workflow: {} }, delayTime: 12, retries: 0, status: 200 });
    const result = await client().take({ batchSize: 1, inProgress: false });
    expect(result).toMatchObject({ kind: "jobs", jobs: [{ id: "job-1-u1", input: { workflow: {} } }], dropped: 0 });
    const request = fake.of("take").at(-1);
    expect(request?.headers.authorization).toBe(fake.apiKey);
    expect(request?.query).toEqual({ gpu: "NVIDIA GeForce RTX 4090", job_in_progress: "0" });
    expect(request?.workerId).toBe(fake.workerId);
    expect(request?.headers["x-request-id"]).toBeUndefined();
  });

  test("uses the batch endpoint with batch_size when more than one slot is free", async () => {
    fake.enqueue({ id: "b1", input: {} }, { id: "b2", input: {} }, { id: "b3", input: {} });
    const result = await client().take({ batchSize: 2, inProgress: true });
    expect(result).toMatchObject({ kind: "jobs", jobs: [{ id: "b1" }, { id: "b2" }] });
    expect(fake.of("take-batch").at(-1)?.query).toMatchObject({ batch_size: "2", job_in_progress: "1" });
    await client().take({ batchSize: 1, inProgress: false });
  });

  test("maps 204, 400, 429, 5xx and odd bodies to no job, throttled or error", async () => {
    const c = client();
    const take = () => c.take({ batchSize: 1, inProgress: false });
    expect(await take()).toEqual({ kind: "none" });
    fake.failTakes(
      400,
      429,
      503,
      () => new Response("hello", { headers: { "content-type": "text/plain" } }),
      () => Response.json([]),
      () => Response.json([{ id: 5 }, { id: "ok-1", input: {} }]),
      () => Response.json({ input: {} }),
      () => new Response("{not json", { headers: { "content-type": "application/json" } }),
    );
    expect(await take()).toEqual({ kind: "none" });
    expect(await take()).toEqual({ kind: "throttled" });
    expect(await take()).toEqual({ kind: "error", message: "HTTP 503" });
    expect(await take()).toEqual({ kind: "none" });
    expect(await take()).toEqual({ kind: "none" });
    expect(await take()).toMatchObject({ kind: "jobs", jobs: [{ id: "ok-1" }], dropped: 1 });
    expect((await take()).kind).toBe("error");
    expect((await take()).kind).toBe("error");
  });

  test("a transport error is an error, an abort is no job", async () => {
    const closed = createRunpodClient({
      urls: resolveRunpodUrls(
        {
          RUNPOD_WEBHOOK_GET_JOB: "http://127.0.0.1:9/job-take/$ID",
          RUNPOD_WEBHOOK_POST_OUTPUT: "http://127.0.0.1:9/d/$ID",
        },
        "w",
      ),
      log,
    });
    expect((await closed.take({ batchSize: 1, inProgress: false })).kind).toBe("error");
    const controller = new AbortController();
    const pending = client().take({ batchSize: 1, inProgress: false, signal: controller.signal });
    controller.abort();
    expect(await pending).toEqual({ kind: "none" });
  });
});

describe("job done, progress and stream", () => {
  test("posts JSON text under the form content type with charset and X-Request-ID", async () => {
    const result = await client().done("d-1", { output: { text: "é ✓" } });
    expect(result).toEqual({ ok: true, attempts: 1 });
    const request = fake.results("d-1").at(-1);
    expect(request?.headers["content-type"]).toBe("application/x-www-form-urlencoded");
    expect(request?.headers.charset).toBe("utf-8");
    expect(request?.headers["x-request-id"]).toBe("d-1");
    expect(request?.headers.authorization).toBe(fake.apiKey);
    expect(request?.query).toEqual({ gpu: "NVIDIA GeForce RTX 4090", isStream: "false" });
    expect(request?.workerId).toBe(fake.workerId);
    expect(request?.body).toBe('{"output":{"text":"é ✓"}}');
  });

  test("retries 5xx and transport errors, not other 4xx", async () => {
    fake.failDone("d-2", 500, 502);
    expect(await client().done("d-2", { output: 1 })).toEqual({ ok: true, attempts: 3 });
    let calls = 0;
    const flaky: typeof fetch = Object.assign(
      (input: string | URL | Request, init?: RequestInit) => {
        calls++;
        return calls === 1 ? Promise.reject(new TypeError("socket hang up")) : fetch(input, init);
      },
      { preconnect: fetch.preconnect },
    );
    expect(await client({ fetch: flaky }).done("d-3", { output: 1 })).toEqual({ ok: true, attempts: 2 });
    fake.failDone("d-4", 404, 404);
    expect(await client().done("d-4", { output: 1 })).toEqual({ ok: false, attempts: 1, message: "HTTP 404" });
    fake.failDone("d-5", 500, 500, 500, 500, 500);
    expect(await client().done("d-5", { output: 1 })).toMatchObject({ ok: false, attempts: 4 });
  });

  test("progress is an IN_PROGRESS body to job-done; stream chunks go to job-stream with isStream=false", async () => {
    const progress = { node: "3", value: 5, max: 20, percent: 25 };
    expect((await client().progress("p-1", progress)).ok).toBe(true);
    expect(fake.progress("p-1").at(-1)?.json).toEqual({ status: "IN_PROGRESS", output: progress });
    expect(fake.progress("p-1").at(-1)?.query.isStream).toBe("false");
    expect((await client().stream("p-1", progress)).ok).toBe(true);
    const chunk = fake.of("stream").at(-1);
    expect([chunk?.jobId, chunk?.query.isStream, chunk?.headers["content-type"]]).toEqual([
      "p-1",
      "false",
      "application/x-www-form-urlencoded",
    ]);
    expect(chunk?.json).toEqual({ output: progress });
  });
});

describe("ping and job-stop", () => {
  test("ping lists the held job ids and the protocol version", async () => {
    expect((await client().ping(["a", "b"], 2_000)).ok).toBe(true);
    expect(fake.of("ping").at(-1)?.query).toEqual({ job_id: "a,b", runpod_version: RUNPOD_VERSION });
    await client().ping([], 2_000);
    expect(fake.of("ping").at(-1)?.query).toEqual({ runpod_version: RUNPOD_VERSION });
    expect(RUNPOD_VERSION).toMatch(/^1\.12\.0\+comfy-worker\./);
  });

  test("job-stop returns the string ids, and nothing after the hold", async () => {
    const c = client();
    expect(await c.pollStop()).toEqual({ kind: "none" });
    fake.stopJob("s-1");
    expect(await c.pollStop()).toEqual({ kind: "stop", ids: ["s-1"] });
    expect(fake.of("stop").at(-1)?.query).toEqual({ gpu: "NVIDIA GeForce RTX 4090" });
  });
});
