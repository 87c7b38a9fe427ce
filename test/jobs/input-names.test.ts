import { expect, test } from "bun:test";
import { encodePng, gradientImage, pngSize } from "../../src/emulator/png.ts";
import type { InputFile } from "../../src/jobs/input-files.ts";
import { InputNames, namesUsed, renameInputs } from "../../src/jobs/input-names.ts";
import { type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";

const file = (filename: string, text: string, subfolder = ""): InputFile => ({
  subfolder,
  filename,
  bytes: new TextEncoder().encode(text),
});

test("a name held by a running job with other bytes gets a variant no user file has; names come back when jobs end", () => {
  const names = new InputNames();
  const a = names.lease([file("same.png", "a"), file("x.png", "x", "sub")]);
  expect(a.files.map((f) => f.filename)).toEqual(["same.png", "x.png"]);
  // the same bytes share the name; other bytes take the first free variant
  const same = names.lease([file("same.png", "a")]);
  const b = names.lease([file("same.png", "b"), file("x.png", "y", "sub"), file("noext", "n")]);
  expect(b.files.map((f) => f.filename)).toEqual(["same (cw-2).png", "x (cw-2).png", "noext"]);
  expect([...b.renamed]).toEqual([
    ["same.png", "same (cw-2).png"],
    ["sub/x.png", "sub/x (cw-2).png"],
  ]);
  // a variant the job's own workflow names is that file, not a free name
  const c = names.lease([file("same.png", "c")], new Set(["same (cw-3).png"]));
  expect(c.files[0]?.filename).toBe("same (cw-4).png");
  // the first name is free only when every job holding it has ended
  a.release();
  a.release();
  expect(names.lease([file("same.png", "d")]).files[0]?.filename).toBe("same (cw-3).png");
  same.release();
  expect(names.lease([file("same.png", "e")]).files[0]?.filename).toBe("same.png");
  b.release();
  c.release();
});

test("the workflow's inputs follow a renamed file, annotated, spelt ./ or with // or not; other values stay", () => {
  const workflow = {
    "1": { class_type: "LoadImage", inputs: { image: "same.png" } },
    "2": { class_type: "LoadImage", inputs: { image: "sub/x.png [input]", upload: "image" } },
    "3": { class_type: "CLIPTextEncode", inputs: { text: "same.png in a field", clip: ["4", 1] } },
    "4": { class_type: "LoadImage", inputs: { image: "./same.png" } },
    "5": { class_type: "LoadImage", inputs: { image: "sub//x.png" } },
  };
  expect(namesUsed(workflow).has("same.png")).toBe(true);
  renameInputs(
    workflow,
    new Map([
      ["same.png", "same (cw-2).png"],
      ["sub/x.png", "sub/x (cw-2).png"],
    ]),
  );
  expect(workflow["1"].inputs.image).toBe("same (cw-2).png");
  expect(workflow["2"].inputs.image).toBe("sub/x (cw-2).png [input]");
  expect(workflow["3"].inputs.text).toBe("same.png in a field");
  expect(workflow["4"].inputs.image).toBe("same (cw-2).png");
  expect(workflow["5"].inputs.image).toBe("sub/x (cw-2).png");
});

const track = stopAfterEach();

test("jobs running side by side that bring a file of the same name each get their own image back", async () => {
  // slow nodes: each job's LoadImage reads the file while the other job's upload has already happened
  const w = track(await startTestWorker({ CONCURRENCY: "2", COMFY_ARGS: "--node-ms 300" }));
  const job = async (size: number) => {
    const image = Buffer.from(encodePng(gradientImage(size, size, 1))).toString("base64");
    const workflow = {
      "1": { class_type: "LoadImage", inputs: { image: "same.png" } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: `side-${size}` } },
    };
    const res = await w.api(
      "/runsync?wait=30000",
      jsonPost({ input: { workflow, images: [{ name: "same.png", image }] } }),
    );
    const body = (await res.json()) as Json;
    expect(body.status).toBe("COMPLETED");
    return pngSize(Buffer.from(body.output.images[0].data, "base64"));
  };
  const sizes = await Promise.all([job(8), job(16), job(24), job(32)]);
  expect(sizes.map((s) => s?.width)).toEqual([8, 16, 24, 32]);
}, 60_000);
