/** `serve --emulate` against both emulator profiles (COMFY_ARGS=--comfyui-version …): the same job works on each. */
import { expect, test } from "bun:test";
import { type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";

const track = stopAfterEach();

// core SaveVideo reports its .mp4 under "images" (ComfyUI 0.28.2's history); the worker must call it a video
const VIDEO_JOB = {
  workflow: {
    "1": { class_type: "EmptyImage", inputs: { width: 16, height: 16, batch_size: 4, color: 0 } },
    "2": { class_type: "CreateVideo", inputs: { images: ["1", 0], fps: 8 } },
    "3": {
      class_type: "SaveVideo",
      inputs: { video: ["2", 0], filename_prefix: "vid", format: "auto", codec: "auto" },
    },
    "4": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "still" } },
  },
};

for (const profile of ["old", "new"] as const) {
  test(`${profile} ComfyUI: a job with SaveVideo returns its file under videos, the frames under images`, async () => {
    const worker = track(await startTestWorker({ COMFY_ARGS: `--comfyui-version ${profile} --node-ms 1` }));
    const res = await worker.api("/v2/test/runsync?wait=20000", jsonPost({ input: VIDEO_JOB }));
    const body = (await res.json()) as Json;
    expect(body.status).toBe("COMPLETED");
    expect(body.output.videos.map((v: Json) => [v.node_id, v.filename, v.mime])).toEqual([
      ["3", "vid_00001_.mp4", "video/mp4"],
    ]);
    expect(body.output.images.map((i: Json) => i.node_id)).toEqual(["4", "4", "4", "4"]);
    // our prompt id was kept by both releases
    expect(body.output.prompt_id).toMatch(/^[0-9a-f-]{36}$/);
  });
}
