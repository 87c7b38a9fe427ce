import { afterEach, beforeEach, expect, test } from "bun:test";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { freePort, sd15Workflow } from "../helpers/emulator.ts";
import { type FakeRunpod, startFakeRunpod } from "../helpers/fake-runpod.ts";
import { MODELS_DIR } from "../helpers/worker.ts";
import { within } from "./_helpers.ts";

const ROOT = join(import.meta.dir, "../..");
let fake: FakeRunpod;
let proc: Subprocess<"ignore", "pipe", "pipe"> | undefined;
let output = "";

beforeEach(() => {
  fake = startFakeRunpod({ holdMs: 1_000 });
  output = "";
});
afterEach(async () => {
  if (proc && proc.exitCode === null) {
    proc.kill("SIGKILL");
    await proc.exited;
  }
  proc = undefined;
  await fake.close();
});

/** `bun src/main.ts serve --emulate --mode runpod` as a real process, with RunPod's env pointing at the fake. */
async function serve(env: Record<string, string> = {}) {
  proc = Bun.spawn([process.execPath, "src/main.ts", "serve", "--emulate", "--mode", "runpod"], {
    cwd: ROOT,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: {
      PATH: process.env.PATH ?? "",
      HOME: process.env.HOME ?? "/tmp",
      PORT: String(await freePort()),
      COMFY_PORT: String(await freePort()),
      EXTRA_MODEL_PATHS: join(MODELS_DIR, "extra_model_paths.yaml"),
      RUNPOD_PING_INTERVAL: "1000",
      LOG_FORMAT: "json",
      ...fake.env(),
      ...env,
    },
  });
  const decoder = new TextDecoder();
  for (const stream of [proc.stdout, proc.stderr])
    void (async () => {
      for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
    })();
  return proc;
}

test("SIGTERM mid-job: no more takes, the running job finishes and is reported, exit 0", async () => {
  const worker = await serve({ COMFY_ARGS: "--node-ms 300", SHUTDOWN_GRACE_S: "30" });
  fake.enqueue({ id: "term-1", input: { workflow: sd15Workflow(), overrides: { "3.seed": 21 } } });
  await fake.waitFor(() => fake.progress("term-1").length > 0, "the job running", 30_000);
  const signaledAt = Date.now();
  worker.kill("SIGTERM");
  expect(await within(worker.exited, 30_000, "the worker to exit")).toBe(0);
  const results = fake.accepted("term-1");
  expect(results).toHaveLength(1);
  expect(results[0]?.json.output.images).toHaveLength(1);
  expect(results[0]?.at).toBeGreaterThan(signaledAt);
  // the long poll in flight is abandoned and no new take starts after the signal
  expect(fake.of("take").filter((r) => r.at > signaledAt)).toHaveLength(0);
  expect(output).toContain("SIGTERM: taking no more jobs");
  expect(output).not.toContain(fake.apiKey);
}, 60_000);

test("REFRESH_WORKER: the job is reported with stopPod and the process exits 0 by itself", async () => {
  const worker = await serve({ REFRESH_WORKER: "true", COMFY_ARGS: "--node-ms 20" });
  fake.enqueue(
    { id: "refresh-1", input: { workflow: sd15Workflow(), overrides: { "3.seed": 31 } } },
    { id: "refresh-2", input: { workflow: sd15Workflow(), overrides: { "3.seed": 32 } } },
  );
  expect(await within(worker.exited, 30_000, "the worker to exit")).toBe(0);
  expect(fake.accepted("refresh-1")[0]?.json).toMatchObject({
    stopPod: true,
    output: { images: [expect.any(Object)] },
  });
  expect(fake.of("take")).toHaveLength(1);
  expect(fake.results("refresh-2")).toHaveLength(0);
}, 60_000);
