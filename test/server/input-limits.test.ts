import { expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { applyOverrides } from "../../src/jobs/overrides.ts";
import { JobInput } from "../../src/jobs/schema.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";

const track = stopAfterEach();

test("override keys naming __proto__, constructor or prototype are input errors, never prototype writes", () => {
  for (const key of ["__proto__.x", "constructor.x", "prototype.x", "3.__proto__", "3.constructor"]) {
    const parsed = JobInput.safeParse({ workflow: sd15Workflow(), overrides: { [key]: 1 } });
    expect([key, parsed.success]).toEqual([key, false]);
    expect(parsed.error?.issues[0]?.message).toContain("reserved name");
  }
  const workflow = sd15Workflow() as Parameters<typeof applyOverrides>[0];
  for (const key of ["__proto__.x", "constructor.x", "3.__proto__"]) {
    expect(() => applyOverrides(workflow, { [key]: { polluted: true } })).toThrow(/overrides\["/);
  }
  expect(Object.getPrototypeOf(workflow["3"]?.inputs)).toBe(Object.prototype);
  expect(({} as Json).polluted).toBeUndefined();
});

test("a job with a reserved override key fails as E_INPUT with a sentence naming the key", async () => {
  const worker = track(await startTestWorker());
  for (const key of ["__proto__.x", "constructor.x"]) {
    const body = { input: { workflow: sd15Workflow(), overrides: { [key]: 1 } } };
    const view = (await (await worker.api("/runsync", jsonPost(body))).json()) as Json;
    expect(view.status).toBe("FAILED");
    expect(view.output.details.code).toBe("E_INPUT");
    expect(view.error).toContain(`"${key}" uses a reserved name`);
  }
});

test("MAX_BODY_MB is a setting, 30 by default", () => {
  expect(loadConfig({ env: {} }).MAX_BODY_MB).toBe(30);
  expect(loadConfig({ env: { MAX_BODY_MB: "2.5" } }).MAX_BODY_MB).toBe(2.5);
  expect(() => loadConfig({ env: { MAX_BODY_MB: "0" } })).toThrow(/MAX_BODY_MB/);
});

test("every oversized body gets 413 with the JSON error: declared, streamed, and past Bun's own 128 MiB limit", async () => {
  const worker = track(await startTestWorker({ MAX_BODY_MB: "1" }));
  const expectJson413 = async (res: Response) => {
    expect(res.status).toBe(413);
    expect(await res.json()).toMatchObject({ code: "E_TOO_LARGE", error: expect.stringContaining("MAX_BODY_MB") });
  };
  const headers = { "content-type": "application/json" };
  await expectJson413(await worker.api("/run", { method: "POST", headers, body: new Uint8Array(2 * 1_048_576) }));
  // a body over Bun.serve's default maxRequestBodySize used to get an empty 413 from Bun itself
  await expectJson413(await worker.api("/run", { method: "POST", headers, body: new Uint8Array(140 * 1_048_576) }));
  // chunked: no Content-Length, so the body is counted as it streams
  let sent = 0;
  const chunk = new Uint8Array(256 * 1024);
  const stream = new ReadableStream({
    pull(controller) {
      if (sent++ < 16) controller.enqueue(chunk);
      else controller.close();
    },
  });
  await expectJson413(
    await worker.api("/run", { method: "POST", headers, body: stream, duplex: "half" } as RequestInit),
  );
  // the limit is documented where clients look
  const doc = (await (await worker.api("/openapi.json")).json()) as Json;
  expect(doc.info.description).toContain("1 MB (MAX_BODY_MB)");
  expect(doc.paths["/v2/{endpoint_id}/run"].post.responses["413"].description).toContain("1 MB");
  // a body under the limit still works
  const ok = await worker.api("/run", jsonPost({ input: { workflow: sd15Workflow() } }));
  expect(ok.status).toBe(200);
}, 60_000);
