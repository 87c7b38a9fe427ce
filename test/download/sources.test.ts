import { describe, expect, test } from "bun:test";
import {
  looksLikeHtml,
  parseContentDisposition,
  parseContentRange,
  safeFilename,
  sha256FromEtag,
} from "../../src/download/headers.ts";
import { headersFor, resolveSource } from "../../src/download/sources.ts";

const SHA = "a".repeat(64);

describe("Hugging Face URLs", () => {
  test("rewrites a /blob/ page URL to /resolve/ and names the file, the repo and its licence page", () => {
    const source = resolveSource("https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/ae.safetensors", {
      hfToken: "hf_secret",
    });
    expect(source).toMatchObject({
      kind: "huggingface",
      url: "https://huggingface.co/black-forest-labs/FLUX.1-dev/resolve/main/ae.safetensors",
      host: "huggingface.co",
      filename: "ae.safetensors",
      hasToken: true,
      hf: {
        repo: "black-forest-labs/FLUX.1-dev",
        revision: "main",
        path: "ae.safetensors",
        page: "https://huggingface.co/black-forest-labs/FLUX.1-dev",
      },
    });
    expect(source.headers).toEqual({ authorization: "Bearer hf_secret" });
  });

  test("keeps subfolders, dataset repos and encoded revisions", () => {
    const source = resolveSource(
      "https://huggingface.co/datasets/org/data/resolve/refs%2Fpr%2F1/sub/dir/x.bin?download=true",
    );
    expect(source.hf).toMatchObject({ repo: "datasets/org/data", revision: "refs%2Fpr%2F1", path: "sub/dir/x.bin" });
    expect(source.filename).toBe("x.bin");
    expect(source.url).toBe(
      "https://huggingface.co/datasets/org/data/resolve/refs%2Fpr%2F1/sub/dir/x.bin?download=true",
    );
  });

  test("sends no token when none is configured, and treats a mirror endpoint as Hugging Face", () => {
    const source = resolveSource("http://127.0.0.1:9/org/repo/resolve/abc/m.safetensors", {
      endpoints: { huggingface: "http://127.0.0.1:9" },
    });
    expect(source).toMatchObject({ kind: "huggingface", hasToken: false, headers: {} });
  });

  test("the token goes to the source host only, never to a CDN host after a redirect", () => {
    const source = resolveSource("https://huggingface.co/o/r/resolve/main/f.bin", { hfToken: "hf_x" });
    expect(headersFor(source, "https://huggingface.co/o/r/resolve/main/f.bin")).toEqual({
      authorization: "Bearer hf_x",
    });
    expect(headersFor(source, "https://cas-bridge.xethub.hf.co/xet-bridge-us/f?sig=1")).toEqual({});
    expect(headersFor(source, "https://huggingface.co.evil.example/f")).toEqual({});
  });
});

describe("Civitai URLs", () => {
  test("accepts the download API, the version API and model pages with a version", () => {
    const token = { civitaiToken: "civ-token" };
    expect(
      resolveSource("https://civitai.com/api/download/models/128713?type=Model&format=SafeTensor", token),
    ).toMatchObject({
      kind: "civitai",
      url: "https://civitai.com/api/download/models/128713?type=Model&format=SafeTensor",
      headers: { authorization: "Bearer civ-token" },
      civitai: { versionId: "128713", page: "https://civitai.com/model-versions/128713" },
    });
    expect(resolveSource("https://civitai.com/api/v1/model-versions/5").url).toBe(
      "https://civitai.com/api/download/models/5",
    );
    expect(resolveSource("https://civitai.com/models/4384/dreamshaper?modelVersionId=128713").url).toBe(
      "https://civitai.com/api/download/models/128713",
    );
  });

  test("has no file name until the host names it (Content-Disposition)", () => {
    expect(resolveSource("https://civitai.com/api/download/models/1").filename).toBeUndefined();
  });

  test("refuses a model page without a version, saying how to pick one", () => {
    expect(() => resolveSource("https://civitai.com/models/4384/dreamshaper")).toThrow(/\?modelVersionId=<id>/);
  });
});

describe("plain URLs", () => {
  test("take the file name from the path and send caller headers only to their own host", () => {
    const source = resolveSource("https://example.com/weights/model%20v2.safetensors", {
      headers: { authorization: "Basic x" },
    });
    expect(source).toMatchObject({ kind: "http", filename: "model v2.safetensors", hasToken: true });
    expect(headersFor(source, "https://cdn.example.net/x")).toEqual({});
  });

  test("reject what is not an http(s) URL", () => {
    expect(() => resolveSource("s3://bucket/key")).toThrow(/cannot download s3: URLs/);
    expect(() => resolveSource("not a url")).toThrow(/not a URL/);
  });
});

describe("headers", () => {
  test("Content-Range: partial, unsatisfied and malformed", () => {
    expect(parseContentRange("bytes 0-0/1234")).toEqual({ start: 0, end: 0, total: 1234 });
    expect(parseContentRange("bytes */1234")).toEqual({ total: 1234 });
    expect(parseContentRange("bytes 0-9/*")).toEqual({ start: 0, end: 9 });
    expect(parseContentRange("items 0-1/2")).toBeUndefined();
  });

  test("Content-Disposition: RFC 6266 filename* wins, quotes are unescaped, paths are cut to a base name", () => {
    expect(parseContentDisposition(`attachment; filename="a.safetensors"`)).toBe("a.safetensors");
    expect(parseContentDisposition(`attachment; filename="x.bin"; filename*=UTF-8''na%C3%AFve%20v1.safetensors`)).toBe(
      "naïve v1.safetensors",
    );
    expect(parseContentDisposition(`attachment; filename=plain.ckpt`)).toBe("plain.ckpt");
    expect(parseContentDisposition(`attachment; filename="../../etc/passwd"`)).toBe("passwd");
    expect(parseContentDisposition("inline")).toBeUndefined();
    expect(safeFilename("..")).toBeUndefined();
  });

  test("X-Linked-Etag counts as a sha256 only when it is 64 hex digits", () => {
    expect(sha256FromEtag(`"${SHA.toUpperCase()}"`)).toBe(SHA);
    expect(sha256FromEtag(`W/"${SHA}"`)).toBe(SHA);
    expect(sha256FromEtag(`"${"b".repeat(40)}"`)).toBeUndefined(); // a git blob sha1
    expect(sha256FromEtag(null)).toBeUndefined();
  });

  test("HTML is recognised from its first bytes", () => {
    const bytes = (text: string) => new TextEncoder().encode(text);
    expect(looksLikeHtml(bytes("\n  <!DOCTYPE html><html>"))).toBe(true);
    expect(looksLikeHtml(bytes("<HTML><body>"))).toBe(true);
    expect(looksLikeHtml(bytes('\u0008\u0000\u0000\u0000{"__metadata__"'))).toBe(false);
  });
});
