import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createComfyClient } from "../../src/comfy/client.ts";
import { comfyFileDirs } from "../../src/comfy/file-dirs.ts";
import { collectOutputs } from "../../src/jobs/outputs.ts";

// a loopback stand-in for ComfyUI's /view: every file it serves says where it came from
let server: ReturnType<typeof Bun.serve>;
const viewed: string[] = [];
let base: string;

beforeAll(async () => {
  server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const name = new URL(req.url).searchParams.get("filename") ?? "";
      viewed.push(name);
      return new Response(`view:${name}`);
    },
  });
  base = mkdtempSync(join(tmpdir(), "cw-outputs-"));
  await Bun.write(join(base, "output/sub/fresh.png"), "disk:fresh.png");
  await Bun.write(join(base, "output/stale.png"), "disk:stale.png");
  const hourAgo = new Date(Date.now() - 3_600_000);
  utimesSync(join(base, "output/stale.png"), hourAgo, hourAgo);
  await Bun.write(join(base, "secret.png"), "disk:secret.png");
});
afterAll(async () => {
  await server.stop(true);
  rmSync(base, { recursive: true, force: true });
});

const image = (filename: string, subfolder = "") => ({ filename, subfolder, type: "output" });

test("a local ComfyUI's fresh outputs are read from its folder; stale, missing or escaping names go through /view", async () => {
  const client = createComfyClient({ url: `http://127.0.0.1:${server.port}` });
  const outputs = {
    "9": { images: [image("fresh.png", "sub"), image("stale.png"), image("missing.png"), image("secret.png", "..")] },
  };
  const local = { dirs: comfyFileDirs({}, base), notBefore: Date.now() - 60_000 };
  const { result } = await collectOutputs(client, outputs, {
    includeTemp: false,
    inlineMaxBytes: 1e6,
    mode: "inline",
    local,
  });
  const texts = result.images.map((file) => Buffer.from(file.data, "base64").toString());
  expect(texts).toEqual(["disk:fresh.png", "view:stale.png", "view:missing.png", "view:secret.png"]);
  expect(viewed.sort()).toEqual(["missing.png", "secret.png", "stale.png"]);
});

test("ComfyUI's folders follow --base-directory and the per-folder flags, relative to its working directory", () => {
  expect(comfyFileDirs({}, "/opt/comfy")).toEqual({
    output: "/opt/comfy/output",
    temp: "/opt/comfy/temp",
    input: "/opt/comfy/input",
  });
  const args = "--base-directory /data --output-directory=out --temp-directory '/tmp/comfy temp'";
  expect(comfyFileDirs({ COMFY_ARGS: args }, "/opt/comfy")).toEqual({
    output: "/opt/comfy/out",
    temp: "/tmp/comfy temp",
    input: "/data/input",
  });
  expect(comfyFileDirs({ COMFY_CMD: "python main.py --input-directory /in", COMFY_ARGS: "" }, "/c").input).toBe("/in");
});
