import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigSchema, loadConfig } from "../src/config.ts";
import { EXIT_CODES, type WorkerError } from "../src/errors.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-config-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function yamlFile(text: string): string {
  const file = join(dir, `${Math.random().toString(36).slice(2)}.yaml`);
  writeFileSync(file, text);
  return file;
}

function configError(run: () => unknown): WorkerError {
  try {
    run();
  } catch (error) {
    return error as WorkerError;
  }
  throw new Error("expected loadConfig to throw");
}

describe("loadConfig", () => {
  test("applies SPEC §3 defaults when nothing is set", () => {
    const config = loadConfig({ env: {} });
    expect(config).toMatchObject({
      COMFY_DIR: "/comfyui",
      COMFY_PYTHON: "python3",
      COMFY_HOST: "127.0.0.1",
      COMFY_PORT: 8188,
      COMFY_READY_TIMEOUT_S: 300,
      COMFY_LOG_LINES: 500,
      COMFY_MAX_RESTARTS: 5,
      WEIGHTS_MODE: "fail",
      DOWNLOAD_CONCURRENCY: 4,
      DOWNLOAD_CONNECTIONS: 8,
      DOWNLOAD_ALLOW_HOSTS: ["huggingface.co", "civitai.com"],
      SERVE_MODE: "auto",
      PORT: 8000,
      CONCURRENCY: 1,
      JOB_TIMEOUT_S: 0,
      REFRESH_WORKER: false,
      OUTPUT_INLINE_MAX_MB: 15,
      RESULT_TTL_S: 1800,
      LOG_FORMAT: "auto",
    });
    expect(config.COMFY_URL).toBeUndefined();
  });

  test("covers every variable of SPEC §3", async () => {
    const spec = await Bun.file(join(import.meta.dir, "../../shared/SPEC.md")).text();
    const section = spec.slice(spec.indexOf("## 3. Configuration"), spec.indexOf("## 4. Commands"));
    const names = [...section.matchAll(/`([A-Z][A-Z0-9_]+)`/g)].map((m) => m[1] as string);
    const known = new Set([
      ...Object.keys(ConfigSchema.shape),
      "HUGGING_FACE_HUB_TOKEN",
      "HF_API_TOKEN",
      "CIVITAI_API_TOKEN",
    ]);
    const missing = names.filter((name) => !known.has(name) && !name.startsWith("RUNPOD_WEBHOOK_"));
    expect(missing).toEqual([]);
    expect(names.length).toBeGreaterThan(35);
  });

  test("takes flag over env over file over default", () => {
    const file = yamlFile("PORT: 7000\nCOMFY_PORT: 7001\nconcurrency: 3\n");
    const config = loadConfig({ env: { PORT: "7100", COMFY_PORT: "7101" }, file, flags: { PORT: 7200 } });
    expect(config.PORT).toBe(7200);
    expect(config.COMFY_PORT).toBe(7101);
    expect(config.CONCURRENCY).toBe(3);
  });

  test("coerces YAML booleans, numbers and lists", () => {
    const file = yamlFile("REFRESH_WORKER: true\nDOWNLOAD_ALLOW_HOSTS: [a.example, b.example]\nJOB_TIMEOUT_S: 2.5\n");
    const config = loadConfig({ env: {}, file });
    expect(config.REFRESH_WORKER).toBe(true);
    expect(config.DOWNLOAD_ALLOW_HOSTS).toEqual(["a.example", "b.example"]);
    expect(config.JOB_TIMEOUT_S).toBe(2.5);
  });

  test("reads the alternative token variable names", () => {
    expect(loadConfig({ env: { HUGGING_FACE_HUB_TOKEN: "hf_one" } }).HF_TOKEN).toBe("hf_one");
    expect(loadConfig({ env: { HF_API_TOKEN: "hf_two" } }).HF_TOKEN).toBe("hf_two");
    expect(loadConfig({ env: { HF_TOKEN: "hf_main", HF_API_TOKEN: "hf_two" } }).HF_TOKEN).toBe("hf_main");
    expect(loadConfig({ env: { CIVITAI_API_TOKEN: "civ" } }).CIVITAI_TOKEN).toBe("civ");
  });

  test("treats empty environment values as unset", () => {
    expect(loadConfig({ env: { PORT: "", COMFY_URL: "" } }).PORT).toBe(8000);
  });

  test("names every bad key, its source and what it accepts in one error", () => {
    const file = yamlFile("CONCURRENCY: zero\nNOT_A_SETTING: 1\n");
    const error = configError(() =>
      loadConfig({
        env: { COMFY_PORT: "99999", WEIGHTS_MODE: "maybe", REFRESH_WORKER: "perhaps" },
        file,
        flags: { PORT: "x" },
      }),
    );
    expect(error.code).toBe("E_CONFIG");
    expect(EXIT_CODES[error.code]).toBe(2);
    for (const key of [
      "COMFY_PORT (env)",
      "WEIGHTS_MODE (env)",
      "REFRESH_WORKER (env)",
      "PORT (flag)",
      "NOT_A_SETTING",
    ]) {
      expect(error.message).toContain(key);
    }
    expect(error.message).toContain(`CONCURRENCY (--config ${file})`);
    expect(error.message).toContain('WEIGHTS_MODE (env) must be one of "fail", "download", "skip", not "maybe"');
    expect(error.message).toContain("COMFY_PORT (env) must be at most 65535, not 99999");
    expect(error.message).not.toMatch(/Invalid input|received/);
    expect(error.details.problems).toHaveLength(6);
  });

  test("reports an unreadable or malformed --config file", () => {
    expect(configError(() => loadConfig({ env: {}, file: join(dir, "nope.yaml") })).message).toContain("cannot read");
    expect(configError(() => loadConfig({ env: {}, file: yamlFile("a: [\n") })).message).toContain("invalid YAML");
    expect(configError(() => loadConfig({ env: {}, file: yamlFile("- a\n- b\n") })).message).toContain("got a list");
  });

  test("registers secret values with the redactor", () => {
    const config = loadConfig({ env: { HF_TOKEN: "hf_tokenvalue", BUCKET_SECRET_ACCESS_KEY: "s3-secret-value" } });
    expect(config.redactor.text("a hf_tokenvalue b s3-secret-value")).toBe("a *** b ***");
  });
});
