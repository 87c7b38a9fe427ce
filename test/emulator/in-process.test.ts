import { expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runEmulator } from "../../src/emulator/server.ts";
import { addModel, postPrompt, sd15Workflow, waitForHistory } from "../helpers/emulator.ts";

test("runEmulator starts in-process on port 0, creates its dirs, logs the warning first and stops", async () => {
  const base = join(mkdtempSync(join(tmpdir(), "cw-emu-inproc-")), "nested");
  const lines: string[] = [];
  const handle = await runEmulator({ baseDir: base, port: 0, nodeMs: 1 }, { write: (text) => void lines.push(text) });
  try {
    expect(handle.port).toBeGreaterThan(0);
    expect(handle.url).toBe(`http://127.0.0.1:${handle.port}`);
    for (const dir of ["models", "input", "output", "temp"]) expect(existsSync(join(base, dir))).toBe(true);
    expect(lines[0]).toContain("NOT ComfyUI");
    expect(lines.join("")).toContain(`To see the GUI go to: http://127.0.0.1:${handle.port}`);
    const stats = (await (await fetch(`${handle.url}/system_stats`)).json()) as { system: { argv: string[] } };
    expect(stats.system.argv).toContain(String(handle.port));
  } finally {
    await handle.stop();
    rmSync(join(base, ".."), { recursive: true, force: true });
  }
  const after = await fetch(`${handle.url}/system_stats`).catch((e: Error) => e);
  expect(after).toBeInstanceOf(Error);
});

test("the exit knob goes through the injected exit, mid-prompt", async () => {
  const base = mkdtempSync(join(tmpdir(), "cw-emu-inproc-"));
  await addModel(base, "checkpoints", "dreamshaper_8.safetensors");
  const exits: number[] = [];
  const lines: string[] = [];
  const handle = await runEmulator(
    { baseDir: base, port: 0, nodeMs: 1, exitAfter: 2 },
    { write: (text) => void lines.push(text), exit: (code) => void exits.push(code) },
  );
  try {
    const first = await postPrompt(handle.url, { prompt: sd15Workflow() });
    await waitForHistory(handle.url, first.body.prompt_id);
    expect(exits).toEqual([]);
    const workflow = sd15Workflow();
    workflow["3"].inputs.seed = 99;
    await postPrompt(handle.url, { prompt: workflow });
    for (let i = 0; i < 100 && exits.length === 0; i++) await Bun.sleep(20);
    expect(exits).toEqual([1]);
    expect(lines.join("")).toContain("Traceback (most recent call last):");
  } finally {
    await handle.stop();
    rmSync(base, { recursive: true, force: true });
  }
});

test("invalid options are a usage error naming the option", async () => {
  await expect(runEmulator({ baseDir: "/tmp/x", port: 70_000 })).rejects.toThrow(/port/);
});
