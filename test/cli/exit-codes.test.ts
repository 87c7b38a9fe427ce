import { afterAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { z } from "zod";
import { isWorkerError } from "../../src/errors.ts";
import { type JobDeps, runJob } from "../../src/jobs/pipeline.ts";
import { describeIssues } from "../../src/lib/issues.ts";
import { parseApiWorkflow } from "../../src/workflow/api.ts";
import { parseUiWorkflow } from "../../src/workflow/ui.ts";
import { runCliCaptured } from "../helpers/cli.ts";
import { freePort } from "../helpers/emulator.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-exit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

// ComfyUI refuses this at POST /prompt: a LATENT wired into SaveImage's IMAGE input
const MISWIRED = {
  "5": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
  "8": { class_type: "SaveImage", inputs: { filename_prefix: "x", images: ["5", 0] } },
};

test("a workflow ComfyUI refuses is a failed job (exit 5); a bad --set is a bad command line (exit 2)", async () => {
  const file = join(dir, "miswired.json");
  await Bun.write(file, JSON.stringify(MISWIRED));
  const env = { COMFY_PORT: String(await freePort()) };
  const refused = await runCliCaptured(["run", file, "--emulate", "--out", join(dir, "out")], env);
  expect(refused.stderr).toContain("ComfyUI rejected the workflow");
  expect(refused.code).toBe(5);
  const badSet = await runCliCaptured(["run", file, "--emulate", "--set", "99.text=x"], env);
  expect(badSet.code).toBe(2);
  expect(badSet.stderr).toContain('no node "99"');
});

test("an in-process command line returns its exit code and leaves the process's own exit status as it was", async () => {
  const models = join(dir, "empty-models");
  await Bun.write(join(models, ".keep"), "");
  const workflow = join(import.meta.dir, "../../../shared/corpus/workflows/api-sd15-txt2img.json");
  const before = process.exitCode;
  const { code } = await runCliCaptured(["check", workflow, "--models-dir", models]);
  expect(code).toBe(3);
  // a leaked 3 would make the whole test run exit 3 with every test passed
  expect(Number(process.exitCode ?? 0)).toBe(Number(before ?? 0));
});

test("job input errors are in our words, not the validation library's", async () => {
  const error = await runJob({} as JobDeps, { id: "j", input: { images: "x" }, signal: new AbortController().signal })
    .then(() => undefined)
    .catch((e: unknown) => e);
  expect(isWorkerError(error) && error.code).toBe("E_INPUT");
  const message = (error as Error).message;
  expect(message).toContain("input.workflow is missing (expected an object)");
  expect(message).toContain("input.images must be a list");
  expect(message).not.toMatch(/received|Invalid input/);
});

test('a job whose workflow uses "__proto__" as a node id is refused, not run without that node', async () => {
  const node = { class_type: "EmptyImage", inputs: {} };
  // as RunPod hands it over: the JSON text parsed, "__proto__" an own key; and as a JSON string input
  const text = `{"workflow": {"1": ${JSON.stringify(node)}, "__proto__": ${JSON.stringify(node)}}}`;
  for (const input of [JSON.parse(text), text]) {
    const error = await runJob({} as JobDeps, { id: "j", input, signal: new AbortController().signal })
      .then(() => undefined)
      .catch((e: unknown) => e);
    expect(isWorkerError(error) && error.code).toBe("E_INPUT");
    expect((error as Error).message).toBe(
      'input.workflow: node id "__proto__" is a reserved name; give that node another id',
    );
  }
});

test("workflow file errors are in our words too", () => {
  const messages = [
    () => parseApiWorkflow({ "5": { class_type: "X", inputs: 3 } }),
    () => parseApiWorkflow({ "5": { inputs: {} } }),
    () => parseUiWorkflow({ nodes: "x" }),
  ].map((parse) => {
    try {
      parse();
      return "";
    } catch (error) {
      return (error as Error).message;
    }
  });
  expect(messages).toEqual([
    'workflow: node "5".inputs must be an object, not 3',
    'workflow: node "5".class_type is missing (expected text)',
    'workflow: nodes must be a list, not text "x" (UI-format workflow)',
  ]);
});

test("the one formatter keeps messages written in the schema and translates zod's own", () => {
  const schema = z.object({
    mode: z.enum(["inline", "bucket"]),
    n: z.number().int().min(1),
    key: z.string().regex(/^\d+\./, "keys look like NODE.INPUT"),
    extra: z.strictObject({ a: z.string() }),
  });
  const value = { mode: "x", n: 0.5, key: "a", extra: { a: "", b: 1 } };
  const parsed = schema.safeParse(value);
  expect(parsed.success ? [] : describeIssues(parsed.error, value, "input")).toEqual([
    'input.mode must be one of "inline", "bucket", not "x"',
    "input.n must be a whole number, not 0.5",
    "input.key: keys look like NODE.INPUT",
    'input.extra has unknown field "b"',
  ]);
});

test("a number past an integer field's own bound is told that bound, not also JavaScript's safe-integer range", () => {
  const schema = z.object({ wait: z.coerce.number().int().min(0).max(300_000), n: z.coerce.number().int().min(1) });
  const value = { wait: "99999999999999999999", n: "-99999999999999999999" };
  const parsed = schema.safeParse(value);
  expect(parsed.success ? [] : describeIssues(parsed.error, value, "query")).toEqual([
    "query.wait must be at most 300000, not 99999999999999999999",
    "query.n must be at least 1, not -99999999999999999999",
  ]);
  // with no bound of its own the safe-integer range is the one that failed, and it is said
  const bare = z.object({ n: z.number().int() }).safeParse({ n: 2 ** 60 });
  expect(bare.success ? [] : describeIssues(bare.error, { n: 2 ** 60 }, "")).toEqual([
    "n must be at most 9007199254740991, not 1152921504606847000",
  ]);
});

test("a bad override key is named with what keys look like, not as a place under overrides", async () => {
  const input = { workflow: { "1": { class_type: "X", inputs: {} } }, overrides: { "1.width.x": 1 } };
  const error = await runJob({} as JobDeps, { id: "j", input, signal: new AbortController().signal })
    .then(() => undefined)
    .catch((e: unknown) => e);
  expect((error as Error).message).toBe(
    'invalid job input: input.overrides has a key that is not allowed, "1.width.x" (keys look like NODE.INPUT, e.g. 6.text)',
  );
});

test("a value of a union's type is told that shape's problem, not \"none of the accepted shapes\"", () => {
  const entry = z.union([z.string().regex(/^[^/]+\/.+$/, "expected folder/name"), z.looseObject({ name: z.string() })]);
  const schema = z.object({ weights: z.array(entry) });
  const value = { weights: [{ folder: "vae" }, 7] };
  const parsed = schema.safeParse(value);
  expect(parsed.success ? [] : describeIssues(parsed.error, value, "input")).toEqual([
    "input.weights.0.name is missing (expected text)",
    "input.weights.1 has none of the accepted shapes (got 7)",
  ]);
});

test("emulator options are worded as their flags, not as zod's issue list", async () => {
  const { code, stderr } = await runCliCaptured(["emulate", "--node-ms", "abc", "--port", "99999"]);
  expect(code).toBe(2);
  expect(stderr).toContain('--port must be at most 65535, not 99999; --node-ms must be a number, not text "abc"');
  expect(stderr).not.toMatch(/Invalid input|received/);
});
