import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { decode as decodeJpeg } from "jpeg-js";
import { decodePng } from "../../src/previews/png-decode.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { type FakeRunpod, startFakeRunpod } from "../helpers/fake-runpod.ts";
import { type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";
import { startRunpodTestWorker } from "../runpod/_helpers.ts";

const track = stopAfterEach();
// the emulator's samplers take --node-ms, spread over their steps, sending a preview per step
const SLOW = { COMFY_ARGS: "--node-ms 400" };

function sampling(steps = 30): Json {
  const wf = sd15Workflow();
  wf["3"].inputs.steps = steps;
  return wf;
}

function dimensions(preview: Json): [number, number] {
  const bytes = Buffer.from(preview.data, "base64");
  if (preview.mime === "image/png") {
    const png = decodePng(bytes);
    return [png?.width ?? 0, png?.height ?? 0];
  }
  const jpeg = decodeJpeg(bytes, { useTArray: true });
  return [jpeg.width, jpeg.height];
}

/** Reads /stream until the job ends; returns every chunk and how long it took. */
async function readStream(api: (path: string) => Promise<Response>, id: string) {
  const chunks: Json[] = [];
  const started = performance.now();
  for (let i = 0; i < 400; i++) {
    const body = (await (await api(`/stream/${id}`)).json()) as Json;
    for (const item of body.stream ?? []) chunks.push(item.output);
    if (["COMPLETED", "FAILED", "CANCELLED"].includes(body.status)) break;
  }
  return { chunks, seconds: (performance.now() - started) / 1000 };
}

describe("live previews in API mode", () => {
  test("a job that asks gets previews in its stream: throttled to max_fps, within max_px and the size budget", async () => {
    const w = track(await startTestWorker(SLOW));
    const preview = { max_fps: 4, max_px: 24 };
    const { id } = (await (await w.api("/run", jsonPost({ input: { workflow: sampling(), preview } }))).json()) as Json;
    const { chunks, seconds } = await readStream(w.api, id);
    const previews = chunks.filter((c) => c.preview);
    expect(previews.length).toBeGreaterThan(0);
    // at most one per 1/max_fps s, plus the first one at once
    expect(previews.length).toBeLessThanOrEqual(Math.ceil(seconds * preview.max_fps) + 1);
    for (const chunk of previews) {
      expect(Math.max(...dimensions(chunk.preview))).toBeLessThanOrEqual(24);
      expect(JSON.stringify(chunk).length).toBeLessThan(1_000_000);
      // the frame names the sampler that made it (the chunk's own node may have moved on by delivery)
      expect(chunk.preview.node).toBe("3");
    }
  });

  test("a job that does not ask gets none", async () => {
    const w = track(await startTestWorker(SLOW));
    const { id } = (await (await w.api("/run", jsonPost({ input: { workflow: sampling() } }))).json()) as Json;
    const { chunks } = await readStream(w.api, id);
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.filter((c) => c.preview)).toEqual([]);
  });

  test("a stream nobody reads keeps at most one preview waiting and the job completes", async () => {
    const w = track(await startTestWorker(SLOW));
    const input = { workflow: sampling(), preview: { max_fps: 30, max_px: 64 } };
    const { id } = (await (await w.api("/run", jsonPost({ input }))).json()) as Json;
    const done = (await (await w.api(`/status-sync/${id}?wait=20000`)).json()) as Json;
    expect(done.status).toBe("COMPLETED");
    const { chunks } = await readStream(w.api, id);
    expect(chunks.filter((c) => c.preview).length).toBeLessThanOrEqual(1);
  });

  test("PREVIEWS=on sends previews for every job, also on a ComfyUI too old for per-prompt preview methods", async () => {
    const w = track(await startTestWorker({ PREVIEWS: "on", COMFY_ARGS: "--node-ms 400 --comfyui-version oldest" }));
    const { id } = (await (await w.api("/run", jsonPost({ input: { workflow: sampling() } }))).json()) as Json;
    const { chunks } = await readStream(w.api, id);
    expect(chunks.filter((c) => c.preview).length).toBeGreaterThan(0);
  });
});

describe("live previews in RunPod mode", () => {
  let fake: FakeRunpod;
  beforeAll(() => {
    fake = startFakeRunpod({ holdMs: 500 });
  });
  afterAll(async () => {
    await fake.close();
  });

  test("previews go to job-stream as chunks under 1 MB; the result is posted as usual", async () => {
    const worker = await startRunpodTestWorker(fake, SLOW);
    try {
      fake.enqueue({ id: "pv-1", input: { workflow: sampling(), preview: { max_fps: 5, max_px: 32 } } });
      await fake.waitFor(() => fake.accepted("pv-1").length === 1, "pv-1 reported", 30_000);
      const streamed = fake.requests.filter((r) => r.kind === "stream" && r.jobId === "pv-1");
      expect(streamed.length).toBeGreaterThan(0);
      for (const post of streamed) {
        expect(post.json.output.preview.mime).toMatch(/^image\//);
        expect(JSON.stringify(post.json).length).toBeLessThan(1_000_000);
      }
      expect(fake.accepted("pv-1")[0]?.json.output.images).toHaveLength(1);
    } finally {
      await worker.stop();
    }
  });
});
