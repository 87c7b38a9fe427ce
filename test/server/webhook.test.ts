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

test("retries a webhook that fails, then stops at the first 2xx", async () => {
  received.length = 0;
  failuresLeft = 2;
  const ok = await sendWebhook(`http://127.0.0.1:${hooks.port}/a`, { id: "j1" }, log, { delayMs: 10 });
  expect(ok).toBe(true);
  expect(received).toHaveLength(3);
});

test("gives up after the last attempt", async () => {
  received.length = 0;
  failuresLeft = 5;
  expect(await sendWebhook(`http://127.0.0.1:${hooks.port}/b`, {}, log, { delayMs: 10, attempts: 2 })).toBe(false);
  expect(received).toHaveLength(2);
  failuresLeft = 0;
});

test("a finished job POSTs its status object to its webhook", async () => {
  received.length = 0;
  const worker = await startTestWorker();
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
