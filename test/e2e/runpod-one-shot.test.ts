import { beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, runBinary } from "../helpers/binary.ts";
import { freePort, sd15Workflow } from "../helpers/emulator.ts";
import { MODELS_DIR } from "../helpers/worker.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-one-shot-"));

beforeAll(async () => {
  await ensureBinary();
}, 180_000);

async function env(): Promise<Record<string, string>> {
  return { EXTRA_MODEL_PATHS: join(MODELS_DIR, "extra_model_paths.yaml"), COMFY_PORT: String(await freePort()) };
}

test("serve --test-input FILE runs one job, prints the result and exits 0", async () => {
  const file = join(dir, "ok.json");
  await Bun.write(file, JSON.stringify({ input: { workflow: sd15Workflow(), overrides: { "3.seed": 3 } } }));
  const { code, stdout, stderr } = await runBinary(["serve", "--emulate", "--test-input", file], {
    env: await env(),
    timeoutMs: 60_000,
  });
  expect(code).toBe(0);
  expect(stderr).toContain("one-shot test: job local_test COMPLETED");
  const result = JSON.parse(stdout);
  expect(result).toMatchObject({ id: "local_test", status: "COMPLETED" });
  expect(result.output.images).toHaveLength(1);
  expect(result.output.images[0]).toMatchObject({ type: "base64", mime: "image/png" });
}, 90_000);

test("a failing test input prints the failure with RunPod's error keys and output.details, and exits 1", async () => {
  const file = join(dir, "bad.json");
  const workflow = { ...sd15Workflow(), "20": { class_type: "IPAdapterAdvanced", inputs: {} } };
  await Bun.write(file, JSON.stringify({ id: "smoke-1", input: { workflow } }));
  const { code, stdout } = await runBinary(["serve", "--emulate", "--test-input", file], {
    env: await env(),
    timeoutMs: 60_000,
  });
  expect(code).toBe(1);
  const result = JSON.parse(stdout);
  expect(result).toMatchObject({ id: "smoke-1", status: "FAILED", output: { details: { code: "E_UNKNOWN_NODE" } } });
  expect(JSON.parse(result.error)).toMatchObject({ error_type: "E_UNKNOWN_NODE", worker_id: "unknown" });
}, 90_000);

test("--mode runpod without a job URL runs ./test_input.json, or says how to configure it", async () => {
  const cwd = mkdtempSync(join(tmpdir(), "cw-one-shot-cwd-"));
  const missing = await runBinary(["serve", "--emulate", "--mode", "runpod"], { env: await env(), cwd });
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain("RUNPOD_WEBHOOK_GET_JOB");
  await Bun.write(join(cwd, "test_input.json"), JSON.stringify({ input: { workflow: sd15Workflow() } }));
  const { code, stdout } = await runBinary(["serve", "--emulate", "--mode", "runpod"], {
    env: await env(),
    cwd,
    timeoutMs: 60_000,
  });
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toMatchObject({ id: "local_test", status: "COMPLETED" });
}, 90_000);
