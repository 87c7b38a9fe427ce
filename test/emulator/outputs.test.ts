import { describe, expect, test } from "bun:test";
import { crc32 as zlibCrc32 } from "node:zlib";
import { connectWs, postPrompt, sd15Workflow, useEmulator, waitForHistory } from "../helpers/emulator.ts";

const emu = useEmulator([["checkpoints", "dreamshaper_8.safetensors"]]);

async function run(prompt: Record<string, unknown>) {
  const { status, body } = await postPrompt(emu.url, { prompt });
  expect([status, body.node_errors]).toEqual([200, {}]);
  const entry = await waitForHistory(emu.url, body.prompt_id);
  expect(entry.status.status_str).toBe("success");
  return entry;
}

async function fetchFile(ref: { filename: string; subfolder: string; type: string }): Promise<Uint8Array> {
  const query = new URLSearchParams(ref);
  const res = await fetch(`${emu.url}/view?${query}`);
  expect(res.status).toBe(200);
  return new Uint8Array(await res.arrayBuffer());
}

/** Width/height from IHDR after checking the signature and every chunk's CRC. */
function decodePng(bytes: Uint8Array): { width: number; height: number; chunks: string[] } {
  expect([...bytes.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  const chunks: string[] = [];
  for (let offset = 8; offset < bytes.length; ) {
    const length = view.getUint32(offset);
    chunks.push(new TextDecoder().decode(bytes.subarray(offset + 4, offset + 8)));
    expect(view.getUint32(offset + 8 + length)).toBe(zlibCrc32(bytes.subarray(offset + 4, offset + 8 + length)));
    offset += 12 + length;
  }
  expect(chunks[0]).toBe("IHDR");
  expect(chunks.at(-1)).toBe("IEND");
  return { width: view.getUint32(16), height: view.getUint32(20), chunks };
}

const latentToSave = (save: Record<string, unknown>, latent: Record<string, unknown>) => {
  const workflow = sd15Workflow();
  workflow["5"] = latent;
  workflow["9"] = save;
  workflow["3"].inputs.seed = Math.floor(Math.random() * 1e9);
  return workflow;
};

describe("image outputs", () => {
  test("SaveImage writes valid PNGs sized from EmptyLatentImage, one per batch item, in the prefix's subfolder", async () => {
    const save = { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: "sub/dir/name" } };
    const latent = { class_type: "EmptyLatentImage", inputs: { width: 640, height: 384, batch_size: 3 } };
    const entry = await run(latentToSave(save, latent));
    const images = entry.outputs["9"].images;
    expect(images.map((i: { filename: string }) => i.filename)).toEqual([
      "name_00001_.png",
      "name_00002_.png",
      "name_00003_.png",
    ]);
    expect(images[0]).toEqual({ filename: "name_00001_.png", subfolder: "sub/dir", type: "output" });
    for (const image of images) {
      const png = decodePng(await fetchFile(image));
      expect([png.width, png.height]).toEqual([640, 384]);
      expect(png.chunks).toContain("tEXt");
    }
    // the counter continues past existing files
    const again = await run(latentToSave(save, { ...latent, inputs: { width: 64, height: 64, batch_size: 1 } }));
    expect(again.outputs["9"].images[0].filename).toBe("name_00004_.png");
  });

  test("EmptySD3LatentImage and ImageScale sizes are honoured", async () => {
    const prompt = {
      "1": { class_type: "EmptyImage", inputs: { width: 100, height: 50, batch_size: 1, color: 0 } },
      "2": {
        class_type: "ImageScale",
        inputs: { image: ["1", 0], upscale_method: "nearest-exact", width: 300, height: 0, crop: "disabled" },
      },
      "3": { class_type: "SaveImage", inputs: { images: ["2", 0], filename_prefix: "scaled" } },
    };
    const entry = await run(prompt);
    const png = decodePng(await fetchFile(entry.outputs["3"].images[0]));
    expect([png.width, png.height]).toEqual([300, 150]);
    const sd3 = latentToSave(
      { class_type: "SaveImage", inputs: { images: ["8", 0], filename_prefix: "sd3" } },
      { class_type: "EmptySD3LatentImage", inputs: { width: 256, height: 128, batch_size: 1 } },
    );
    const out = decodePng(await fetchFile((await run(sd3)).outputs["9"].images[0]));
    expect([out.width, out.height]).toEqual([256, 128]);
  });

  test("PreviewImage writes to temp with a _temp_xxxxx name", async () => {
    const entry = await run(
      latentToSave({ class_type: "PreviewImage", inputs: { images: ["8", 0] } }, sd15Workflow()["5"]),
    );
    const image = entry.outputs["9"].images[0];
    expect(image.type).toBe("temp");
    expect(image.filename).toMatch(/^ComfyUI_temp_[a-z]{5}_00001_\.png$/);
    expect(decodePng(await fetchFile(image)).width).toBe(512);
  });

  test("an identical prompt is served from cache: execution_cached lists every node, outputs are replayed", async () => {
    const ws = await connectWs(emu.url, "cache-client");
    const workflow = sd15Workflow();
    workflow["3"].inputs.seed = 5005;
    const first = await postPrompt(emu.url, { prompt: workflow, client_id: "cache-client" });
    const one = await waitForHistory(emu.url, first.body.prompt_id);
    const second = await postPrompt(emu.url, { prompt: workflow, client_id: "cache-client" });
    const two = await waitForHistory(emu.url, second.body.prompt_id);
    const cached = await ws.next((m) => m.type === "execution_cached" && m.data.prompt_id === second.body.prompt_id);
    expect((cached.data.nodes as string[]).sort()).toEqual(["3", "4", "5", "6", "7", "8", "9"]);
    expect(two.outputs).toEqual(one.outputs);
    const replay = await ws.next((m) => m.type === "executed" && m.data.prompt_id === second.body.prompt_id);
    expect(replay.data.output).toEqual(one.outputs["9"]);
    expect(
      ws.messages.some(
        (m) => m.type === "executing" && m.data.prompt_id === second.body.prompt_id && m.data.node === "3",
      ),
    ).toBe(false);
    ws.close();
  });
});

describe("video, audio and text outputs", () => {
  test("SaveAnimatedWEBP writes one animated webp and reports images + animated", async () => {
    const save = {
      class_type: "SaveAnimatedWEBP",
      inputs: { images: ["8", 0], filename_prefix: "anim", fps: 8, lossless: true, quality: 80, method: "default" },
    };
    const entry = await run(
      latentToSave(save, { class_type: "EmptyLatentImage", inputs: { width: 128, height: 96, batch_size: 4 } }),
    );
    expect(entry.outputs["9"]).toEqual({
      images: [{ filename: "anim_00001_.webp", subfolder: "", type: "output" }],
      animated: [true],
    });
    const webp = await fetchFile(entry.outputs["9"].images[0]);
    const head = new TextDecoder("latin1").decode(webp.subarray(0, 16));
    expect([head.slice(0, 4), head.slice(8, 16)]).toEqual(["RIFF", "WEBPVP8X"]);
    expect(new TextDecoder("latin1").decode(webp).split("ANMF").length - 1).toBe(4);
  });

  test("SaveVideo (from CreateVideo) reports an mp4 under images with animated [true]", async () => {
    const workflow = sd15Workflow();
    workflow["3"].inputs.seed = 6006;
    workflow["10"] = { class_type: "CreateVideo", inputs: { images: ["8", 0], fps: 24 } };
    workflow["9"] = {
      class_type: "SaveVideo",
      inputs: { video: ["10", 0], filename_prefix: "video/clip", format: "auto", codec: "auto" },
    };
    const entry = await run(workflow);
    expect(entry.outputs["9"]).toEqual({
      images: [{ filename: "clip_00001_.mp4", subfolder: "video", type: "output" }],
      animated: [true],
    });
    const mp4 = await fetchFile(entry.outputs["9"].images[0]);
    expect(new TextDecoder().decode(mp4.subarray(4, 8))).toBe("ftyp");
  });

  test("SaveAudio writes a FLAC file under audio", async () => {
    const prompt = {
      "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "dreamshaper_8.safetensors" } },
      "2": { class_type: "EmptyLatentAudio", inputs: { seconds: 2, batch_size: 1 } },
      "3": { class_type: "VAEDecodeAudio", inputs: { samples: ["2", 0], vae: ["1", 2] } },
      "4": { class_type: "SaveAudio", inputs: { audio: ["3", 0], filename_prefix: "audio/ComfyUI" } },
    };
    const entry = await run(prompt);
    expect(entry.outputs["4"]).toEqual({
      audio: [{ filename: "ComfyUI_00001_.flac", subfolder: "audio", type: "output" }],
    });
    const flac = await fetchFile(entry.outputs["4"].audio[0]);
    expect(new TextDecoder().decode(flac.subarray(0, 4))).toBe("fLaC");
    const samples = Number(new DataView(flac.buffer).getBigUint64(18) & 0xfffffffffn);
    expect(samples / 44_100).toBeCloseTo(2, 0);
  });

  test("PreviewAny reports text", async () => {
    const prompt = {
      "1": { class_type: "PrimitiveString", inputs: { value: "hello from the emulator" } },
      "2": { class_type: "PreviewAny", inputs: { source: ["1", 0] } },
    };
    const entry = await run(prompt);
    expect(entry.outputs["2"]).toEqual({ text: ["hello from the emulator"] });
  });
});

describe("execution errors in output nodes", () => {
  test("a filename_prefix escaping the output folder fails the node like ComfyUI", async () => {
    const ws = await connectWs(emu.url, "escape");
    const prompt = {
      "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "../../outside" } },
    };
    const { body } = await postPrompt(emu.url, { prompt, client_id: "escape" });
    const error = await ws.next((m) => m.type === "execution_error");
    expect(error.data).toMatchObject({
      prompt_id: body.prompt_id,
      node_id: "2",
      node_type: "SaveImage",
      executed: ["1"],
    });
    expect(error.data.exception_message).toContain("Saving image outside the output folder is not allowed");
    const entry = await waitForHistory(emu.url, body.prompt_id);
    expect([entry.status.status_str, entry.status.completed]).toEqual(["error", false]);
    ws.close();
  });
});
