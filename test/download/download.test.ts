import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { downloadFile } from "../../src/download/download.ts";
import type { DownloadProgress } from "../../src/download/progress.ts";
import { FAST_RETRY, listDir, tempDir } from "../helpers/download.ts";
import { contentAt, contentSha256, startWeightHost, type WeightHost } from "../helpers/weight-host.ts";

const MB = 1_000_000;
let host: WeightHost;
beforeAll(() => {
  host = startWeightHost();
});
afterAll(() => host.stop());

/** Serves a generated file at a fresh path and returns its URL, path and sha256. */
function serve(name: string, size: number, extra: Parameters<WeightHost["serve"]>[1] | object = {}) {
  const seed = name.length * 7 + size;
  const path = `/${name}`;
  host.serve(path, { size, seed, ...extra });
  return { url: host.url(path), path, sha256: contentSha256(seed, size), seed };
}

describe("transfer", () => {
  test("downloads over parallel ranges, verifies, and records the sha256 next to the file", async () => {
    using tmp = tempDir();
    const file = serve("parallel.bin", 5 * MB);
    const dest = join(tmp.dir, "parallel.bin");
    const result = await downloadFile({ url: file.url, dest, connections: 4, retry: FAST_RETRY });
    expect(result).toMatchObject({ path: dest, size: 5 * MB, sha256: file.sha256, resumed: false, fetched: 5 * MB });
    const ranges = host.requests(file.path).map((request) => request.range);
    expect(ranges).toEqual([
      "bytes=0-0",
      "bytes=0-1249999",
      "bytes=1250000-2499999",
      "bytes=2500000-3749999",
      "bytes=3750000-4999999",
    ]);
    expect(listDir(tmp.dir)).toEqual(["parallel.bin", "parallel.bin.sha256.json"]);
    const record = await Bun.file(`${dest}.sha256.json`).json();
    expect(record).toMatchObject({ version: 1, size: 5 * MB, sha256: file.sha256 });
    // the bytes on disk, hashed independently of the downloader's own hasher
    expect(new Bun.CryptoHasher("sha256").update(await Bun.file(dest).bytes()).digest("hex")).toBe(file.sha256);
  });

  test("resumes a range whose connection dropped mid-body from its last byte", async () => {
    using tmp = tempDir();
    const file = serve("drop.bin", 3 * MB, { dropAfter: 2 * MB });
    const result = await downloadFile({
      url: file.url,
      dest: join(tmp.dir, "drop.bin"),
      connections: 1,
      retry: FAST_RETRY,
    });
    expect(result.sha256).toBe(file.sha256);
    const ranges = host.requests(file.path).map((request) => request.range);
    expect(ranges).toHaveLength(3);
    const resumedAt = Number(/bytes=(\d+)-/.exec(ranges[2] ?? "")?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(host.bytesSent(file.path)).toBeLessThan(5 * MB + 1); // a restart from 0 would have cost 5 MB
  });

  test("a connection that goes silent mid-body is abandoned after the stall timeout and resumed", async () => {
    using tmp = tempDir();
    const file = serve("stall.bin", 2 * MB, { dropAfter: MB, stall: true });
    const dest = join(tmp.dir, "stall.bin");
    const result = await downloadFile({ url: file.url, dest, connections: 1, stallMs: 300, retry: FAST_RETRY });
    expect(result.sha256).toBe(file.sha256);
    const resumedAt = Number(/bytes=(\d+)-/.exec(host.requests(file.path)[2]?.range ?? "")?.[1]);
    expect(resumedAt).toBeGreaterThan(0);
  });

  test("a host without ranges is fetched over one connection", async () => {
    using tmp = tempDir();
    const file = serve("noranges.bin", 2 * MB, { ranges: false });
    const result = await downloadFile({
      url: file.url,
      dest: join(tmp.dir, "n.bin"),
      connections: 4,
      retry: FAST_RETRY,
    });
    expect(result.sha256).toBe(file.sha256);
    expect(host.requests(file.path).map((request) => request.range)).toEqual(["bytes=0-0", null]);
  });

  test("a host without ranges that drops mid-body is fetched again from the start", async () => {
    using tmp = tempDir();
    const file = serve("noranges-drop.bin", 2 * MB, { ranges: false, dropAfter: MB });
    const result = await downloadFile({ url: file.url, dest: join(tmp.dir, "n.bin"), retry: FAST_RETRY });
    expect(result.sha256).toBe(file.sha256);
    expect(host.requests(file.path)).toHaveLength(3);
  });

  test("two calls for the same file in one process share one download", async () => {
    using tmp = tempDir();
    const file = serve("shared.bin", 2 * MB);
    const dest = join(tmp.dir, "shared.bin");
    const [a, b] = await Promise.all([downloadFile({ url: file.url, dest }), downloadFile({ url: file.url, dest })]);
    expect(a).toEqual(b);
    expect(host.bytesSent(file.path)).toBe(2 * MB + 1);
  });

  test("a file already under its final name is not fetched again", async () => {
    using tmp = tempDir();
    const file = serve("exists.bin", MB);
    const dest = join(tmp.dir, "exists.bin");
    writeFileSync(dest, contentAt(file.seed, 0, MB));
    const result = await downloadFile({ url: file.url, dest, size: MB });
    expect(result).toMatchObject({ skipped: "exists", fetched: 0 });
    expect(host.requests(file.path)).toHaveLength(0);
  });

  test("reports progress with bytes, total, rate and eta, and a verifying phase at the end", async () => {
    using tmp = tempDir();
    const file = serve("progress.bin", 4 * MB, { throttleBytesPerSec: 8 * MB });
    const seen: DownloadProgress[] = [];
    await downloadFile({
      url: file.url,
      dest: join(tmp.dir, "p.bin"),
      connections: 2,
      onProgress: (p) => seen.push(p),
    });
    const last = seen.at(-1);
    expect(last).toMatchObject({ phase: "verifying", bytes: 4 * MB, total: 4 * MB });
    const midway = seen.find((p) => p.phase === "downloading" && p.bytes > 0 && p.bytes < 4 * MB);
    expect(midway?.rate).toBeGreaterThan(0);
    expect(midway?.etaS).toBeGreaterThan(0);
  });
});

describe("retries", () => {
  test("waits the Retry-After a 429 asks for", async () => {
    using tmp = tempDir();
    const file = serve("429.bin", MB, { canned: [{ status: 429, headers: { "retry-after": "1" } }] });
    const result = await downloadFile({ url: file.url, dest: join(tmp.dir, "r.bin"), retry: FAST_RETRY });
    expect(result.sha256).toBe(file.sha256);
    const [first, second] = host.requests(file.path);
    // our own backoff here is ≤ 200 ms, so a gap near 1 s can only come from Retry-After
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThan(900);
  });

  test("retries two 500s, then succeeds", async () => {
    using tmp = tempDir();
    const file = serve("500.bin", MB, { canned: [{ status: 500 }, { status: 500 }] });
    const result = await downloadFile({ url: file.url, dest: join(tmp.dir, "r.bin"), retry: FAST_RETRY });
    expect(result.sha256).toBe(file.sha256);
    expect(
      host
        .requests(file.path)
        .slice(0, 3)
        .map((request) => request.range),
    ).toEqual(["bytes=0-0", "bytes=0-0", "bytes=0-0"]);
  });

  test("gives up after the allowed attempts with an error that says so", async () => {
    using tmp = tempDir();
    const file = serve("503.bin", MB, { canned: Array.from({ length: 5 }, () => ({ status: 503 })) });
    const run = downloadFile({ url: file.url, dest: join(tmp.dir, "r.bin"), retry: { ...FAST_RETRY, attempts: 3 } });
    await expect(run).rejects.toThrow(/failed after 3 attempts: .*HTTP 503/);
    expect(host.requests(file.path)).toHaveLength(3);
  });

  test("does not retry a 404 and says the URL is wrong", async () => {
    using tmp = tempDir();
    const run = downloadFile({ url: host.url("/missing.bin"), dest: join(tmp.dir, "m.bin"), retry: FAST_RETRY });
    await expect(run).rejects.toMatchObject({
      code: "E_DOWNLOAD",
      message: expect.stringMatching(/does not exist \(HTTP 404\)/),
    });
    expect(host.requests("/missing.bin")).toHaveLength(1);
  });
});

describe("resume and 416", () => {
  test("a complete .part left by a killed run is verified and renamed without fetching it again", async () => {
    using tmp = tempDir();
    const file = serve("complete.bin", 2 * MB);
    const dest = join(tmp.dir, "complete.bin");
    writeFileSync(`${dest}.part`, contentAt(file.seed, 0, 2 * MB));
    const state = { version: 1, size: 2 * MB, validator: null, sha256: null, segmentBytes: 2 * MB, written: [2 * MB] };
    writeFileSync(`${dest}.part.json`, JSON.stringify(state));
    const result = await downloadFile({ url: file.url, dest, retry: FAST_RETRY });
    expect(result).toMatchObject({ sha256: file.sha256, resumed: true, fetched: 0 });
    expect(host.requests(file.path).map((request) => request.range)).toEqual(["bytes=0-0"]);
    expect(listDir(tmp.dir)).toEqual(["complete.bin", "complete.bin.sha256.json"]);
  });

  test("a .part from another version of the file (other size) is discarded", async () => {
    using tmp = tempDir();
    const file = serve("changed.bin", 2 * MB);
    const dest = join(tmp.dir, "changed.bin");
    writeFileSync(`${dest}.part`, new Uint8Array(MB));
    const state = { version: 1, size: MB, validator: null, sha256: null, segmentBytes: MB, written: [MB] };
    writeFileSync(`${dest}.part.json`, JSON.stringify(state));
    const result = await downloadFile({ url: file.url, dest, retry: FAST_RETRY });
    expect(result).toMatchObject({ sha256: file.sha256, resumed: false, fetched: 2 * MB });
  });

  test("a host answering 416 to byte ranges is fetched with one plain GET", async () => {
    using tmp = tempDir();
    const file = serve("416.bin", 3 * MB, { refuseRanges: true });
    const result = await downloadFile({
      url: file.url,
      dest: join(tmp.dir, "r.bin"),
      connections: 2,
      retry: FAST_RETRY,
    });
    expect(result.sha256).toBe(file.sha256);
    expect(host.requests(file.path).at(-1)?.range).toBeNull();
    expect(listDir(tmp.dir)).toEqual(["r.bin", "r.bin.sha256.json"]);
  });

  test("a cancelled download keeps its .part and state, and the next run fetches only the rest", async () => {
    using tmp = tempDir();
    const file = serve("abort.bin", 4 * MB, { throttleBytesPerSec: MB });
    const dest = join(tmp.dir, "abort.bin");
    const controller = new AbortController();
    const onProgress = (p: DownloadProgress) => p.bytes >= MB / 2 && controller.abort();
    const first = downloadFile({ url: file.url, dest, connections: 2, signal: controller.signal, onProgress });
    await expect(first).rejects.toMatchObject({ code: "E_INTERRUPTED" });
    expect(listDir(tmp.dir)).toEqual(["abort.bin.part", "abort.bin.part.json"]);
    const second = await downloadFile({ url: file.url, dest, connections: 2, retry: FAST_RETRY });
    expect(second).toMatchObject({ sha256: file.sha256, resumed: true });
    expect(second.fetched).toBeLessThan(4 * MB);
  });
});

describe("refusals", () => {
  test("wrong bytes fail the sha256 check and leave no file, no .part and no state", async () => {
    using tmp = tempDir();
    const file = serve("corrupt.bin", 3 * MB, { corruptAt: 1_234_567 });
    const run = downloadFile({ url: file.url, dest: join(tmp.dir, "c.bin"), sha256: file.sha256, connections: 3 });
    await expect(run).rejects.toThrow(/sha256 mismatch for .*c\.bin.*nothing was kept/);
    expect(listDir(tmp.dir)).toEqual([]);
  });

  test("a sha256 the host declares in X-Linked-Etag is enforced", async () => {
    using tmp = tempDir();
    const wrong = "ab".repeat(32);
    const file = serve("linked.bin", MB, { headers: { "x-linked-etag": `"${wrong}"` } });
    const run = downloadFile({ url: file.url, dest: join(tmp.dir, "l.bin") });
    await expect(run).rejects.toThrow(`expected ${wrong}`);
    expect(listDir(tmp.dir)).toEqual([]);
  });

  test("an expected hash that contradicts the host's declared one fails before downloading", async () => {
    using tmp = tempDir();
    const file = serve("conflict.bin", MB, { headers: { "x-linked-etag": `"${"cd".repeat(32)}"` } });
    const run = downloadFile({ url: file.url, dest: join(tmp.dir, "l.bin"), sha256: file.sha256 });
    await expect(run).rejects.toThrow(/host declares sha256/);
    expect(host.bytesSent(file.path)).toBe(1);
  });

  test("an HTML page is refused by its content type, with a clear message", async () => {
    using tmp = tempDir();
    host.serve("/page", {
      size: 0,
      body: "<!DOCTYPE html><html><body>Log in</body></html>",
      contentType: "text/html; charset=utf-8",
    });
    const run = downloadFile({ url: host.url("/page"), dest: join(tmp.dir, "model.safetensors") });
    await expect(run).rejects.toThrow(/returned an HTML page instead of the file: .*direct download link/);
    expect(listDir(tmp.dir)).toEqual([]);
  });

  test("an HTML page served as binary is refused by its first bytes", async () => {
    using tmp = tempDir();
    host.serve("/sneaky", { size: 0, body: `<html><head></head><body>${"x".repeat(5000)}</body></html>` });
    const run = downloadFile({ url: host.url("/sneaky"), dest: join(tmp.dir, "model.safetensors"), connections: 1 });
    await expect(run).rejects.toThrow(/HTML page/);
    expect(listDir(tmp.dir)).toEqual([]);
  });

  test("a file bigger than the free disk space is refused before any byte is fetched", async () => {
    using tmp = tempDir();
    const file = serve("huge.bin", MB, { declaredSize: 2 ** 50 });
    const run = downloadFile({ url: file.url, dest: join(tmp.dir, "huge.bin") });
    await expect(run).rejects.toThrow(/not enough disk space in .*needs 1.0 PiB plus 64.0 MiB kept free/);
    expect(host.bytesSent(file.path)).toBe(1);
    expect(listDir(tmp.dir)).toEqual([]);
  });

  test("free space is checked against what is left to fetch (injected statfs)", async () => {
    using tmp = tempDir();
    const file = serve("tight.bin", 2 * MB);
    const run = downloadFile({ url: file.url, dest: join(tmp.dir, "t.bin"), freeSpace: async () => 10 * MB });
    await expect(run).rejects.toMatchObject({ code: "E_DOWNLOAD", details: { needed: 2 * MB, available: 10 * MB } });
  });

  test("a remote size other than the expected one fails before downloading", async () => {
    using tmp = tempDir();
    const file = serve("size.bin", MB);
    const run = downloadFile({ url: file.url, dest: join(tmp.dir, "s.bin"), size: MB + 1 });
    await expect(run).rejects.toThrow(/is 1000000 bytes but 1000001 are expected/);
  });
});

describe("main-thread hasher", () => {
  const inline = { hashInWorker: false, retry: FAST_RETRY } as const;

  test("hashes parallel ranges in order, with dropped connections and a resumed prefix", async () => {
    using tmp = tempDir();
    const file = serve("inline.bin", 6 * MB, { dropAfter: 700_000, dropTimes: 3 });
    const dest = join(tmp.dir, "inline.bin");
    writeFileSync(`${dest}.part`, contentAt(file.seed, 0, MB));
    const state = {
      version: 1,
      size: 6 * MB,
      validator: null,
      sha256: null,
      segmentBytes: 2 * MB,
      written: [MB, 0, 0],
    };
    writeFileSync(`${dest}.part.json`, JSON.stringify(state));
    const result = await downloadFile({ url: file.url, dest, connections: 3, ...inline });
    expect(result).toMatchObject({ sha256: file.sha256, resumed: true, fetched: 5 * MB });
  });

  test("restarts its digest when a host without ranges restarts the file", async () => {
    using tmp = tempDir();
    const file = serve("inline-noranges.bin", 2 * MB, { ranges: false, dropAfter: MB });
    const result = await downloadFile({ url: file.url, dest: join(tmp.dir, "n.bin"), ...inline });
    expect(result.sha256).toBe(file.sha256);
  });

  test("catches wrong bytes too", async () => {
    using tmp = tempDir();
    const file = serve("inline-corrupt.bin", 2 * MB, { corruptAt: 5 });
    const run = downloadFile({ url: file.url, dest: join(tmp.dir, "c.bin"), sha256: file.sha256, ...inline });
    await expect(run).rejects.toThrow(/sha256 mismatch/);
    expect(listDir(tmp.dir)).toEqual([]);
  });
});
