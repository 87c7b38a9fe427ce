import { expect, test } from "bun:test";
import { sd15Workflow } from "../helpers/emulator.ts";
import { eventually, type Json, jsonPost, startTestWorker } from "../helpers/worker.ts";

test("a worker shutting down says draining in /health and is unhealthy on /ping, while its job finishes", async () => {
  const w = await startTestWorker({ COMFY_ARGS: "--node-ms 300", SHUTDOWN_GRACE_S: "20" });
  const { id } = (await (await w.api("/run", jsonPost({ input: { workflow: sd15Workflow() } }))).json()) as Json;
  await eventually(
    async () => ((await (await w.api(`/status/${id}`)).json()) as Json).status === "IN_PROGRESS",
    "running",
  );
  const stopped = w.stop();
  const health = async () => ((await (await w.api("/health")).json()) as Json).status;
  await eventually(async () => (await health()) !== "ready", "the drain to begin");
  expect(await health()).toBe("draining");
  const ping = await w.api("/ping");
  expect([ping.status, await ping.json()]).toEqual([503, { status: "unhealthy" }]);
  expect((await w.api("/ready")).status).toBe(503);
  await stopped;
}, 60_000);
