import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";

const MAIN = resolve(import.meta.dir, "../../src/main.ts");

/**
 * A ComfyUI start script (for COMFY_CMD) whose start-up prints nodes.py's "Import times for custom nodes:"
 * table with `rows` (e.g. "   0.4 seconds (IMPORT FAILED): /comfyui/custom_nodes/X"), then serves the emulator
 * on `port` with `base` as its base folder. Returns the COMFY_CMD value.
 */
export async function importTableComfy(base: string, port: number, rows: string[]): Promise<string> {
  const script = join(base, "comfy.sh");
  const lines = ["Import times for custom nodes:", ...rows, ""].map((line) => `echo '${line}' >&2`);
  await writeFile(
    script,
    [...lines, `exec "${process.execPath}" "${MAIN}" emulate --port ${port} --base "${base}"`].join("\n"),
  );
  return `sh ${script}`;
}
