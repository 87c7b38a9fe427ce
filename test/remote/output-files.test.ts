import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { WorkerError } from "../../src/errors.ts";
import { nextName, reserveFreePath, saveOutputFiles } from "../../src/lib/output-files.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-out-files-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const item = (filename: string, text: string, subfolder = "") => ({
  filename,
  subfolder,
  type: "base64" as const,
  data: Buffer.from(text).toString("base64"),
});

test("next free names follow ComfyUI's counter, else a -N suffix", () => {
  expect(nextName("/o/ComfyUI_00001_.png", 1)).toBe("/o/ComfyUI_00002_.png");
  expect(nextName("/o/clip_00099.wav", 2)).toBe("/o/clip_00101.wav");
  expect(nextName("/o/result.txt", 1)).toBe("/o/result-2.txt");
});

test("never overwrites: a taken name moves to the next free one, and says which was asked for", async () => {
  const out = join(dir, "a");
  const first = await saveOutputFiles(
    [item("ComfyUI_00001_.png", "one", "sub"), item("ComfyUI_00002_.png", "two", "sub")],
    out,
  );
  const again = await saveOutputFiles([item("ComfyUI_00001_.png", "three", "sub")], out);
  expect(first.saved.map((s) => s.requested)).toEqual([undefined, undefined]);
  expect(again.saved).toEqual([
    { path: join(out, "sub", "ComfyUI_00003_.png"), requested: join(out, "sub", "ComfyUI_00001_.png") },
  ]);
  expect(readFileSync(join(out, "sub", "ComfyUI_00001_.png"), "utf8")).toBe("one");
  expect(readFileSync(join(out, "sub", "ComfyUI_00003_.png"), "utf8")).toBe("three");
});

test("in a folder many runs filled, a taken name moves past all of them and never over a file", async () => {
  const out = join(dir, "many");
  mkdirSync(out);
  for (let n = 1; n <= 300; n++) writeFileSync(join(out, `ComfyUI_${String(n).padStart(5, "0")}_.png`), "old");
  // a file another process holds under the name after the run, and one that is not ComfyUI's counter
  writeFileSync(join(out, "ComfyUI_00302_.png"), "held");
  const saved = await saveOutputFiles([item("ComfyUI_00001_.png", "new"), item("ComfyUI_00301_.png", "next")], out);
  expect(saved.saved.map((s) => s.path)).toEqual([join(out, "ComfyUI_00301_.png"), join(out, "ComfyUI_00303_.png")]);
  expect(readFileSync(join(out, "ComfyUI_00301_.png"), "utf8")).toBe("new");
  expect(readFileSync(join(out, "ComfyUI_00302_.png"), "utf8")).toBe("held");
  expect(readFileSync(join(out, "ComfyUI_00001_.png"), "utf8")).toBe("old");
});

test("a name escaping --out and a URL without a fetcher fail alone; the other files are saved", async () => {
  const out = join(dir, "b");
  const result = await saveOutputFiles(
    [
      item("../../evil.png", "x"),
      { filename: "u.png", subfolder: "", type: "s3_url", data: "https://x.test/u.png" },
      item("ok.png", "ok"),
    ],
    out,
  );
  expect(result.failed.map((f) => f.error.message)).toEqual([
    expect.stringContaining("escapes"),
    expect.stringContaining("is a URL"),
  ]);
  expect(readdirSync(out)).toEqual(["ok.png"]);
});

test("an --out the file system refuses is E_USAGE naming the path and why, not a raw error", async () => {
  const file = join(dir, "a-file");
  writeFileSync(file, "x");
  const { saved, failed } = await saveOutputFiles([item("one.png", "1")], join(file, "out"));
  expect(saved).toEqual([]);
  expect(failed.map((f) => [(f.error as WorkerError).code, f.error.message])).toEqual([
    [
      "E_USAGE",
      `cannot write ${join(file, "out", "one.png")}: a part of that path is a file, not a folder (ENOTDIR); choose another --out`,
    ],
  ]);
  await expect(reserveFreePath(join(file, "r.json"))).rejects.toThrow(
    `cannot write ${join(file, "r.json")}: a part of that path is a file, not a folder (EEXIST)`,
  );
});
