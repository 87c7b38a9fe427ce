import { expect, test } from "bun:test";
import type { ArgsDef } from "citty";
import { editDistance, findUsageProblem, variadic } from "../../src/cli/_strict-args.ts";
import { runCliCaptured } from "../helpers/cli.ts";

const EXAMPLE = new URL("../../examples/sd15-txt2img.json", import.meta.url).pathname;

test("a misspelt flag is a one-line usage error with a did-you-mean, and nothing runs", async () => {
  // without the check, `--emulat` was ignored and run started a real ComfyUI (COMFY_DIR does not exist here)
  const { code, stderr } = await runCliCaptured(["run", EXAMPLE, "--emulat"], { COMFY_DIR: "/nonexistent" });
  expect(code).toBe(2);
  expect(stderr.trim().split("\n")).toHaveLength(1);
  expect(stderr).toContain("unknown option --emulat (did you mean --emulate?)");
  expect(stderr).toContain("comfy-worker run --help");
  expect(stderr).not.toContain("USAGE");
});

test("a flag before the command, or flags and no command, is named, not dropped", async () => {
  // citty drops what comes before the command's name: `-x serve` started serve, `--nope` said "No command specified"
  const before = await runCliCaptured(["-x", "run", EXAMPLE, "--emulate"], { COMFY_DIR: "/nonexistent" });
  expect([before.code, before.stderr.trim()]).toEqual([2, "error: unknown option -x; see `comfy-worker run --help`"]);
  const alone = await runCliCaptured(["--nope"]);
  expect([alone.code, alone.stderr.trim()]).toEqual([2, "error: unknown option --nope; see `comfy-worker --help`"]);
});

test("--timeout must be a finite number of seconds", async () => {
  const { code, stderr } = await runCliCaptured(["run", EXAMPLE, "--emulate", "--timeout", "1e400"]);
  expect(code).toBe(2);
  expect(stderr).toContain('--timeout must be a positive number of seconds, got "1e400"');
});

test("a switch given a value other than true or false is a usage error, not on", async () => {
  const { code, stderr } = await runCliCaptured(["run", EXAMPLE, "--emulate=maybe"]);
  expect(code).toBe(2);
  expect(stderr).toContain('--emulate is a switch and takes no value (got "maybe")');
});

test("extra positional arguments are usage errors; check takes several workflows", async () => {
  const extra = await runCliCaptured(["run", EXAMPLE, EXAMPLE, "--emulate"]);
  expect(extra.code).toBe(2);
  expect(extra.stderr).toContain(`unexpected argument "${EXAMPLE}"`);
  const kits = await runCliCaptured(["kits", "sd15", "sdxl"]);
  expect(kits.code).toBe(2);
  const several = await runCliCaptured(["check", EXAMPLE, EXAMPLE, "--json"], { COMFY_DIR: "/nonexistent" });
  expect(several.stderr).toBe("");
  expect(JSON.parse(several.stdout).workflows).toHaveLength(2);
});

test("usage errors from citty itself (bad enum, missing argument) are one line too", async () => {
  const bad = await runCliCaptured(["check", EXAMPLE, "--verify", "bogus"]);
  expect(bad.code).toBe(2);
  expect(bad.stderr.trim().split("\n")).toHaveLength(1);
  expect(bad.stderr).not.toContain("\x1b[");
  const missing = await runCliCaptured(["run"]);
  expect(missing.code).toBe(2);
  expect(missing.stderr).not.toContain("USAGE");
});

test("an unknown command suggests the closest one", async () => {
  const { code, stderr } = await runCliCaptured(["chek", EXAMPLE]);
  expect(code).toBe(2);
  expect(stderr).toContain('unknown command "chek" (did you mean check?)');
});

test("help is plain text when not on a terminal and says what run and check accept", async () => {
  for (const name of ["run", "check", "pull"]) {
    const { code, stdout } = await runCliCaptured([name, "--help"]);
    expect(code).toBe(0);
    expect(stdout).not.toContain("\x1b[");
    expect(stdout).not.toMatch(/[ \t]+$/m);
  }
  expect((await runCliCaptured(["run", "--help"])).stdout).toContain("UI JSON, or a PNG/WebP");
  expect((await runCliCaptured(["check", "--help"])).stdout).toContain("one or more workflow files");
});

const sample = {
  args: {
    file: variadic({ type: "positional", required: true }),
    kit: { type: "string" },
    dryRun: { type: "boolean" },
    verify: { type: "enum", options: ["a", "b"], alias: ["V"] },
  } satisfies ArgsDef,
};

test("the check follows each command's args: repeated, =, camel/kebab, aliases, --no-, values that look like flags", () => {
  const args = sample.args;
  expect(findUsageProblem(args, ["a", "b", "--kit", "x", "--kit=y", "--dry-run", "-V", "a"])).toBeUndefined();
  expect(findUsageProblem(args, ["a", "--dryRun", "--no-dryRun", "--kit", "--weird", "--", "--not-a-flag"])).toBe(
    undefined,
  );
  expect(findUsageProblem(args, ["a", "--kits", "x"])).toBe("unknown option --kits (did you mean --kit?)");
  expect(findUsageProblem(args, ["a", "--zzzzzzzz"])).toBe("unknown option --zzzzzzzz");
  expect(findUsageProblem(args, ["a", "--no-kit"])).toContain("unknown option --no-kit");
  expect(findUsageProblem(args, ["a", "--kit"])).toBe("--kit needs a value");
});

test("edit distance", () => {
  expect(editDistance("emulat", "emulate")).toBe(1);
  expect(editDistance("kitten", "sitting")).toBe(3);
  expect(editDistance("", "abc")).toBe(3);
});

test("emulate takes ComfyUI's argparse shapes (--listen [HOST], --extra-model-paths-config A B) but no unknown flag", async () => {
  const emulate = (await import("../../src/cli/emulate.ts")).default;
  const args = emulate.args as ArgsDef;
  expect(findUsageProblem(args, ["--listen", "0.0.0.0", "--port", "1", "--extra-model-paths-config", "a", "b"])).toBe(
    undefined,
  );
  expect(findUsageProblem(args, ["--listen", "--port", "1"])).toBeUndefined();
  expect(findUsageProblem(args, ["--nod-ms", "5"])).toBe("unknown option --nod-ms (did you mean --node-ms?)");
});

test("a workflow file that does not exist is one line, without the ENOENT it restates", async () => {
  const { code, stderr } = await runCliCaptured(["run", "/nonexistent/wf.json", "--emulate"]);
  expect(code).toBe(2);
  expect(stderr).toBe("error: /nonexistent/wf.json: no such file\n");
});
