import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildComfyCommand, resolveComfyUrl } from "../../src/comfy/command.ts";
import { type ComfyHandle, createSupervisor } from "../../src/comfy/supervisor.ts";
import { loadConfig } from "../../src/config.ts";
import { cleanUpAfterEach, cleanup, freePort, goneWithin, memoryLogger, nextExit } from "./_supervisor-helpers.ts";

cleanUpAfterEach();

describe("createSupervisor with the built-in emulator", () => {
  const PROMPT = {
    "1": { class_type: "EmptyImage", inputs: { width: 64, height: 64, batch_size: 1, color: 0 } },
    "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } },
  };

  async function emulator(comfyArgs: string) {
    const base = mkdtempSync(join(tmpdir(), "supervisor-emu-"));
    cleanup.dirs.push(base);
    const config = loadConfig({ env: { COMFY_PORT: String(await freePort()), COMFY_ARGS: comfyArgs } });
    const command = buildComfyCommand(config, { emulate: { baseDir: base } });
    const handle = createSupervisor({
      ...command,
      url: resolveComfyUrl(config),
      logLines: 200,
      readyTimeoutMs: 10_000,
      healthIntervalMs: 200,
      healthTimeoutMs: 500,
      maxRestarts: 3,
      backoffInitialMs: 100,
      log: memoryLogger(),
    });
    cleanup.handles.push(handle);
    await handle.start();
    return handle;
  }

  async function queuePrompt(handle: ComfyHandle) {
    const res = await fetch(`${handle.url}/prompt`, { method: "POST", body: JSON.stringify({ prompt: PROMPT }) });
    expect(res.status).toBe(200);
  }

  test("a crash mid-prompt is reported with the traceback and the emulator comes back", async () => {
    const handle = await emulator("--exit-after 1 --startup-delay-ms 100");
    expect(handle.logs()).toContain("WARNING: this is the comfy-worker ComfyUI EMULATOR, NOT ComfyUI.");
    const exited = nextExit(handle);
    await queuePrompt(handle);
    const exit = await exited;
    expect(exit).toMatchObject({ reason: "exit", code: 1 });
    expect(exit.lastLines).toContain("Traceback (most recent call last):");
    await handle.waitReady(AbortSignal.timeout(8000));
    expect(handle.generation).toBe(2);
  });

  test("a hang mid-prompt is detected and the emulator's group is killed", async () => {
    const handle = await emulator("--hang-after 1");
    const pid = handle.pid as number;
    const exited = nextExit(handle);
    await queuePrompt(handle);
    const exit = await exited;
    expect(exit.reason).toBe("hang");
    expect(await goneWithin(pid, 1000)).toBe(true);
  });
});
