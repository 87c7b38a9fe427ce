import { afterEach, describe, expect, test } from "bun:test";
import type { WorkerError } from "../../src/errors.ts";
import { createEndpointClient, type FollowEvent, followJob } from "../../src/remote/index.ts";
import { StatusReply } from "../../src/remote/schemas.ts";
import { type FakeEndpoint, startFakeEndpoint } from "../helpers/fake-endpoint.ts";

const KEY = "rpa_test_key";
let fake: FakeEndpoint;
afterEach(() => fake?.stop());

const chunk = (node: string, value: number) => ({
  node,
  class_type: "KSampler",
  title: "Sampler",
  value,
  max: 4,
  percent: value * 25,
});

async function collect(iterable: AsyncIterable<FollowEvent>): Promise<FollowEvent[]> {
  const events: FollowEvent[] = [];
  for await (const event of iterable) events.push(event);
  return events;
}

async function rejection(promise: Promise<unknown>): Promise<WorkerError> {
  try {
    await promise;
  } catch (error) {
    return error as WorkerError;
  }
  throw new Error("expected a rejection");
}

describe("endpoint client against a fake of RunPod's endpoint API", () => {
  test("submits with Bearer auth and follows stream and status to the result", async () => {
    fake = startFakeEndpoint({ apiKey: KEY });
    fake.plan = {
      queueMs: 30,
      chunks: [chunk("3", 1), chunk("3", 4)],
      final: { status: "COMPLETED", output: { images: [] } },
    };
    const client = createEndpointClient({ endpoint: fake.id, baseUrl: fake.base, apiKey: KEY });
    const { id } = await client.submit({ input: { workflow: {} } });
    const events = await collect(followJob(client, id, { idleMs: 10 }));
    expect(fake.authHeaders.every((h) => h === `Bearer ${KEY}`)).toBe(true);
    const progress = events.filter((e) => e.type === "progress").map((e) => e.progress.value);
    expect(progress).toEqual([1, 4]);
    const statuses = events.filter((e) => e.type === "status").map((e) => e.status);
    expect(statuses[0]).toBe("IN_QUEUE");
    expect(statuses).toContain("COMPLETED");
    const last = events.at(-1);
    expect(last?.type === "terminal" && last.job.output).toEqual({ images: [] });
    expect(last?.type === "terminal" && typeof last.job.delayTime).toBe("number");
  });

  test("progress reported as the /status output (RunPod-mode workers) becomes progress events", async () => {
    fake = startFakeEndpoint();
    fake.plan = {
      chunks: [chunk("5", 2)],
      stepMs: 200,
      progressInStatus: true,
      final: { status: "COMPLETED", output: {} },
    };
    const client = createEndpointClient({ endpoint: fake.url });
    const { id } = await client.submit({ input: {} });
    const events = await collect(followJob(client, id, { idleMs: 20 }));
    expect(events.some((e) => e.type === "progress" && e.progress.node === "5")).toBe(true);
  });

  test("a bad key, an unknown endpoint and a missing key each say what to do", async () => {
    fake = startFakeEndpoint({ apiKey: KEY });
    const bad = await rejection(
      createEndpointClient({ endpoint: fake.id, baseUrl: fake.base, apiKey: "wrong" }).submit({ input: {} }),
    );
    expect(bad.code).toBe("E_AUTH");
    expect(bad.message).toContain("RUNPOD_API_KEY");
    expect(bad.message).not.toContain("wrong");
    const unknown = await rejection(
      createEndpointClient({ endpoint: "nope", baseUrl: fake.base, apiKey: KEY }).submit({ input: {} }),
    );
    expect(unknown.code).toBe("E_NOT_FOUND");
    expect(unknown.message).toContain('no endpoint "nope"');
    expect(() => createEndpointClient({ endpoint: "abc", baseUrl: fake.base })).toThrow(/RUNPOD_API_KEY/);
    expect(fake.jobs.size).toBe(0);
  });

  test("429 on /run is retried after Retry-After; a 500 is not resubmitted", async () => {
    fake = startFakeEndpoint();
    const client = createEndpointClient({ endpoint: fake.url });
    fake.failNext("run", 429, 2, { "retry-after": "0" });
    await client.submit({ input: {} });
    expect(fake.requests.filter((r) => r.endsWith("/run"))).toHaveLength(3);
    expect(fake.jobs.size).toBe(1);
    fake.failNext("run", 500);
    const error = await rejection(client.submit({ input: {} }));
    expect(error.code).toBe("E_COMFY_UNAVAILABLE");
    expect(error.message).toContain("500");
    expect(fake.requests.filter((r) => r.endsWith("/run"))).toHaveLength(4);
  });

  test("a dropped connection, a cut-off answer, 429 and 503 mid-job: following resumes on the same job, never resubmits", async () => {
    fake = startFakeEndpoint();
    fake.plan = {
      chunks: [chunk("3", 1), chunk("3", 2), chunk("3", 3)],
      stepMs: 400,
      final: { status: "COMPLETED", output: { done: 1 } },
    };
    const client = createEndpointClient({ endpoint: fake.url });
    const { id } = await client.submit({ input: {} });
    fake.failNext("stream", "drop");
    fake.failNext("stream", "truncate");
    fake.failNext("stream", 503);
    fake.failNext("status", 429, 1, { "retry-after": "0" });
    const events = await collect(followJob(client, id, { idleMs: 10 }));
    expect(events.filter((e) => e.type === "retry").length).toBeGreaterThanOrEqual(2);
    expect(events.flatMap((e) => (e.type === "progress" ? [e.progress.value] : []))).toEqual([1, 2, 3]);
    const last = events.at(-1);
    expect(last?.type === "terminal" && last.job.status).toBe("COMPLETED");
    expect(fake.requests.filter((r) => r.endsWith("/run"))).toHaveLength(1);
  });

  test("an expired result is a clear 404, and an outage longer than the budget gives up with the job id", async () => {
    fake = startFakeEndpoint();
    fake.plan = { queueMs: 5_000, final: { status: "COMPLETED" } };
    const client = createEndpointClient({ endpoint: fake.url });
    const { id } = await client.submit({ input: {} });
    fake.expire(id);
    const expired = await rejection(collect(followJob(client, id)));
    expect(expired.code).toBe("E_NOT_FOUND");
    expect(expired.message).toContain("30 min");
    const second = await client.submit({ input: {} });
    fake.failNext("stream", 502, 50);
    fake.failNext("status", 502, 50);
    const outage = await rejection(collect(followJob(client, second.id, { maxOutageMs: 300 })));
    expect(outage.message).toContain(second.id);
    expect(outage.message).toContain("may still be running");
  });

  test("a slow stream still delivers every chunk; one slower than the client's timeout still ends through /status", async () => {
    fake = startFakeEndpoint();
    fake.plan = {
      chunks: [chunk("3", 1), chunk("3", 2)],
      stepMs: 50,
      final: { status: "COMPLETED", output: { ok: 1 } },
    };
    fake.streamDelayMs = 400;
    const client = createEndpointClient({ endpoint: fake.url });
    const slow = await collect(followJob(client, (await client.submit({ input: {} })).id));
    expect(slow.filter((e) => e.type === "progress")).toHaveLength(2);
    expect(slow.at(-1)).toMatchObject({ type: "terminal", job: { status: "COMPLETED" } });
    const impatient = createEndpointClient({ endpoint: fake.url, streamTimeoutMs: 100 });
    const { id } = await impatient.submit({ input: {} });
    const events = await collect(followJob(impatient, id, { maxOutageMs: 60_000 }));
    expect(events.some((e) => e.type === "retry" && e.error.message.includes("no answer within 0.1 s"))).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: "terminal", job: { status: "COMPLETED", output: { ok: 1 } } });
    expect(fake.requests.filter((r) => r.endsWith("/run"))).toHaveLength(2);
  });

  test("an endpoint that refuses /stream (400) is followed through /status alone", async () => {
    fake = startFakeEndpoint();
    fake.plan = {
      chunks: [chunk("3", 2)],
      stepMs: 300,
      progressInStatus: true,
      final: { status: "COMPLETED", output: { ok: 1 } },
    };
    fake.failNext("stream", 400, 1_000);
    const client = createEndpointClient({ endpoint: fake.url });
    const { id } = await client.submit({ input: {} });
    const events = await collect(followJob(client, id, { idleMs: 50 }));
    expect(events.some((e) => e.type === "progress" && e.progress.value === 2)).toBe(true);
    expect(events.at(-1)).toMatchObject({ type: "terminal", job: { status: "COMPLETED" } });
    expect(fake.requests.filter((r) => r.includes("/stream/"))).toHaveLength(1);
  });
});

test("a status reply with null timings (a queued job on RunPod's API) reads as one without them", () => {
  const reply = StatusReply.parse({
    id: "j",
    status: "IN_QUEUE",
    delayTime: null,
    executionTime: null,
    workerId: null,
  });
  expect(reply).toEqual({
    id: "j",
    status: "IN_QUEUE",
    delayTime: undefined,
    executionTime: undefined,
    workerId: undefined,
  });
});
