import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { failedPackError, ImportFailureReader } from "../../src/comfy/import-failures.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";

const track = stopAfterEach();
// ComfyUI 0.28.2's own start-up output (coloured level tags and all) with one pack whose dependency is missing
const STARTUP = join(import.meta.dir, "../fixtures/comfyui-0.28.2-startup.txt");

function read(lines: string[]): ImportFailureReader {
  const reader = new ImportFailureReader();
  for (const line of lines) reader.read(line);
  return reader;
}

test("a real ComfyUI 0.28.2 start-up log: the failed pack with its exception line; ComfyUI's own extras are not packs", async () => {
  const reader = read((await Bun.file(STARTUP).text()).split("\n"));
  expect(reader.failed()).toEqual([
    {
      name: "Broken-Pack",
      path: "/work/comfy-real/ComfyUI/custom_nodes/Broken-Pack",
      reason: "ModuleNotFoundError: No module named 'definitely_missing_dep'",
    },
  ]);
  reader.reset();
  expect(reader.failed()).toEqual([]);
});

test("older plain output, a V3 entry-point error, and a failure seen only in the import-times table", () => {
  const reader = read([
    "Traceback (most recent call last):",
    '  File "/comfyui/nodes.py", line 2130, in load_custom_node',
    "    module_spec.loader.exec_module(module)",
    "ImportError: cannot import name 'Foo' from 'bar' (/x/bar.py)",
    "",
    "Cannot import /comfyui/custom_nodes/comfyui-impact-pack module for custom nodes: cannot import name 'Foo' from 'bar' (/x/bar.py)",
    "Error while calling comfy_entrypoint in /comfyui/custom_nodes/v3-pack: boom",
    "",
    "Import times for custom nodes:",
    "   0.0 seconds: /comfyui/custom_nodes/websocket_image_save.py",
    "   0.3 seconds (IMPORT FAILED): /comfyui/custom_nodes/comfyui-impact-pack",
    "   1.2 seconds (IMPORT FAILED): /comfyui/custom_nodes/silent-pack",
    "",
    // a row-shaped line outside the table means nothing
    "   0.1 seconds (IMPORT FAILED): /comfyui/custom_nodes/not-a-row",
  ]);
  expect(reader.failed()).toEqual([
    {
      name: "comfyui-impact-pack",
      path: "/comfyui/custom_nodes/comfyui-impact-pack",
      reason: "ImportError: cannot import name 'Foo' from 'bar' (/x/bar.py)",
    },
    { name: "v3-pack", path: "/comfyui/custom_nodes/v3-pack", reason: "boom" },
    {
      name: "silent-pack",
      path: "/comfyui/custom_nodes/silent-pack",
      reason: "the import raised (no error line was printed)",
    },
  ]);
});

test("a missing node type is tied to its failed pack by the UI's pack id or by the pack's sources", async () => {
  const packDir = join(mkdtempSync(join(tmpdir(), "cw-packs-")), "ComfyUI-Impact-Pack");
  mkdirSync(join(packDir, "modules"), { recursive: true });
  writeFileSync(join(packDir, "modules", "nodes.py"), `NODE_CLASS_MAPPINGS = {'SAMLoader': SAMLoader}\n`);
  const packs = [{ name: "ComfyUI-Impact-Pack", path: packDir, reason: "ModuleNotFoundError: No module named 'x'" }];
  const byId = await failedPackError([{ class_type: "Whatever", pack: "comfyui-impact-pack" }], packs);
  expect(byId?.code).toBe("E_NODE_PACK_FAILED");
  const bySource = await failedPackError([{ class_type: "SAMLoader" }], packs);
  expect(bySource?.message).toBe(
    "node pack ComfyUI-Impact-Pack failed to import at start-up: ModuleNotFoundError: No module named 'x' (the workflow's SAMLoader comes from it); install what it needs and restart",
  );
  expect(await failedPackError([{ class_type: "OtherNode" }], packs)).toBeUndefined();
});

test("serve: /health lists the failed pack, and a job using its node fails before queueing with E_NODE_PACK_FAILED", async () => {
  const pack = "ComfyUI-Impact-Pack:ultralytics:SAMLoader,UltralyticsDetectorProvider";
  const worker = track(await startTestWorker({ COMFY_ARGS: `--failed-pack ${pack} --node-ms 1` }));
  const health = (await (await worker.api("/health")).json()) as Json;
  expect(health.comfy.failed_node_packs).toEqual([
    {
      name: "ComfyUI-Impact-Pack",
      path: expect.stringMatching(/[/]custom_nodes[/]ComfyUI-Impact-Pack$/),
      reason: "ModuleNotFoundError: No module named 'ultralytics'",
    },
  ]);
  const workflow = { ...sd15Workflow(), "20": { class_type: "SAMLoader", inputs: { model_name: "sam_vit_b.pth" } } };
  const res = await worker.api("/v2/test/runsync?wait=20000", jsonPost({ input: { workflow } }));
  const body = (await res.json()) as Json;
  expect(body.status).toBe("FAILED");
  expect(body.error).toStartWith(
    "node pack ComfyUI-Impact-Pack failed to import at start-up: ModuleNotFoundError: No module named 'ultralytics'",
  );
  expect(body.output.details.code).toBe("E_NODE_PACK_FAILED");
  // a node type no failed pack provides is still "unknown"
  const other = { ...sd15Workflow(), "20": { class_type: "NoSuchNode", inputs: {} } };
  const unknown = (await (
    await worker.api("/v2/test/runsync?wait=20000", jsonPost({ input: { workflow: other } }))
  ).json()) as Json;
  expect(unknown.output.details.code).toBe("E_UNKNOWN_NODE");
});
