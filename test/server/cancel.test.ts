import { expect, test } from "bun:test";
import { sd15Workflow } from "../helpers/emulator.ts";
import { eventually, type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";

const track = stopAfterEach();

test("after POST /cancel answers CANCELLED, /status never shows the job running again while ComfyUI stops it", async () => {
  // slow nodes: ComfyUI notices the interrupt only between nodes, so the job winds down for a while
  const w = track(await startTestWorker({ COMFY_ARGS: "--node-ms 400" }));
  const submit = async () =>
    ((await (await w.api("/run", jsonPost({ input: { workflow: sd15Workflow() } }))).json()) as Json).id as string;
  const status = async (id: string) => (await (await w.api(`/status/${id}`)).json()) as Json;
  const first = await submit();
  const second = await submit();
  await eventually(async () => (await status(first)).status === "IN_PROGRESS", "first job running");
  const cancel = (await (await w.api(`/cancel/${first}`, { method: "POST" })).json()) as Json;
  expect(cancel).toEqual({ id: first, status: "CANCELLED" });
  // the second job starts only once ComfyUI has stopped the first; until then, and after, the first stays CANCELLED
  const seen = new Set<string>();
  await eventually(async () => {
    seen.add((await status(first)).status);
    return (await status(second)).status !== "IN_QUEUE";
  }, "the second job to start");
  seen.add((await status(first)).status);
  expect([...seen]).toEqual(["CANCELLED"]);
  const done = (await (await w.api(`/status-sync/${second}?wait=20000`)).json()) as Json;
  expect(done.status).toBe("COMPLETED");
  expect(await status(first)).toMatchObject({ status: "CANCELLED", error: "the job was cancelled" });
}, 30_000);
