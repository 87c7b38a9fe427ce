import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary, runBinary } from "../helpers/binary.ts";
import { freePort } from "../helpers/emulator.ts";

const EXAMPLE = join(import.meta.dir, "../../examples/sd15-txt2img.json");

const dir = mkdtempSync(join(tmpdir(), "cw-cli-usage-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

beforeAll(async () => {
  await ensureBinary();
}, 300_000);

test("the binary: a misspelt flag is exit 2 with one line and a did-you-mean; nothing starts", async () => {
  const { code, stdout, stderr } = await runBinary(["run", EXAMPLE, "--emulat"], {
    env: { COMFY_DIR: "/nonexistent" },
  });
  expect(code).toBe(2);
  expect(stdout).toBe("");
  expect(stderr).toBe("error: unknown option --emulat (did you mean --emulate?); see `comfy-worker run --help`\n");
});

test("the binary: piped help has no colour codes or padding at line ends, even where CI would force colour", async () => {
  for (const args of [["--help"], ["run", "--help"], ["check", "--help"]]) {
    const { code, stdout } = await runBinary(args, { env: { FORCE_COLOR: "1" } });
    expect(code).toBe(0);
    expect(stdout).not.toContain("\x1b[");
    expect(stdout).not.toMatch(/[ \t]+$/m);
  }
});

test("the binary: serve with a missing EXTRA_MODEL_PATHS file is a configuration error naming it", async () => {
  const missing = "/nonexistent/extra_model_paths.yaml";
  const { code, stderr } = await runBinary(["serve", "--emulate"], {
    env: { EXTRA_MODEL_PATHS: missing, PORT: String(await freePort()), COMFY_PORT: String(await freePort()) },
  });
  expect(code).toBe(2);
  expect(stderr).toContain(`EXTRA_MODEL_PATHS (or --extra-model-paths) names a file that does not exist: ${missing}`);
});

// The binary turns off zod's support for reference cycles in parsed input (src/main.ts). YAML aliases can make
// cycles; these must still end as a clear error naming the place, never a hang or a stack overflow.
test("the binary: YAML whose aliases loop back is a clear error (kit manifest, extra_model_paths.yaml)", async () => {
  const manifest = join(dir, "loop.yaml");
  await Bun.write(
    manifest,
    "name: loop\ndescription: d\nfiles: &f\n  - folder: checkpoints\n    name: a.safetensors\n" +
      "    url: https://example.com/a.safetensors\n    files: *f\n",
  );
  const pulled = await runBinary(["pull", "--manifest", manifest, "--dry-run", "--models-dir", join(dir, "m")]);
  expect(pulled.code).toBe(2);
  expect(pulled.stderr).toContain(`${manifest}:7: files[0].files: unknown key files`);

  const paths = join(dir, "extra_model_paths.yaml");
  await Bun.write(paths, "s: &s\n  base_path: /m\n  loras: *s\n");
  const checked = await runBinary(["check", EXAMPLE, "--models-dir", join(dir, "m")], {
    env: { EXTRA_MODEL_PATHS: paths },
  });
  expect(checked.code).toBe(2);
  expect(checked.stderr).toContain(`${paths}: s.loras: expected a path or one path per line, found a mapping`);
});

// src/log.ts loads consola's full entry (its reporters) only for pretty lines; the binary must carry it
test("the binary: log lines in each format (pretty plain, pretty coloured, JSON)", async () => {
  const lines = async (env: Record<string, string>) =>
    (await runBinary(["check", EXAMPLE], { env: { LOG_LEVEL: "info", COMFY_DIR: "/nonexistent", ...env } })).stderr;
  expect(await lines({ LOG_FORMAT: "pretty", NO_COLOR: "1" })).toStartWith("[info] node types: ");
  expect(await lines({ LOG_FORMAT: "pretty", FORCE_COLOR: "1" })).toStartWith("\x1b[36mℹ\x1b[39m node types: ");
  const json = JSON.parse((await lines({ LOG_FORMAT: "json" })).split("\n")[0] ?? "");
  expect(json).toMatchObject({ level: "INFO", requestId: null });
  expect(json.message).toStartWith("node types: ");
});
