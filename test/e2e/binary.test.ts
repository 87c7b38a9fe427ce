import { beforeAll, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { COMMAND_NAMES, type CommandName } from "../../src/cli/index.ts";
import { ensureBinary, runBinary, spawnBinary, waitForBinary } from "../helpers/binary.ts";
import { freePort } from "../helpers/emulator.ts";

// a build can take a minute on a loaded 2-core machine
beforeAll(async () => {
  await ensureBinary();
}, 300_000);

// its speed is measured by bench/startup.ts, not asserted here
test("--version prints the stamped version", async () => {
  const { code, stdout } = await runBinary(["--version"]);
  expect(code).toBe(0);
  expect(stdout.trim()).toBe(pkg.version);
});

// every command must have an e2e --help check here; adding a command without one is a type error
const HELP_MUST_MENTION: Record<CommandName, string> = {
  serve: "--emulate",
  run: "--comfy-url",
  runs: "--since",
  emulate: "--exit-after",
  check: "--verify",
  kits: "--json",
  pull: "--dry-run",
  sync: "--datacenter",
  fix: "--manifest",
  proxy: "--local-queue",
  convert: "--object-info",
};

test("--help works for the root and every command", async () => {
  const root = await runBinary(["--help"]);
  expect(root.code).toBe(0);
  for (const name of COMMAND_NAMES) {
    expect(root.stdout).toContain(name);
    const help = await runBinary([name, "--help"]);
    expect([name, help.code]).toEqual([name, 0]);
    expect(help.stdout).toContain(HELP_MUST_MENTION[name]);
    expect(help.stdout).toContain("--config");
  }
}, 120_000);

test("an unknown command is a usage error (exit 2)", async () => {
  const { code, stderr } = await runBinary(["frobnicate"]);
  expect(code).toBe(2);
  expect(stderr).toContain("frobnicate");
});

test("bad configuration exits 2 naming every bad key", async () => {
  const config = join(mkdtempSync(join(tmpdir(), "cw-e2e-")), "bad.yaml");
  await Bun.write(config, "CONCURRENCY: many\nNO_SUCH_SETTING: 1\n");
  const { code, stderr } = await runBinary(["serve", "--emulate", "--config", config, "--port", "99999"], {
    env: { COMFY_PORT: "x", WEIGHTS_MODE: "sometimes", LOG_FORMAT: "loud", HF_TOKEN: "hf_secretsecretsecret" },
  });
  expect(code).toBe(2);
  for (const key of ["COMFY_PORT", "WEIGHTS_MODE", "LOG_FORMAT", "PORT (flag)", "CONCURRENCY", "NO_SUCH_SETTING"])
    expect(stderr).toContain(key);
  expect(stderr).not.toContain("hf_secretsecretsecret");
});

test("emulate serves ComfyUI's API from the compiled binary and stops on SIGTERM", async () => {
  const port = await freePort();
  const base = mkdtempSync(join(tmpdir(), "cw-e2e-emu-"));
  const emulator = spawnBinary(["emulate", "--port", String(port), "--base", base]);
  try {
    let stats: Response | undefined;
    await waitForBinary(emulator, "emulate answering /system_stats", async () => {
      stats = await fetch(`http://127.0.0.1:${port}/system_stats`);
      return stats.ok;
    });
    expect(stats?.status).toBe(200);
    expect(
      ((await (stats as Response).json()) as { system: { comfyui_version: string } }).system.comfyui_version,
    ).toBeString();
    const info = (await (await fetch(`http://127.0.0.1:${port}/api/object_info/KSampler`)).json()) as Record<
      string,
      unknown
    >;
    expect(Object.keys(info)).toEqual(["KSampler"]);
  } finally {
    emulator.proc.kill("SIGTERM");
  }
  const { code, stderr } = await emulator.done;
  expect(code).toBe(0);
  expect(stderr).toContain("To see the GUI go to: http://127.0.0.1:");
}, 120_000);

test("serve --emulate from the binary runs a job, then drains and exits 0 on SIGTERM", async () => {
  const [port, comfyPort] = [await freePort(), await freePort()];
  const worker = spawnBinary(["serve", "--emulate", "--port", String(port)], {
    cwd: join(import.meta.dir, "../.."),
    env: {
      COMFY_PORT: String(comfyPort),
      EXTRA_MODEL_PATHS: "examples/extra_model_paths.yaml",
      LOG_FORMAT: "json",
    },
  });
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForBinary(worker, "serve --emulate ready", async () => (await fetch(`${url}/ready`)).status === 200);
    const workflow = JSON.parse(await Bun.file(join(import.meta.dir, "../../examples/sd15-txt2img.json")).text());
    const res = await fetch(`${url}/runsync`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ input: { workflow } }),
      signal: AbortSignal.timeout(100_000),
    });
    const body = (await res.json()) as { status: string; output: { images: Array<{ filename: string }> } };
    // the whole answer on failure, not just its missing status
    expect(body).toMatchObject({ status: "COMPLETED", output: { images: [{ filename: "lighthouse_00001_.png" }] } });
  } finally {
    worker.proc.kill("SIGTERM");
  }
  const { code, stdout } = await worker.done;
  expect(code).toBe(0);
  const lines = stdout
    .trim()
    .split("\n")
    .map((line) => JSON.parse(line) as { message: string; level: string });
  expect(lines.some((line) => line.message.includes("To see the GUI go to"))).toBe(true);
  expect(lines.at(-1)?.message).toBe("stopped");
}, 180_000);

test("run --emulate from the binary saves the outputs and prints timings", async () => {
  const out = mkdtempSync(join(tmpdir(), "cw-e2e-out-"));
  const { code, stdout, stderr } = await runBinary(
    [
      "run",
      "examples/sd15-txt2img.json",
      "--emulate",
      "--config",
      "examples/demo.yaml",
      "--out",
      out,
      "--set",
      '6.text="a red barn"',
      "--json",
    ],
    { env: { COMFY_PORT: String(await freePort()) }, cwd: join(import.meta.dir, "../..") },
  );
  expect([code, stderr.includes("error")]).toEqual([0, false]);
  const result = JSON.parse(stdout) as { saved: string[]; timings: { total_ms: number } };
  expect(result.saved).toEqual([join(out, "demo/lighthouse_00001_.png")]);
  expect(await Bun.file(result.saved[0] as string).bytes()).toHaveLength(Bun.file(result.saved[0] as string).size);
  expect(result.timings.total_ms).toBeGreaterThan(0);
}, 90_000);

test("a secret from the environment never reaches an error message", async () => {
  const token = "civitai-secret-0123456789abcdef";
  const { code, stderr } = await runBinary(["run", `/nonexistent/dir/${token}.json`], {
    env: { CIVITAI_TOKEN: token },
  });
  expect(code).toBe(2);
  expect(stderr).toContain("***");
  expect(stderr).not.toContain(token);
});
