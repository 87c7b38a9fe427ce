// The binary's stdout and stderr go through lib/stdio.ts (Bun's file sinks, not Node's streams): output must
// arrive whole and in order however slowly it is read, a reader that leaves must not crash the command, and a
// terminal must still be told from a pipe or /dev/null.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, ensureBinary } from "../helpers/binary.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-stdio-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// an API workflow of about 900 KB: `convert` prints it back, far past a pipe's 64 KiB buffer
const big: Record<string, unknown> = {
  "2": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "a.safetensors" } },
};
for (let i = 3; i < 50; i++) {
  big[String(i)] = { class_type: "CLIPTextEncode", inputs: { text: `prompt ${i} `.repeat(2_000), clip: ["2", 1] } };
}
const file = join(dir, "big.json");

beforeAll(async () => {
  await ensureBinary();
  await Bun.write(file, JSON.stringify(big));
}, 300_000);

const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", LOG_LEVEL: "error" };

test("the binary: 900 KB of stdout, read only after a pause, arrives whole before the process exits", async () => {
  const proc = Bun.spawn([BINARY, "convert", file], { env, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  // the command is done and waits on the full pipe; nothing may be dropped when it exits
  await Bun.sleep(500);
  const [stdout, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  expect(code).toBe(0);
  expect(JSON.parse(stdout)).toEqual(big);
});

test("the binary: a reader that goes away after the first bytes (`| head -c 20`) ends the command cleanly", async () => {
  const proc = Bun.spawn([BINARY, "convert", file], { env, stdout: "pipe", stderr: "pipe", timeout: 60_000 });
  const reader = proc.stdout.getReader();
  const first = await reader.read();
  expect(first.done).toBe(false);
  await reader.cancel();
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  expect(stderr).not.toContain("unexpected error");
  expect(code).toBe(0);
});

// `script` (util-linux) runs the binary on a pseudo-terminal
test.skipIf(!Bun.which("script"))("the binary: on a terminal help is coloured", async () => {
  const onTerminal = Bun.spawn(["script", "-qc", `${BINARY} --help`, "/dev/null"], { env, stdout: "pipe" });
  expect(await new Response(onTerminal.stdout).text()).toContain("\x1b[");
  expect(await onTerminal.exited).toBe(0);
});

test("/dev/null (where `ignore` sends output) and a pipe are no terminal, though /dev/null is a character device", async () => {
  const probe = `import { stdout } from ${JSON.stringify(join(import.meta.dir, "../../src/lib/stdio.ts"))}; console.error(stdout.isTTY);`;
  for (const target of ["ignore", "pipe"] as const) {
    const proc = Bun.spawn([process.execPath, "-e", probe], { env, stdout: target, stderr: "pipe" });
    expect((await new Response(proc.stderr).text()).trim()).toBe("false");
    expect(await proc.exited).toBe(0);
  }
});
