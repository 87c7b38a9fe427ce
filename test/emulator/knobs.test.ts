import { afterEach, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  addModel,
  connectWs,
  postPrompt,
  type SpawnedEmulator,
  sd15Workflow,
  spawnEmulator,
  waitForHistory,
  waitForReady,
} from "../helpers/emulator.ts";

let running: SpawnedEmulator[] = [];

afterEach(async () => {
  await Promise.all(running.map((emu) => emu.stop(1000)));
  running = [];
});

async function start(args: string[], noWait = false): Promise<SpawnedEmulator> {
  const emu = await spawnEmulator({ args, noWait });
  running.push(emu);
  await addModel(emu.base, "checkpoints", "dreamshaper_8.safetensors");
  return emu;
}

function workflow(seed: number) {
  const w = sd15Workflow();
  w["3"].inputs.seed = seed;
  return w;
}

describe("fault knobs", () => {
  test("--startup-delay-ms prints the startup lines but does not listen before the delay", async () => {
    const started = performance.now();
    const emu = await start(["--startup-delay-ms", "1500"], true);
    await emu.waitForLog("ComfyUI version:");
    const early = await fetch(`${emu.url}/system_stats`, { signal: AbortSignal.timeout(300) }).catch((e: Error) => e);
    expect(early).toBeInstanceOf(Error);
    await waitForReady(emu.url, 10_000, emu.proc);
    expect(performance.now() - started).toBeGreaterThanOrEqual(1400);
    const log = emu.stderr();
    expect(log.indexOf("NOT ComfyUI")).toBeLessThan(log.indexOf("ComfyUI version:"));
    expect(log.indexOf("Starting server")).toBeLessThan(log.indexOf("To see the GUI go to: http://127.0.0.1:"));
  });

  test("--exit-after N dies with a Python traceback and exit code 1 while executing the Nth prompt", async () => {
    const emu = await start(["--exit-after", "2", "--node-ms", "60"]);
    const ws = await connectWs(emu.url, "crash");
    const first = await postPrompt(emu.url, { prompt: workflow(1), client_id: "crash" });
    expect((await waitForHistory(emu.url, first.body.prompt_id)).status.status_str).toBe("success");
    const second = await postPrompt(emu.url, { prompt: workflow(2), client_id: "crash" });
    expect(second.status).toBe(200);
    const code = await Promise.race([emu.proc.exited, Bun.sleep(5000).then(() => "timeout")]);
    expect(code).toBe(1);
    await emu.stop(100);
    expect(emu.stderr()).toContain("Traceback (most recent call last):");
    expect(emu.stderr()).toMatch(/RuntimeError: CUDA error/);
    // it died mid-prompt: started, some node executing, never finished
    expect(ws.messages.some((m) => m.type === "execution_start" && m.data.prompt_id === second.body.prompt_id)).toBe(
      true,
    );
    expect(ws.messages.some((m) => m.type === "executing" && m.data.prompt_id === second.body.prompt_id)).toBe(true);
    expect(ws.messages.some((m) => m.type === "execution_success" && m.data.prompt_id === second.body.prompt_id)).toBe(
      false,
    );
  });

  test("--hang-after N stops answering HTTP and websockets while the process stays alive", async () => {
    const emu = await start(["--hang-after", "1", "--node-ms", "60"]);
    const ws = await connectWs(emu.url, "hang");
    const { status, body } = await postPrompt(emu.url, { prompt: workflow(3), client_id: "hang" });
    expect(status).toBe(200);
    await ws.next((m) => m.type === "executing" && m.data.prompt_id === body.prompt_id);
    await emu.waitForLog("--hang-after");
    const probe = await fetch(`${emu.url}/system_stats`, { signal: AbortSignal.timeout(500) }).catch((e: Error) => e);
    expect(probe).toBeInstanceOf(Error);
    expect((probe as Error).name).toBe("TimeoutError");
    const count = ws.messages.length;
    await Bun.sleep(300);
    expect(ws.messages.length).toBe(count);
    expect(emu.proc.exitCode).toBeNull();
    ws.close();
  });

  test("--fail-node TYPE raises in that node: execution_error with the full field set, logged like ComfyUI", async () => {
    const emu = await start(["--fail-node", "KSampler"]);
    const ws = await connectWs(emu.url, "fail");
    const { body } = await postPrompt(emu.url, { prompt: workflow(4), client_id: "fail" });
    const error = await ws.next((m) => m.type === "execution_error");
    expect(Object.keys(error.data).sort()).toEqual(
      [
        "current_inputs",
        "current_outputs",
        "exception_message",
        "exception_type",
        "executed",
        "node_id",
        "node_type",
        "prompt_id",
        "timestamp",
        "traceback",
      ].sort(),
    );
    expect(error.data).toMatchObject({
      prompt_id: body.prompt_id,
      node_id: "3",
      node_type: "KSampler",
      exception_type: "RuntimeError",
    });
    expect((error.data.executed as string[]).sort()).toEqual(["4", "5", "6", "7"]);
    expect(error.data.exception_message).toContain("KSampler");
    expect((error.data.traceback as string[])[0]).toMatch(/^ {2}File ".*", line \d+, in \w+\n/);
    expect((error.data.current_inputs as Record<string, unknown[]>).seed).toEqual([4]);
    await ws.next((m) => m.type === "executing" && m.data.node === null);
    const entry = await waitForHistory(emu.url, body.prompt_id);
    expect(entry.status).toMatchObject({ status_str: "error", completed: false });
    expect(entry.status.messages.at(-1)[0]).toBe("execution_error");
    expect(emu.stderr()).toContain("!!! Exception during processing !!!");
    expect(emu.stderr()).toContain("Traceback (most recent call last):");
    ws.close();
  });

  test("--drop-ws-ms N closes every websocket mid-prompt while execution completes", async () => {
    const emu = await start(["--drop-ws-ms", "150", "--node-ms", "100"]);
    const ws = await connectWs(emu.url, "drop");
    const { body } = await postPrompt(emu.url, { prompt: workflow(5), client_id: "drop" });
    const closed = await Promise.race([ws.closed, Bun.sleep(3000).then(() => undefined)]);
    expect(closed).toBeDefined();
    expect(await fetch(`${emu.url}/history/${body.prompt_id}`).then((r) => r.json())).toEqual({});
    const entry = await waitForHistory(emu.url, body.prompt_id);
    expect(entry.status.status_str).toBe("success");
    expect(ws.messages.some((m) => m.type === "execution_success")).toBe(false);
  });

  test("--log-burst N prints N extra lines at startup and N per prompt", async () => {
    const emu = await start(["--log-burst", "7"]);
    expect(emu.stderr().match(/^\[log-burst startup \d+\/7\]/gm)).toHaveLength(7);
    const { body } = await postPrompt(emu.url, { prompt: workflow(6) });
    await waitForHistory(emu.url, body.prompt_id);
    expect(emu.stderr().match(/^\[log-burst prompt \d+\/7\]/gm)).toHaveLength(7);
  });

  test("--previews sends binary preview frames: type 4 with metadata after the handshake, legacy type 1 otherwise", async () => {
    const emu = await start(["--previews"]);
    const modern = await connectWs(emu.url, "modern", { featureFlags: { supports_preview_metadata: true } });
    await modern.next((m) => m.type === "feature_flags");
    const first = await postPrompt(emu.url, { prompt: workflow(7), client_id: "modern" });
    await modern.next(
      (m) => m.type === "executing" && m.data.node === null && m.data.prompt_id === first.body.prompt_id,
    );
    expect(modern.binary).toHaveLength(20);
    const frame = modern.binary[0] ?? new Uint8Array(12);
    const view = new DataView(frame.buffer, frame.byteOffset);
    expect(view.getUint32(0)).toBe(4);
    const length = view.getUint32(4);
    const meta = JSON.parse(new TextDecoder().decode(frame.subarray(8, 8 + length)));
    expect(meta).toMatchObject({
      node_id: "3",
      prompt_id: first.body.prompt_id,
      image_type: "image/png",
      display_node_id: "3",
    });
    expect([...frame.subarray(8 + length, 12 + length)]).toEqual([137, 80, 78, 71]);

    const legacy = await connectWs(emu.url, "legacy");
    const second = await postPrompt(emu.url, { prompt: workflow(8), client_id: "legacy" });
    await legacy.next(
      (m) => m.type === "executing" && m.data.node === null && m.data.prompt_id === second.body.prompt_id,
    );
    const old = legacy.binary[0] ?? new Uint8Array(12);
    const oldView = new DataView(old.buffer, old.byteOffset);
    expect([oldView.getUint32(0), oldView.getUint32(4)]).toEqual([1, 2]);
    expect([...old.subarray(8, 12)]).toEqual([137, 80, 78, 71]);
    expect(modern.binary).toHaveLength(20);
    modern.close();
    legacy.close();
  });

  test("accepts main.py's flags (--listen, --disable-auto-launch, repeated --extra-model-paths-config) and stops on SIGTERM with 0", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cw-emu-yaml-"));
    const yaml = join(dir, "extra_model_paths.yaml");
    await Bun.write(
      yaml,
      "shared:\n  base_path: store\n  is_default: true\n  checkpoints: |\n    ckpts\n    more\n  unet: unets\n",
    );
    await Bun.write(join(dir, "other.yaml"), "other:\n  loras: /nonexistent/loras\n");
    await Bun.write(join(dir, "store", "more", "extra.safetensors"), "x");
    await Bun.write(join(dir, "store", "unets", "flux.safetensors"), "x");
    const emu = await start([
      "--listen",
      "127.0.0.1",
      "--disable-auto-launch",
      "--extra-model-paths-config",
      yaml,
      join(dir, "other.yaml"),
    ]);
    expect(emu.stderr()).toContain(`Adding extra search path checkpoints ${join(dir, "store", "ckpts")}`);
    expect(emu.stderr()).toContain("Adding extra search path loras /nonexistent/loras");
    const checkpoints = await (await fetch(`${emu.url}/models/checkpoints`)).json();
    expect(checkpoints).toEqual(["dreamshaper_8.safetensors", "extra.safetensors"]);
    expect(await (await fetch(`${emu.url}/models/diffusion_models`)).json()).toEqual(["flux.safetensors"]);
    expect(await emu.stop(3000)).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
