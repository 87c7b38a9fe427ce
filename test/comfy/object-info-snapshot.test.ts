/** scripts/object-info-snapshot.ts against a server on loopback that answers like ComfyUI. */
import { afterAll, expect, test } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SCRIPT = join(import.meta.dir, "../../scripts/object-info-snapshot.ts");
// raw text, as ComfyUI's json.dumps writes it: the 64-bit max and 8.0 must come through unchanged
const OBJECT_INFO = `{
 "KSampler": {"input": {"required": {"seed": ["INT", {"default": 0, "max": 18446744073709551615}], "cfg": ["FLOAT", {"default": 8.0}]}}, "python_module": "nodes"},
 "CheckpointLoaderSimple": {"input": {"required": {"ckpt_name": [["sd15.safetensors"], {"tooltip": "t"}]}}, "python_module": "nodes"},
 "UpscaleModelLoader": {"input": {"required": {"model_name": ["COMBO", {"multiselect": false, "options": ["4x.pth"]}]}}, "python_module": "comfy_extras.nodes_upscale_model"},
 "NewModelLoader": {"input": {"required": {"model_name": ["COMBO", {"options": []}]}}, "python_module": "comfy_extras.nodes_new"},
 "OpenAIDalle3": {"input": {}, "python_module": "comfy_api_nodes.nodes_openai"},
 "SomePackNode": {"input": {}, "python_module": "custom_nodes.some-pack"}
}`;

const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/system_stats") return Response.json({ system: { comfyui_version: "9.9.9" }, devices: [] });
    if (path === "/object_info") return new Response(OBJECT_INFO, { headers: { "content-type": "application/json" } });
    return new Response("not found", { status: 404 });
  },
});
const out = await mkdtemp(join(tmpdir(), "object-info-snapshot-"));
afterAll(async () => {
  server.stop(true);
  await rm(out, { recursive: true, force: true });
});

test("keeps core nodes only, empties the loader table's combos, keeps numbers verbatim, names unmapped empty combos", async () => {
  const run = Bun.spawn(["node_modules/.bin/bun", SCRIPT, `http://127.0.0.1:${server.port}`, out], {
    cwd: join(import.meta.dir, "../.."),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, stdout] = await Promise.all([run.exited, new Response(run.stdout).text()]);
  expect(code).toBe(0);
  expect(stdout).toContain("wrote 4 core nodes of ComfyUI 9.9.9 (of 6 served)");
  expect(stdout).toContain("  NewModelLoader.model_name");
  const text = await readFile(join(out, "object-info.json"), "utf8");
  expect(text).toContain('"max":18446744073709551615');
  expect(text).toContain('"default":8.0');
  expect(text.split("\n")).toHaveLength(7); // "{", four nodes, "}", trailing newline
  const snapshot = JSON.parse(text);
  expect(Object.keys(snapshot)).toEqual(["KSampler", "CheckpointLoaderSimple", "UpscaleModelLoader", "NewModelLoader"]);
  expect(snapshot.CheckpointLoaderSimple.input.required.ckpt_name).toEqual([[], { tooltip: "t" }]);
  expect(snapshot.UpscaleModelLoader.input.required.model_name).toEqual(["COMBO", { multiselect: false, options: [] }]);
  expect(JSON.parse(await readFile(join(out, "object-info.meta.json"), "utf8"))).toEqual({
    comfyui_version: "9.9.9",
    nodes: 4,
  });
});
