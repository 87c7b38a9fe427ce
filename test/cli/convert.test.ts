import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCli } from "../../src/cli/run-cli.ts";
import { coreObjectInfo } from "../../src/comfy/object-info.ts";
import { stderr, stdout } from "../../src/lib/stdio.ts";
import { iTXt, tinyPng } from "../workflow/_images.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-convert-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const CORPUS = join(import.meta.dir, "../../../shared/corpus/workflows");
const GGUF = join(CORPUS, "ui-flux-gguf-lora.json");

// ComfyUI-GGUF's loader as its /object_info entry reads, so a custom node becomes known
const GGUF_INFO = {
  input: { required: { unet_name: [["flux1-dev-Q4_0.gguf"]] } },
  input_order: { required: ["unet_name"] },
  output: ["MODEL"],
  output_is_list: [false],
  output_name: ["MODEL"],
  name: "UnetLoaderGGUF",
  display_name: "Unet Loader (GGUF)",
  description: "",
  python_module: "custom_nodes.ComfyUI-GGUF",
  category: "bootleg",
  output_node: false,
};

/** Runs the CLI in-process, capturing stdout, stderr (logs) and the error stream runCli reports on. */
async function run(args: string[]) {
  const saved = { ...process.env };
  Object.assign(process.env, { LOG_LEVEL: "warn", LOG_FORMAT: "json" });
  const out: string[] = [];
  const logs: string[] = [];
  const errors: string[] = [];
  const [write, writeErr] = [stdout.write, stderr.write];
  stdout.write = (chunk: string) => out.push(String(chunk)) > 0;
  stderr.write = (chunk: string) => logs.push(String(chunk)) > 0;
  try {
    const code = await runCli(args, { out: (t) => void out.push(t), err: (t) => void errors.push(t) });
    return { code, stdout: out.join(""), logs: logs.join(""), error: errors.join("") };
  } finally {
    stdout.write = write;
    stderr.write = writeErr;
    process.env = saved;
  }
}

test("prints the API JSON on stdout, or writes it to --out; warns about unknown nodes", async () => {
  const printed = await run(["convert", GGUF]);
  expect(printed.code).toBe(0);
  const api = JSON.parse(printed.stdout);
  expect(api["27"]).toEqual({ class_type: "UnetLoaderGGUF", inputs: {}, _meta: { title: "UnetLoaderGGUF" } });
  expect(api["29"].inputs).toMatchObject({ lora_name: "flux_realism_lora.safetensors", model: ["27", 0] });
  expect(printed.logs).toContain('unknown node type \\"UnetLoaderGGUF\\"');

  const out = join(dir, "api.json");
  const written = await run(["convert", GGUF, "--out", out]);
  expect([written.code, written.stdout]).toEqual([0, ""]);
  expect(await Bun.file(out).json()).toEqual(api);
});

test("an --out the file system refuses is one line naming the path and why", async () => {
  const file = join(dir, "a-file");
  await Bun.write(file, "x");
  const result = await run(["convert", GGUF, "--out", join(file, "api.json")]);
  expect(result.code).toBe(2);
  expect(result.error).toContain(
    `cannot write ${join(file, "api.json")}: a part of that path is a file, not a folder (ENOTDIR); choose another --out`,
  );
  expect(result.error).not.toContain("    at ");
});

test("--object-info FILE knows custom nodes, so their widget values are mapped", async () => {
  const file = join(dir, "object_info.json");
  await Bun.write(file, JSON.stringify({ ...coreObjectInfo(), UnetLoaderGGUF: GGUF_INFO }));
  const result = await run(["convert", GGUF, "--object-info", file]);
  expect(result.code).toBe(0);
  expect(JSON.parse(result.stdout)["27"]).toEqual({
    class_type: "UnetLoaderGGUF",
    inputs: { unet_name: "flux1-dev-Q4_0.gguf" },
    _meta: { title: "Unet Loader (GGUF)" },
  });
  expect(result.logs).not.toContain("unknown node type");
});

test("--object-info URL fetches /object_info from a running ComfyUI, given the base or the full URL", async () => {
  const paths: string[] = [];
  const body = JSON.stringify({ ...coreObjectInfo(), UnetLoaderGGUF: GGUF_INFO });
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      paths.push(new URL(req.url).pathname);
      return new Response(body, { headers: { "content-type": "application/json" } });
    },
  });
  try {
    for (const url of [`http://127.0.0.1:${server.port}`, `http://127.0.0.1:${server.port}/object_info`]) {
      const result = await run(["convert", GGUF, "--object-info", url]);
      expect([result.code, JSON.parse(result.stdout)["27"].inputs]).toEqual([0, { unet_name: "flux1-dev-Q4_0.gguf" }]);
    }
    expect(paths).toEqual(["/object_info", "/object_info"]);
  } finally {
    await server.stop(true);
  }
});

test("a PNG with an embedded workflow converts; an API file is printed as it is", async () => {
  const ui = await Bun.file(join(CORPUS, "ui-wan21-i2v.json")).text();
  const png = join(dir, "wan.png");
  // its negative prompt is Chinese, so PIL would write iTXt rather than Latin-1 tEXt
  await Bun.write(png, tinyPng(iTXt("workflow", ui, true)));
  const fromPng = await run(["convert", png]);
  const fromJson = await run(["convert", join(CORPUS, "ui-wan21-i2v.json")]);
  expect(fromPng.code).toBe(0);
  expect(JSON.parse(fromPng.stdout)).toEqual(JSON.parse(fromJson.stdout));
  const api = await run(["convert", join(CORPUS, "api-sd15-txt2img.json")]);
  expect(JSON.parse(api.stdout)).toEqual(await Bun.file(join(CORPUS, "api-sd15-txt2img.json")).json());
});

test("a malformed workflow or --object-info exits 2 naming the file and the problem", async () => {
  const bad = join(dir, "bad.json");
  await Bun.write(bad, '{"nodes": [\n  {"id": 1,}\n]}');
  const result = await run(["convert", bad]);
  expect(result.code).toBe(2);
  expect(result.error).toContain(`error: ${bad}: invalid JSON at line 2, column 12: expected a quoted property name`);
  expect(result.stdout).toBe("");

  const info = join(dir, "info.json");
  await Bun.write(info, "[1, 2]");
  const badInfo = await run(["convert", GGUF, "--object-info", info]);
  expect(badInfo.code).toBe(2);
  expect(badInfo.error).toContain(`--object-info ${info}: not a GET /object_info response`);
  const missing = await run(["convert", join(dir, "nope.json")]);
  expect([missing.code, missing.error]).toEqual([2, expect.stringContaining("nope.json: no such file")]);
  // nothing to convert: ComfyUI would refuse the `{}` this would print
  const empty = join(dir, "empty.json");
  await Bun.write(empty, JSON.stringify({ version: 0.4, nodes: [], links: [] }));
  const none = await run(["convert", empty]);
  expect([none.code, none.stdout]).toEqual([2, ""]);
  expect(none.error).toContain(`${empty}: no node is left to convert`);
});
