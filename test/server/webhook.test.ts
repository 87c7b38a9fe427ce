import { afterAll, expect, test } from "bun:test";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { sendWebhook } from "../../src/server/webhook.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { jsonPost, startTestWorker } from "../helpers/worker.ts";

const received: Array<{ path: string; body: unknown }> = [];
let failuresLeft = 0;
const hooks = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  async fetch(req) {
    received.push({ path: new URL(req.url).pathname, body: await req.json() });
    if (failuresLeft > 0) {
      failuresLeft--;
      return new Response("busy", { status: 503 });
    }
    return new Response("ok");
  },
});
afterAll(() => hooks.stop(true));
const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });
// the hook server is on loopback, which a webhook may reach only when PRIVATE_HOSTS_ALLOWED says so
const guard = { privateAllowed: ["127.0.0.1"] };

test("retries a webhook that fails, then stops at the first 2xx", async () => {
  received.length = 0;
  failuresLeft = 2;
  const ok = await sendWebhook(`http://127.0.0.1:${hooks.port}/a`, { id: "j1" }, log, { delayMs: 10, guard });
  expect(ok).toBe(true);
  expect(received).toHaveLength(3);
});

test("gives up after the last attempt", async () => {
  received.length = 0;
  failuresLeft = 5;
  expect(await sendWebhook(`http://127.0.0.1:${hooks.port}/b`, {}, log, { delayMs: 10, attempts: 2, guard })).toBe(
    false,
  );
  expect(received).toHaveLength(2);
  failuresLeft = 0;
});

test("a finished job POSTs its status object to its webhook", async () => {
  received.length = 0;
  const worker = await startTestWorker({ PRIVATE_HOSTS_ALLOWED: "127.0.0.1" });
  try {
    const webhook = `http://127.0.0.1:${hooks.port}/done`;
    const { id } = (await (
      await worker.api("/run", jsonPost({ input: { workflow: sd15Workflow() }, webhook }))
    ).json()) as { id: string };
    for (let i = 0; i < 200 && received.length === 0; i++) await Bun.sleep(50);
    expect(received).toHaveLength(1);
    expect(received[0]?.path).toBe("/done");
    expect(received[0]?.body).toMatchObject({ id, status: "COMPLETED", output: { images: [{ node_id: "9" }] } });
  } finally {
    await worker.stop();
  }
});

test("a webhook to loopback (ComfyUI's /interrupt) or the metadata address is refused and never sent", async () => {
  received.length = 0;
  const calls: string[] = [];
  const spy = ((url: string | URL | Request, init?: RequestInit) => {
    calls.push(String(url));
    return fetch(url, init);
  }) as typeof fetch;
  const options = { delayMs: 10, fetch: spy };
  expect(await sendWebhook(`http://127.0.0.1:${hooks.port}/interrupt`, { id: "x" }, log, options)).toBe(false);
  expect(await sendWebhook("http://169.254.169.254/latest/meta-data/", {}, log, options)).toBe(false);
  expect(await sendWebhook(`http://localhost:${hooks.port}/interrupt`, {}, log, options)).toBe(false);
  expect(calls).toEqual([]);
  expect(received).toEqual([]);
});

test("a redirect from an allowed webhook to a private address is refused before it is followed", async () => {
  received.length = 0;
  const bouncer = Bun.serve({
    port: 0,
    hostname: "127.0.0.2",
    fetch: () => Response.redirect(`http://127.0.0.1:${hooks.port}/interrupt`, 307),
  });
  try {
    const url = `http://127.0.0.2:${bouncer.port}/hook`;
    expect(await sendWebhook(url, {}, log, { delayMs: 10, guard: { privateAllowed: ["127.0.0.2"] } })).toBe(false);
    expect(received).toEqual([]);
    // with both allowed the redirect is followed and the POST body re-sent
    const both = { privateAllowed: ["127.0.0.2", "127.0.0.1"] };
    expect(await sendWebhook(url, { id: "r" }, log, { delayMs: 10, guard: both })).toBe(true);
    expect(received).toEqual([{ path: "/interrupt", body: { id: "r" } }]);
  } finally {
    bouncer.stop(true);
  }
});

test("the API refuses a job whose webhook or s3Config endpoint is private, before queueing it", async () => {
  received.length = 0;
  const worker = await startTestWorker();
  try {
    const input = { workflow: sd15Workflow() };
    const hook = await worker.api("/run", jsonPost({ input, webhook: `http://127.0.0.1:${hooks.port}/interrupt` }));
    expect(hook.status).toBe(400);
    expect(await hook.json()).toMatchObject({ code: "E_INPUT" });
    const s3Config = { accessId: "a", accessSecret: "b", bucketName: "c", endpointUrl: "http://169.254.169.254/" };
    const s3 = await worker.api("/runsync", jsonPost({ input, s3Config }));
    expect(s3.status).toBe(400);
    expect(((await s3.json()) as { error: string }).error).toContain("s3Config.endpointUrl");
    expect(worker.health.jobs.inQueue() + worker.health.jobs.inProgress().length).toBe(0);
    expect(received).toEqual([]);
  } finally {
    await worker.stop();
  }
});
