import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkHeaderText, checkSafetensors } from "../../src/weights/safetensors.ts";
import { headerProblem, verifyFile } from "../../src/weights/verify.ts";
import { buildSafetensors } from "./_safetensors.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-st-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GOOD = buildSafetensors(
  {
    "model.weight": { dtype: "F16", shape: [4, 3], bytes: 24 },
    "model.bias": { dtype: "F32", shape: [3], bytes: 12 },
    "model.packed": { dtype: "F4", shape: [5], bytes: 3 },
  },
  { format: "pt" },
);

async function file(name: string, bytes: Uint8Array | string): Promise<string> {
  const path = join(dir, name);
  await Bun.write(path, bytes);
  return path;
}

describe("safetensors header", () => {
  test("accepts a well-formed file and reads its metadata", async () => {
    const check = await checkSafetensors(await file("good.safetensors", GOOD));
    expect(check).toMatchObject({ ok: true, tensors: 3, metadata: { format: "pt" } });
  });

  test("catches a truncated file (tensors run past the end)", async () => {
    const check = await checkSafetensors(await file("cut.safetensors", GOOD.subarray(0, GOOD.length - 5)));
    expect(check).toEqual({ ok: false, reason: expect.stringContaining("truncated") });
  });

  test("catches a file cut inside its header, and one shorter than the length prefix", async () => {
    expect((await checkSafetensors(await file("cut-header.safetensors", GOOD.subarray(0, 40)))).ok).toBe(false);
    expect(await checkSafetensors(await file("tiny.safetensors", GOOD.subarray(0, 5)))).toEqual({
      ok: false,
      reason: "file is 5 bytes, too short for a safetensors header",
    });
  });

  test("catches trailing bytes, gaps, wrong byte counts and a header length from another format", async () => {
    const trailing = new Uint8Array(GOOD.length + 4);
    trailing.set(GOOD);
    expect((await checkSafetensors(await file("trailing.safetensors", trailing))).ok).toBe(false);
    expect(checkHeaderText('{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}', 56, 72)).toMatchObject({
      ok: false,
      reason: expect.stringContaining("gap or overlap"),
    });
    expect(checkHeaderText('{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}', 56, 68)).toMatchObject({
      ok: false,
      reason: expect.stringContaining("needs 8"),
    });
    // a zip-based .ckpt renamed to .safetensors: "PK\x03\x04…" read as a little-endian length is huge
    const zip = await file("zip.safetensors", "PK\x03\x04 this is really a zip archive");
    expect((await checkSafetensors(zip)).ok).toBe(false);
    expect(checkHeaderText("[1,2]", 5, 13)).toMatchObject({ ok: false });
    expect(checkHeaderText("{not json", 9, 17)).toMatchObject({ ok: false, reason: "header is not valid JSON" });
  });

  test("an unknown dtype still has to fit the layout", () => {
    const header = '{"a":{"dtype":"F12_NEW","shape":[3],"data_offsets":[0,5]}}';
    expect(checkHeaderText(header, header.length, 8 + header.length + 5)).toMatchObject({ ok: true, tensors: 1 });
  });
});

describe("verify levels", () => {
  test("exists and size look at the file; header reads its structure", async () => {
    const cut = await file("model.safetensors", GOOD.subarray(0, GOOD.length - 1));
    expect(await verifyFile(cut, "exists")).toEqual({ status: "present", path: cut, size: GOOD.length - 1 });
    expect(await verifyFile(cut, "size")).toMatchObject({ status: "present" });
    expect(await verifyFile(cut, "size", { size: GOOD.length })).toMatchObject({ status: "size_mismatch" });
    expect(await verifyFile(cut, "header")).toMatchObject({
      status: "corrupt",
      reason: expect.stringContaining("truncated"),
    });
    expect(await verifyFile(join(dir, "absent.safetensors"), "header")).toEqual({ status: "missing" });
    expect(await verifyFile(undefined, "exists")).toEqual({ status: "missing" });
    expect(await verifyFile(await file("empty.pt", ""), "size")).toMatchObject({
      status: "corrupt",
      reason: "file is empty",
    });
  });

  test("header checks GGUF magic and the end record of torch zip archives", async () => {
    expect(await headerProblem(await file("ok.gguf", "GGUF\x03\x00\x00\x00"), 8)).toBeUndefined();
    expect(await headerProblem(await file("bad.gguf", "<html>"), 6)).toContain("GGUF");
    const zipped = `PK\x03\x04${"x".repeat(100)}PK\x05\x06${"\x00".repeat(18)}`;
    expect(await headerProblem(await file("ok.ckpt", zipped), zipped.length)).toBeUndefined();
    const cut = zipped.slice(0, 60);
    expect(await headerProblem(await file("cut.ckpt", cut), cut.length)).toContain("truncated");
    expect(await headerProblem(await file("legacy.pt", "\x80\x02}q\x00"), 5)).toBeUndefined();
  });

  test("sha256 compares with the expected digest (any case)", async () => {
    const path = await file("hashed.safetensors", GOOD);
    const digest = new Bun.CryptoHasher("sha256").update(GOOD).digest("hex");
    expect(await verifyFile(path, "sha256", { sha256: digest.toUpperCase() })).toMatchObject({
      status: "present",
      sha256: digest,
    });
    expect(await verifyFile(path, "sha256", { sha256: "0".repeat(64) })).toMatchObject({
      status: "hash_mismatch",
      sha256: digest,
    });
  });
});
