import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort } from "./emulator.ts";

const ROOT = join(import.meta.dir, "../..");
const READY_WAIT_MS = 30_000;

/** `serve --mode api --emulate` from source in its own process, as an endpoint for `run --endpoint`. */
export interface ServeProcess {
  /** Its RunPod-style base, `http://127.0.0.1:PORT/v2/local`. */
  endpoint: string;
  stop(): Promise<void>;
}

/** Starts it with `env` over a quiet default (HOME = `home`) and waits until /ready answers 200. */
export async function startServeProcess(home: string, env: Record<string, string> = {}): Promise<ServeProcess> {
  const port = await freePort();
  const serve: Subprocess = Bun.spawn(
    [process.execPath, join(ROOT, "src/main.ts"), "serve", "--mode", "api", "--emulate", "--port", String(port)],
    {
      cwd: ROOT,
      env: {
        PATH: process.env.PATH ?? "",
        HOME: home,
        COMFY_PORT: String(await freePort()),
        LOG_LEVEL: "error",
        ...env,
      },
      stdout: "ignore",
      stderr: "ignore",
    },
  );
  const stop = async () => {
    serve.kill("SIGTERM");
    await Promise.race([serve.exited, Bun.sleep(10_000)]);
  };
  const deadline = Date.now() + READY_WAIT_MS;
  while (Date.now() < deadline) {
    if ((await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200)
      return { endpoint: `http://127.0.0.1:${port}/v2/local`, stop };
    if (serve.exitCode !== null) break;
    await Bun.sleep(100);
  }
  await stop();
  throw new Error(`serve did not become ready within ${READY_WAIT_MS / 1000} s (exit ${serve.exitCode})`);
}
