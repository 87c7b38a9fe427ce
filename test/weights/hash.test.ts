import { afterAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HashRecord, hashFile, sha256File, sidecarPath } from "../../src/weights/hash.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-hash-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sha = (data: string | Uint8Array) => createHash("sha256").update(data).digest("hex");

// whole seconds, so setting it again reproduces mtimeMs exactly
const FIXED_MTIME = new Date("2025-01-01T00:00:00Z");

/** Writes `path` with a fixed mtime; writing other bytes of the same size looks unchanged to a size+mtime cache. */
function writeWithFixedMtime(path: string, data: string): void {
  writeFileSync(path, data);
  utimesSync(path, FIXED_MTIME, FIXED_MTIME);
}

test("streams a multi-chunk file to the right sha256", async () => {
  const data = new Uint8Array(3 * 1024 * 1024 + 7).map((_, i) => (i * 31) % 256);
  const path = join(dir, "big.bin");
  await Bun.write(path, data);
  expect(await sha256File(path)).toBe(sha(data));
});

test("writes a sidecar keyed by size and mtime, and reuses it without reading the file again", async () => {
  const path = join(dir, "model.safetensors");
  writeWithFixedMtime(path, "original weights");
  const first = await hashFile(path);
  expect(first).toEqual({ sha256: sha("original weights"), cached: false });
  const record = HashRecord.parse(await Bun.file(sidecarPath(path)).json());
  expect(record).toMatchObject({ version: 1, size: 16, sha256: first.sha256, mtimeMs: statSync(path).mtimeMs });
  const sidecarMtime = statSync(sidecarPath(path)).mtimeMs;

  // same size and mtime but other bytes: only a digest that was not recomputed can still be the old one
  writeWithFixedMtime(path, "ORIGINAL WEIGHTS");
  expect(await hashFile(path)).toEqual({ sha256: first.sha256, cached: true });
  expect(statSync(sidecarPath(path)).mtimeMs).toBe(sidecarMtime);
});

test("a sidecar is recomputed when the file's size or mtime changes", async () => {
  const path = join(dir, "changing.safetensors");
  writeFileSync(path, "v1");
  const v1 = await hashFile(path);
  writeFileSync(path, "version two");
  expect(await hashFile(path)).toEqual({ sha256: sha("version two"), cached: false });
  // same size, new mtime
  writeFileSync(path, "version 2!!");
  utimesSync(path, new Date(), new Date(Date.now() + 5000));
  const again = await hashFile(path);
  expect(again).toEqual({ sha256: sha("version 2!!"), cached: false });
  expect(again.sha256).not.toBe(v1.sha256);
  expect(HashRecord.parse(await Bun.file(sidecarPath(path)).json()).sha256).toBe(again.sha256);
});

test("a garbled sidecar is ignored and replaced", async () => {
  const path = join(dir, "garbled.pt");
  writeFileSync(path, "abc");
  writeFileSync(sidecarPath(path), "{not json");
  expect(await hashFile(path)).toEqual({ sha256: sha("abc"), cached: false });
  expect(await hashFile(path)).toEqual({ sha256: sha("abc"), cached: true });
});

test("when the sidecar can't be written next to the file, the cache directory is used", async () => {
  const path = join(dir, "readonly.safetensors");
  writeWithFixedMtime(path, "weights in a read-only folder");
  // a directory where the sidecar should go makes that write fail, as a read-only mount would
  mkdirSync(sidecarPath(path));
  const cacheDir = join(dir, "cache");
  expect(await hashFile(path, { cacheDir })).toMatchObject({ cached: false });
  writeWithFixedMtime(path, "WEIGHTS IN A READ-ONLY FOLDER");
  expect(await hashFile(path, { cacheDir })).toEqual({ sha256: sha("weights in a read-only folder"), cached: true });
});
