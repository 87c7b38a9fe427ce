/**
 * The proxy's test stack, every part a real process on loopback: a local ComfyUI (the emulator), an endpoint
 * (`serve --mode api --emulate`, RunPod's public API over its own supervised emulator) and `proxy` between them.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "../helpers/emulator.ts";

const ROOT = join(import.meta.dir, "../..");
const READY_TIMEOUT_MS = 30_000;

/** A spawned `bun src/main.ts …` with its stderr collected. */
export interface Proc {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  output(): string;
  stop(): Promise<void>;
}

function _spawn(argv: string[], env: Record<string, string> = {}, cleanup: string[] = []): Proc {
  const proc = Bun.spawn([process.execPath, "src/main.ts", ...argv], {
    cwd: ROOT,
    env: { ...process.env, LOG_LEVEL: "info", LOG_FORMAT: "json", ...env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let text = "";
  const decoder = new TextDecoder();
  const drain = (stream: ReadableStream<Uint8Array>) =>
    (async () => {
      for await (const chunk of stream) text += decoder.decode(chunk, { stream: true });
    })();
  const drains = [drain(proc.stdout), drain(proc.stderr)];
  return {
    proc,
    output: () => text,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const ended = await Promise.race([proc.exited, Bun.sleep(8000).then(() => "timeout" as const)]);
      if (ended === "timeout") proc.kill("SIGKILL");
      await Promise.all(drains).catch(() => {});
      for (const dir of cleanup) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function _until(check: () => Promise<boolean> | boolean, what: string, proc: Proc): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (proc.proc.exitCode !== null) throw new Error(`${what}: exited ${proc.proc.exitCode}\n${proc.output()}`);
    if (await check()) return;
    await Bun.sleep(100);
  }
  await proc.stop();
  throw new Error(`timed out waiting for ${what}\n${proc.output()}`);
}

/** `serve --mode api --emulate` with a checkpoint in its models; `comfyArgs` are emulator knobs. */
export async function spawnEndpoint(comfyArgs = ""): Promise<Proc & { url: string; base: string }> {
  const models = mkdtempSync(join(tmpdir(), "cw-proxy-endpoint-"));
  await Bun.write(join(models, "checkpoints", "v1-5-pruned-emaonly.safetensors"), "placeholder weights");
  const yaml = join(models, "extra_model_paths.yaml");
  await Bun.write(yaml, `test:\n  base_path: ${models}\n  checkpoints: checkpoints\n`);
  const port = await freePort();
  const proc = _spawn(
    ["serve", "--mode", "api", "--emulate"],
    {
      PORT: String(port),
      COMFY_PORT: String(await freePort()),
      EXTRA_MODEL_PATHS: yaml,
      COMFY_ARGS: comfyArgs,
      COMFY_READY_TIMEOUT_S: "30",
      LOG_LEVEL: "warn",
    },
    [models],
  );
  const base = `http://127.0.0.1:${port}`;
  await _until(
    async () => (await fetch(`${base}/ready`).catch(() => undefined))?.status === 200,
    "the endpoint's /ready",
    proc,
  );
  return Object.assign(proc, { url: `${base}/v2/local`, base });
}

/** `proxy` on a free port in front of `comfyUrl` (none: `extra` has --comfy-cmd), sending prompts to `endpoint`; resolves once it listens. */
export async function spawnProxy(
  comfyUrl: string,
  endpoint: string,
  extra: string[] = [],
): Promise<Proc & { url: string; out: string; jobIds(): string[] }> {
  const out = mkdtempSync(join(tmpdir(), "cw-proxy-out-"));
  const comfy = comfyUrl ? ["--comfy-url", comfyUrl] : [];
  const argv = ["proxy", "--listen", "127.0.0.1:0", ...comfy, "--endpoint", endpoint, "--out", out];
  const proc = _spawn([...argv, ...extra], {}, [out]);
  let url = "";
  await _until(
    () => {
      url = /listening on (http:\/\/[^\s]+)/.exec(proc.output())?.[1] ?? "";
      return url !== "";
    },
    "the proxy's start-up line",
    proc,
  );
  const jobIds = () => [...proc.output().matchAll(/→ remote job ([\w-]+)/g)].map((m) => m[1] as string);
  return Object.assign(proc, { url, out, jobIds });
}
