import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import {
  buildComfyCommand,
  isCompiledBinary,
  resolveComfyUrl,
  selfCommand,
  splitArgs,
} from "../../src/comfy/command.ts";
import { loadConfig } from "../../src/config.ts";
import { configError } from "../helpers/errors.ts";

const MAIN_TS = resolve(import.meta.dir, "../../src/main.ts");

function config(env: Record<string, string> = {}) {
  return loadConfig({ env });
}

describe("splitArgs", () => {
  test("splits on any whitespace and drops empty runs", () => {
    expect(splitArgs("  python3\tmain.py \n --port  8188 ")).toEqual(["python3", "main.py", "--port", "8188"]);
    expect(splitArgs("")).toEqual([]);
  });

  test("honours single quotes, double quotes and backslashes like sh, with no expansion", () => {
    expect(splitArgs(`a 'b c' "d e" f\\ g`)).toEqual(["a", "b c", "d e", "f g"]);
    expect(splitArgs(`--x='$HOME "q"' --y="it's \\"ok\\" \\$5 \\n"`)).toEqual([
      `--x=$HOME "q"`,
      `--y=it's "ok" $5 \\n`,
    ]);
    expect(splitArgs(`'' "" x`)).toEqual(["", "", "x"]);
    expect(splitArgs(`pre"mid"'dle'post ~/* $VAR`)).toEqual(["premiddlepost", "~/*", "$VAR"]);
    expect(splitArgs("a \\\n b")).toEqual(["a", "b"]);
  });

  test("rejects unbalanced quotes and a trailing backslash with E_CONFIG, without echoing the value", () => {
    expect(configError(() => splitArgs(`--token 'secret-value`, "COMFY_ARGS"))).toContain(
      "COMFY_ARGS has an unclosed single quote",
    );
    expect(configError(() => splitArgs(`a "b`, "COMFY_CMD"))).toContain("unclosed double quote");
    expect(configError(() => splitArgs("a b\\"))).toContain("trailing backslash");
    expect(configError(() => splitArgs(`--token 'secret-value`))).not.toContain("secret-value");
  });
});

describe("buildComfyCommand", () => {
  test("defaults to COMFY_PYTHON COMFY_DIR/main.py with listen, port, extra model paths and COMFY_ARGS", () => {
    const cmd = buildComfyCommand(
      config({
        COMFY_DIR: "/opt/ComfyUI",
        COMFY_PYTHON: "/venv/bin/python",
        COMFY_HOST: "0.0.0.0",
        COMFY_PORT: "8190",
        EXTRA_MODEL_PATHS: "/a/extra.yaml, /b/more paths.yaml",
        COMFY_ARGS: `--highvram --output-directory "/out dir"`,
      }),
    );
    expect(cmd.argv).toEqual([
      "/venv/bin/python",
      "/opt/ComfyUI/main.py",
      "--listen",
      "0.0.0.0",
      "--port",
      "8190",
      "--disable-auto-launch",
      "--extra-model-paths-config",
      "/a/extra.yaml",
      "--extra-model-paths-config",
      "/b/more paths.yaml",
      "--highvram",
      "--output-directory",
      "/out dir",
    ]);
    expect(cmd.cwd).toBe("/opt/ComfyUI");
    expect(cmd.env).toEqual({ PYTHONUNBUFFERED: "1" });
  });

  test("uses the documented defaults when nothing is set", () => {
    expect(buildComfyCommand(config()).argv).toEqual([
      "python3",
      "/comfyui/main.py",
      "--listen",
      "127.0.0.1",
      "--port",
      "8188",
      "--disable-auto-launch",
    ]);
  });

  test("runs COMFY_CMD as given (quotes respected, no shell) with COMFY_ARGS appended", () => {
    const cmd = buildComfyCommand(
      config({
        COMFY_CMD: `comfy --workspace "/opt/my comfy" launch -- --listen 127.0.0.1 --port 8188`,
        COMFY_ARGS: "--lowvram",
        EXTRA_MODEL_PATHS: "/ignored.yaml",
      }),
    );
    expect(cmd.argv).toEqual([
      "comfy",
      "--workspace",
      "/opt/my comfy",
      "launch",
      "--",
      "--listen",
      "127.0.0.1",
      "--port",
      "8188",
      "--lowvram",
    ]);
    expect(cmd.cwd).toBeUndefined();
  });

  test("reports a badly quoted COMFY_CMD or COMFY_ARGS as a configuration error", () => {
    expect(configError(() => buildComfyCommand(config({ COMFY_CMD: `python "main.py` })))).toContain("COMFY_CMD");
    expect(configError(() => buildComfyCommand(config({ COMFY_ARGS: `--x 'y` })))).toContain("COMFY_ARGS");
  });

  test("runs this program's emulate command with --emulate, host, port, base and COMFY_ARGS", () => {
    const cmd = buildComfyCommand(
      config({
        COMFY_PORT: "9001",
        COMFY_ARGS: "--startup-delay-ms 50",
        COMFY_CMD: "ignored",
        EXTRA_MODEL_PATHS: "/m/a.yaml",
      }),
      {
        emulate: { baseDir: "/tmp/emu" },
      },
    );
    // tests run from source: bun + src/main.ts; a compiled binary runs itself
    expect(isCompiledBinary()).toBe(false);
    expect(cmd.argv).toEqual([
      process.execPath,
      MAIN_TS,
      "emulate",
      "--listen",
      "127.0.0.1",
      "--port",
      "9001",
      "--base",
      "/tmp/emu",
      "--extra-model-paths-config",
      "/m/a.yaml",
      "--startup-delay-ms",
      "50",
    ]);
    expect(selfCommand()).toEqual([process.execPath, MAIN_TS]);
  });
});

describe("resolveComfyUrl", () => {
  test("probes wildcard and multi-address listens on loopback, brackets IPv6, prefers COMFY_URL", () => {
    expect(resolveComfyUrl(config())).toBe("http://127.0.0.1:8188");
    expect(resolveComfyUrl(config({ COMFY_HOST: "0.0.0.0,::", COMFY_PORT: "9000" }))).toBe("http://127.0.0.1:9000");
    expect(resolveComfyUrl(config({ COMFY_HOST: "::" }))).toBe("http://[::1]:8188");
    expect(resolveComfyUrl(config({ COMFY_HOST: "10.0.0.5" }))).toBe("http://10.0.0.5:8188");
    expect(resolveComfyUrl(config({ COMFY_URL: "https://comfy.example:8443/" }))).toBe("https://comfy.example:8443");
  });
});

test("a compiled binary runs itself for `emulate`, without a script path", async () => {
  const dir = mkdtempSync(join(tmpdir(), "self-command-"));
  const out = join(dir, "probe");
  const entry = join(import.meta.dir, "../../src/comfy/command.ts");
  const script = `import { isCompiledBinary, selfCommand } from ${JSON.stringify(entry)};
console.log(JSON.stringify({ compiled: isCompiledBinary(), argv: selfCommand() }));`;
  const source = `${out}.ts`;
  await Bun.write(source, script);
  try {
    const build = Bun.spawnSync([process.execPath, "build", source, "--compile", "--outfile", out], { stderr: "pipe" });
    expect(build.exitCode).toBe(0);
    const run = Bun.spawnSync([out], { stdout: "pipe" });
    expect(JSON.parse(run.stdout.toString())).toEqual({ compiled: true, argv: [out] });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}, 30_000);
