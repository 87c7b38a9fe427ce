import { afterAll, beforeAll, expect, test } from "bun:test";
import runpodSdk from "runpod-sdk";
import { sd15Workflow } from "../helpers/emulator.ts";
import { startTestWorker } from "../helpers/worker.ts";

let worker: Awaited<ReturnType<typeof startTestWorker>>;
let endpoint: NonNullable<ReturnType<ReturnType<typeof runpodSdk>["endpoint"]>>;

beforeAll(async () => {
  worker = await startTestWorker({ API_TOKEN: "local-key-123", COMFY_ARGS: "--node-ms 40" });
  const sdk = runpodSdk("local-key-123", { baseUrl: `${worker.url}/v2` });
  endpoint = sdk.endpoint("local") as typeof endpoint;
});
afterAll(async () => {
  await worker?.stop();
});

test("the official RunPod JS client works unchanged against the local API", async () => {
  const health = await endpoint.health();
  expect(health).toMatchObject({ jobs: { completed: 0, failed: 0 }, workers: { idle: 1 } });

  const sync = await endpoint.runSync({ input: { workflow: sd15Workflow() } });
  expect(sync).toMatchObject({ status: "COMPLETED", completed: true });
  expect((sync as { output: { images: unknown[] } }).output.images).toHaveLength(1);

  // a new seed: ComfyUI (and the emulator) replay an identical prompt from cache, without progress
  const run = await endpoint.run({ input: { workflow: sd15Workflow(), overrides: { "3.seed": 7 } } });
  expect(run.status).toBe("IN_QUEUE");
  const chunks: Array<{ output: { percent: number; class_type?: string; finished?: Array<{ node: string }> } }> = [];
  for await (const chunk of endpoint.stream(run.id)) chunks.push(chunk as (typeof chunks)[number]);
  expect(chunks.length).toBeGreaterThan(0);
  // the sampler reached its last step, and the last chunk lists the save node as finished (SPEC §6 chunk shape)
  expect(chunks.some((chunk) => chunk.output.class_type === "KSampler" && chunk.output.percent === 100)).toBe(true);
  expect(chunks.at(-1)?.output.finished?.map((node) => node.node)).toEqual(["9"]);
  const status = await endpoint.status(run.id);
  expect(status).toMatchObject({ id: run.id, status: "COMPLETED" });

  const slow = await endpoint.run({ input: { workflow: sd15Workflow(), overrides: { "3.seed": 8 } } });
  for (let i = 0; i < 200 && (await endpoint.status(slow.id)).status !== "IN_PROGRESS"; i++) await Bun.sleep(20);
  const queued = await endpoint.run({ input: { workflow: sd15Workflow() } });
  const purged = await endpoint.purgeQueue();
  expect(purged).toMatchObject({ removed: 1, status: "completed" });
  const cancelled = await endpoint.cancel(slow.id);
  expect(cancelled).toMatchObject({ id: slow.id, status: "CANCELLED" });
  expect((await endpoint.status(queued.id)).status).toBe("CANCELLED");
}, 60_000);
