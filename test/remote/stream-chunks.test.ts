import { afterAll, expect, test } from "bun:test";
import { JobProgress } from "../../src/jobs/progress.ts";
import { createEndpointClient, type FollowEvent, followJob } from "../../src/remote/index.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { startFakeRunpod } from "../helpers/fake-runpod.ts";
import { startTestWorker, stopAfterEach } from "../helpers/worker.ts";
import { startRunpodTestWorker } from "../runpod/_helpers.ts";

const track = stopAfterEach();
const runpod = startFakeRunpod({ holdMs: 1_000 });
afterAll(() => runpod.close());

function workflow(seed: number) {
  const wf = sd15Workflow();
  wf["3"].inputs.seed = seed;
  wf["3"].inputs.steps = 4;
  wf["9"]._meta = { title: "Keep this" };
  return wf;
}

test("API mode: stream chunks name the node (id, class type, title) and its step, and list finished nodes' files before the job ends", async () => {
  const w = track(await startTestWorker({ COMFY_ARGS: "--node-ms 150" }));
  const client = createEndpointClient({ endpoint: `${w.url}/v2/local` });
  const { id } = await client.submit({ input: { workflow: workflow(7) } });
  const events: FollowEvent[] = [];
  for await (const event of followJob(client, id)) events.push(event);
  const chunks = events.flatMap((e) => (e.type === "progress" ? [e.progress] : []));
  const sampler = chunks.find((c) => c.class_type === "KSampler" && c.max > 0);
  expect(sampler).toMatchObject({ node: "3", max: 4 });
  expect(sampler?.percent).toBeGreaterThan(0);
  expect(chunks.some((c) => c.node === "4" && c.class_type === "CheckpointLoaderSimple" && c.max === 0)).toBe(true);
  const withFiles = chunks.find((c) => c.finished?.some((n) => n.node === "9"));
  const saved = withFiles?.finished?.find((n) => n.node === "9");
  expect(saved).toMatchObject({ class_type: "SaveImage", title: "Keep this" });
  expect(saved?.files[0]?.filename).toMatch(/\.png$/);
  for (const chunk of chunks) expect(JobProgress.safeParse(chunk).success).toBe(true);
  const last = events.at(-1);
  expect(last?.type).toBe("terminal");
  const output = last?.type === "terminal" ? (last.job.output as { images: Array<{ filename: string }> }) : undefined;
  expect(output?.images.map((i) => i.filename)).toContain(saved?.files[0]?.filename as string);
}, 60_000);

test("RunPod mode: progress updates carry the same chunk shape", async () => {
  track(await startRunpodTestWorker(runpod, { COMFY_ARGS: "--node-ms 300" }));
  runpod.enqueue({ id: "chunks-1", input: { workflow: workflow(8) } });
  await runpod.waitFor(() => runpod.accepted("chunks-1").length === 1, "job reported", 30_000);
  const updates = runpod.progress("chunks-1").map((p) => (p.json as { output: unknown }).output);
  expect(updates.length).toBeGreaterThan(0);
  for (const update of updates) expect(JobProgress.safeParse(update).success).toBe(true);
  // throttled to one update a second, latest wins: each still names its node fully
  for (const update of updates)
    expect(update).toMatchObject({ class_type: expect.any(String), title: expect.any(String) });
}, 60_000);
