import { expect, test } from "bun:test";
import { listOutputs } from "../../src/jobs/outputs.ts";

test("outputs are classified by file type, not by the key they came under", () => {
  const { files } = listOutputs(
    {
      // ComfyUI 0.28.2's SaveVideo history entry, as a running copy reported it
      "3": { images: [{ filename: "vid_00001_.mp4", subfolder: "", type: "output" }], animated: [true] },
      "4": { images: [{ filename: "a.png", subfolder: "", type: "output" }] },
      "5": { gifs: [{ filename: "v.webp", subfolder: "", type: "output", format: "image/webp" }] },
      "6": { audio: [{ filename: "x.flac", subfolder: "audio", type: "output" }] },
      "7": { images: [{ filename: "s.wav", subfolder: "", type: "output" }] },
      "8": { result: [{ filename: "mesh.glb", subfolder: "3d", type: "output" }] },
    },
    false,
  );
  expect(files.map((f) => [f.node_id, f.kind])).toEqual([
    ["3", "videos"],
    ["4", "images"],
    ["5", "videos"],
    ["6", "audio"],
    ["7", "audio"],
    ["8", "files"],
  ]);
});

test("a file reported twice (two keys or two nodes) is listed once", () => {
  const ref = { filename: "clip.mp4", subfolder: "v", type: "output" };
  const { files } = listOutputs({ "9": { images: [ref], gifs: [ref] }, "10": { videos: [ref] } }, false);
  expect(files).toEqual([{ node_id: "9", filename: "clip.mp4", subfolder: "v", type: "output", kind: "videos" }]);
  // the same name in another folder or of another type is another file
  const two = listOutputs({ "1": { images: [ref, { ...ref, subfolder: "w" }, { ...ref, type: "temp" }] } }, true);
  expect(two.files).toHaveLength(3);
});
