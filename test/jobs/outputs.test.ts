import { expect, test } from "bun:test";
import type { ComfyClient } from "../../src/comfy/client.ts";
import { collectOutputs, listOutputs } from "../../src/jobs/outputs.ts";

const history = {
  "9": { images: [{ filename: "a_00001_.png", subfolder: "demo", type: "output" }] },
  "10": { images: [{ filename: "p_temp_abcde_00001_.png", subfolder: "", type: "temp" }] },
  "11": { images: [{ filename: "anim_00001_.webp", subfolder: "", type: "output" }], animated: [true] },
  "12": { gifs: [{ filename: "clip_00001.mp4", subfolder: "v", type: "output", format: "video/h264-mp4" }] },
  "13": { audio: [{ filename: "sound_00001_.flac", subfolder: "audio", type: "output" }] },
  "14": { text: ["hello", { not: "a string" }] },
  "15": { latents: [{ filename: "x_00001_.latent", subfolder: "", type: "output" }] },
  "16": { meta: "ignored", images: [{ nofilename: true }] },
};

test("lists every output file of every node, classified, temp excluded by default", () => {
  const { files, text } = listOutputs(history, false);
  expect(files.map((f) => [f.node_id, f.kind, f.subfolder, f.filename, f.type])).toEqual([
    ["9", "images", "demo", "a_00001_.png", "output"],
    ["11", "videos", "", "anim_00001_.webp", "output"],
    ["12", "videos", "v", "clip_00001.mp4", "output"],
    ["13", "audio", "audio", "sound_00001_.flac", "output"],
    ["15", "files", "", "x_00001_.latent", "output"],
  ]);
  expect(text).toEqual([
    { node_id: "14", text: "hello" },
    { node_id: "14", text: '{"not":"a string"}' },
  ]);
});

test("includes temp outputs when asked", () => {
  const { files } = listOutputs(history, true);
  expect(files.find((f) => f.node_id === "10")).toMatchObject({ type: "temp", kind: "images" });
});

test("a job whose only files are temp previews says so in errors, rather than coming back empty without a word", async () => {
  const previews = { "9": { images: [{ filename: "p.png", subfolder: "", type: "temp" }] } };
  const options = { includeTemp: false, inlineMaxBytes: 1e9, mode: "auto" as const };
  const { result } = await collectOutputs({} as ComfyClient, previews, options);
  expect(result.images).toEqual([]);
  expect(result.errors?.[0]).toContain("only outputs are 1 temp file(s)");
  expect(result.errors?.[0]).toContain("include_temp");
  const saved = { ...previews, "10": { images: [{ filename: "s.png", subfolder: "", type: "output" }] } };
  const view = async () => new Response("x");
  const both = await collectOutputs({ view } as unknown as ComfyClient, saved, options);
  expect(both.result.errors).toBeUndefined();
});
