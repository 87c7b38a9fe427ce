import { beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { ensureBinary, runBinary } from "../helpers/binary.ts";
import { freePort } from "../helpers/emulator.ts";

const EXAMPLE = join(import.meta.dir, "../../examples/sd15-txt2img.json");

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
  expect(stderr).toContain(`EXTRA_MODEL_PATHS names a file that does not exist: ${missing}`);
});
