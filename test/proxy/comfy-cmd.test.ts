import { expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../helpers/emulator.ts";
import { spawnProxy } from "./_stack.ts";

const ROOT = join(import.meta.dir, "../..");

test("--comfy-cmd starts the local ComfyUI, serves its UI through the proxy and stops it on SIGTERM", async () => {
  const base = mkdtempSync(join(tmpdir(), "cw-proxy-cmd-"));
  const port = await freePort();
  const cmd = `${process.execPath} ${join(ROOT, "src/main.ts")} emulate --port ${port} --base ${base}`;
  // the endpoint is never asked: nothing is queued here
  const proxy = await spawnProxy("", "http://127.0.0.1:9/v2/unused", ["--comfy-cmd", cmd]).catch((e) => {
    rmSync(base, { recursive: true, force: true });
    throw e;
  });
  try {
    expect(proxy.output()).toContain(`ComfyUI at http://127.0.0.1:${port}`);
    const stats = await fetch(`${proxy.url}/api/system_stats`, { signal: AbortSignal.timeout(5000) });
    expect(stats.status).toBe(200);
    expect(((await stats.json()) as { system: { comfyui_version: string } }).system.comfyui_version).toContain(
      "emulator",
    );
  } finally {
    await proxy.stop();
    rmSync(base, { recursive: true, force: true });
  }
  const after = await fetch(`http://127.0.0.1:${port}/system_stats`).catch(() => undefined);
  expect(after).toBe(undefined);
}, 60_000);
