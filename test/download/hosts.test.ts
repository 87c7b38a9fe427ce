import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { downloadFile } from "../../src/download/download.ts";
import { captureLogger, FAST_RETRY, listDir, tempDir } from "../helpers/download.ts";
import { contentSha256, startWeightHost, type WeightHost } from "../helpers/weight-host.ts";

// two hosts on different ports are different `host`s: `origin` stands in for huggingface.co/civitai.com,
// `cdn` for the storage host their redirects point at
let origin: WeightHost;
let cdn: WeightHost;
beforeAll(() => {
  origin = startWeightHost();
  cdn = startWeightHost();
});
afterAll(() => {
  origin.stop();
  cdn.stop();
});

const MB = 1_000_000;
const HF_TOKEN = "hf_TestTokenValue0123456789abcdef";
const CIVITAI_TOKEN = "civitai-test-key-0123456789";

describe("Hugging Face", () => {
  const endpoints = () => ({ huggingface: origin.origin });

  test("follows the redirect to the CDN, sends the token only to the hub, and enforces X-Linked-Etag", async () => {
    using tmp = tempDir();
    const sha = contentSha256(11, 3 * MB);
    cdn.serve("/blobs/ae?sig=1", { size: 3 * MB, seed: 11 });
    origin.serve("/org/model/resolve/main/ae.safetensors", {
      size: 0,
      redirect: cdn.url("/blobs/ae?sig=1"),
      headers: { "x-linked-etag": `"${sha}"`, "x-linked-size": String(3 * MB) },
    });
    const url = origin.url("/org/model/blob/main/ae.safetensors");
    const result = await downloadFile({ url, dir: tmp.dir, hfToken: HF_TOKEN, endpoints: endpoints(), connections: 3 });
    expect(result).toMatchObject({ path: join(tmp.dir, "ae.safetensors"), sha256: sha });
    expect(origin.requests("/org/model/resolve/main/ae.safetensors").map((r) => r.authorization)).toEqual([
      `Bearer ${HF_TOKEN}`,
    ]);
    const cdnRequests = cdn.requests("/blobs/ae?sig=1");
    expect(cdnRequests.length).toBe(4); // the probe's hop, then 3 ranges straight to the final URL
    expect(cdnRequests.every((r) => r.authorization === null)).toBe(true);
  });

  test("a signed CDN URL that expires mid-download is replaced by probing the hub again", async () => {
    using tmp = tempDir();
    cdn.serve("/signed-1", { size: 4 * MB, seed: 13, expireAfter: 2 }); // the probe and one range, then 403
    cdn.serve("/signed-2", { size: 4 * MB, seed: 13 });
    const hub = "/org/model/resolve/main/long.bin";
    origin.serve(hub, { size: 0, redirects: [cdn.url("/signed-1"), cdn.url("/signed-2")] });
    const run = downloadFile({
      url: origin.url(hub),
      dir: tmp.dir,
      endpoints: endpoints(),
      connections: 2,
      retry: FAST_RETRY,
    });
    expect((await run).sha256).toBe(contentSha256(13, 4 * MB));
    expect(origin.requests(hub)).toHaveLength(2);
    expect(cdn.requests("/signed-2").length).toBeGreaterThanOrEqual(2);
  });

  test("a gated repo without a token is explained: accept the licence on the repo page and set HF_TOKEN", async () => {
    using tmp = tempDir();
    origin.serve("/org/gated/resolve/main/m.safetensors", {
      size: MB,
      requireAuth: "Bearer hf_never",
      authFailure: { status: 401, headers: { "x-error-code": "GatedRepo" } },
    });
    const url = origin.url("/org/gated/resolve/main/m.safetensors");
    const run = downloadFile({ url, dest: join(tmp.dir, "m.safetensors"), endpoints: endpoints() });
    await expect(run).rejects.toThrow(`is gated: open ${origin.origin}/org/gated, log in and accept the licence`);
    await expect(run).rejects.toThrow(/set HF_TOKEN/);
    expect(listDir(tmp.dir)).toEqual([]);
  });

  test("a token without access gets a 403 explanation, and the token never reaches logs or messages", async () => {
    using tmp = tempDir();
    origin.serve("/org/locked/resolve/main/m.bin", {
      size: MB,
      requireAuth: "Bearer hf_other",
      authFailure: { status: 403, headers: { "x-error-code": "GatedRepo" } },
    });
    const capture = captureLogger([HF_TOKEN]);
    const url = origin.url("/org/locked/resolve/main/m.bin");
    const error = await downloadFile({
      url,
      dest: join(tmp.dir, "m.bin"),
      hfToken: HF_TOKEN,
      endpoints: endpoints(),
      log: capture.log,
    }).catch((e: Error) => e);
    expect(String(error)).toContain(
      `HF_TOKEN has no access to org/locked (m.bin at main): open ${origin.origin}/org/locked`,
    );
    expect(String(error)).not.toContain(HF_TOKEN);
    // and a successful download with the token logs its URL, never the token
    origin.serve("/org/open/resolve/main/ok.bin", { size: MB, seed: 2, requireAuth: `Bearer ${HF_TOKEN}` });
    await downloadFile({
      url: origin.url("/org/open/resolve/main/ok.bin"),
      dir: tmp.dir,
      hfToken: HF_TOKEN,
      endpoints: endpoints(),
      log: capture.log,
    });
    expect(capture.text()).toContain("/org/open/resolve/main/ok.bin");
    expect(capture.text()).not.toContain(HF_TOKEN);
  });

  test("a missing file is a clear 404", async () => {
    using tmp = tempDir();
    const url = origin.url("/org/model/resolve/main/nope.safetensors");
    const run = downloadFile({ url, dir: tmp.dir, endpoints: endpoints() });
    await expect(run).rejects.toThrow(
      "file nope.safetensors not found in org/model on Hugging Face (HTTP 404): check the URL",
    );
  });
});

