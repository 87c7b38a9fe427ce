import { expect, test } from "bun:test";
import { join } from "node:path";
import { runCliCaptured } from "../helpers/cli.ts";
import { useEmulator } from "../helpers/emulator.ts";

const emulator = useEmulator();
const EXAMPLE = join(import.meta.dir, "../../examples/sd15-txt2img.json");

test("attached to a ComfyUI (COMFY_URL), a missing weight names the folder ComfyUI reports, never a URL", async () => {
  const { code, stderr } = await runCliCaptured(["run", EXAMPLE, "--comfy-url", emulator.url, "--out", "/dev/null"]);
  expect(code).toBe(3);
  expect(stderr).toContain(`put it in ${join(emulator.base, "models", "checkpoints")}`);
  expect(stderr).not.toContain("http://");
});

test("the emulator answers /experiment/models as ComfyUI does: folder keys and their paths, minus configs", async () => {
  const folders = (await emulator.json("/experiment/models")) as unknown as { name: string; folders: string[] }[];
  const byName = new Map(folders.map((f) => [f.name, f.folders]));
  // a real 0.28.2 lists <output>/checkpoints too (main.py adds it for CheckpointSave)
  expect(byName.get("checkpoints")).toEqual([
    join(emulator.base, "models", "checkpoints"),
    join(emulator.base, "output", "checkpoints"),
  ]);
  expect(byName.has("configs")).toBe(false);
  expect(byName.has("custom_nodes")).toBe(false);
});
