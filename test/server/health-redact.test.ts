import { afterAll, expect, test } from "bun:test";
import type { WorkerHandle } from "../../src/worker/start.ts";
import { type SpawnedEmulator, spawnEmulator } from "../helpers/emulator.ts";
import { startAttachedWorker } from "../helpers/worker.ts";

let emulator: SpawnedEmulator | undefined;
let worker: WorkerHandle | undefined;
afterAll(async () => {
  await worker?.stop();
  await emulator?.stop();
});

test("a password in COMFY_URL does not reach /health, and /logs shows the attached ComfyUI's output", async () => {
  emulator = await spawnEmulator();
  worker = await startAttachedWorker(`http://user:s3cretpw@127.0.0.1:${emulator.port}`);
  const health = await (await fetch(`${worker.url}/health`)).text();
  expect(health).toContain(`"url":"http://***@127.0.0.1:${emulator.port}"`);
  // an attached ComfyUI's own output (it names no password); the redactor still runs over it
  const logs = await (await fetch(`${worker.url}/logs`)).text();
  expect(logs).toContain("Starting server");
  expect(health + logs).not.toContain("s3cretpw");
}, 30_000);