describe("Civitai", () => {
  const endpoints = () => ({ civitai: origin.origin });
  const versionJson = (sha: string) =>
    JSON.stringify({
      id: 42,
      files: [{ name: "dreamy.safetensors", primary: true, hashes: { SHA256: sha.toUpperCase() } }],
    });

  test("a model page URL downloads its version, named by Content-Disposition, checked against the version's SHA256", async () => {
    using tmp = tempDir();
    const sha = contentSha256(5, MB);
    cdn.serve("/r2/obj?X-Amz-Signature=abc", {
      size: MB,
      seed: 5,
      headers: { "content-disposition": `attachment; filename="dreamy.safetensors"` },
    });
    origin.serve("/api/download/models/42", { size: 0, redirect: cdn.url("/r2/obj?X-Amz-Signature=abc") });
    origin.serve("/api/v1/model-versions/42", { size: 0, body: versionJson(sha), contentType: "application/json" });
    const url = origin.url("/models/7/dreamy?modelVersionId=42");
    const result = await downloadFile({ url, dir: tmp.dir, civitaiToken: CIVITAI_TOKEN, endpoints: endpoints() });
    expect(result).toMatchObject({ path: join(tmp.dir, "dreamy.safetensors"), sha256: sha });
    expect(origin.requests("/api/download/models/42").every((r) => r.authorization === `Bearer ${CIVITAI_TOKEN}`)).toBe(
      true,
    );
    expect(cdn.requests("/r2/obj?X-Amz-Signature=abc").every((r) => r.authorization === null)).toBe(true);
  });

  test("bytes that do not match the version's declared SHA256 are refused", async () => {
    using tmp = tempDir();
    cdn.serve("/r2/bad", {
      size: MB,
      seed: 6,
      headers: { "content-disposition": `attachment; filename="dreamy.safetensors"` },
    });
    origin.serve("/api/download/models/43", { size: 0, redirect: cdn.url("/r2/bad") });
    origin.serve("/api/v1/model-versions/43", {
      size: 0,
      body: versionJson("0".repeat(64)),
      contentType: "application/json",
    });
    const run = downloadFile({ url: origin.url("/api/download/models/43"), dir: tmp.dir, endpoints: endpoints() });
    await expect(run).rejects.toThrow(/sha256 mismatch/);
    expect(listDir(tmp.dir)).toEqual([]);
  });

  test("a login page instead of the file is refused with a CIVITAI_TOKEN hint", async () => {
    using tmp = tempDir();
    const page = "<!DOCTYPE html><html><title>Sign in</title></html>";
    cdn.serve("/login?returnUrl=/model-versions/44", { size: 0, body: page, contentType: "text/html" });
    origin.serve("/api/download/models/44", { size: 0, redirect: cdn.url("/login?returnUrl=/model-versions/44") });
    const run = downloadFile({
      url: origin.url("/api/download/models/44"),
      dest: join(tmp.dir, "x.safetensors"),
      endpoints: endpoints(),
    });
    await expect(run).rejects.toThrow(
      "returned an HTML page instead of the file: Civitai sent a login page: this download needs CIVITAI_TOKEN",
    );
  });

  test("401 names CIVITAI_TOKEN and where to create a key", async () => {
    using tmp = tempDir();
    origin.serve("/api/download/models/45", { size: MB, requireAuth: "Bearer x" });
    const run = downloadFile({
      url: origin.url("/api/download/models/45"),
      dest: join(tmp.dir, "x"),
      endpoints: endpoints(),
      retry: FAST_RETRY,
    });
    await expect(run).rejects.toThrow(
      /create an API key at https:\/\/civitai.com\/user\/account and set CIVITAI_TOKEN/,
    );
  });
});

test("a plain URL's own Authorization header is not forwarded to the host it redirects to", async () => {
  using tmp = tempDir();
  cdn.serve("/plain-target.bin", { size: MB, seed: 9 });
  origin.serve("/plain.bin", { size: 0, redirect: cdn.url("/plain-target.bin") });
  const headers = { authorization: "Bearer plain-secret" };
  const result = await downloadFile({
    url: origin.url("/plain.bin"),
    dest: join(tmp.dir, "p.bin"),
    headers,
    connections: 1,
  });
  expect(result.sha256).toBe(contentSha256(9, MB));
  expect(origin.requests("/plain.bin").map((r) => r.authorization)).toEqual(["Bearer plain-secret"]);
  expect(cdn.requests("/plain-target.bin").map((r) => r.authorization)).toEqual([null, null]);
});
