import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng, gradientImage } from "../../src/emulator/png.ts";
import { runCliCaptured } from "../helpers/cli.ts";
import { type ServeProcess, startServeProcess } from "../helpers/serve-process.ts";

// the whole loop without a GPU: `run --endpoint` against our own `serve --mode api --emulate` in its own process
const ROOT = join(import.meta.dir, "../..");
const EXAMPLE = join(ROOT, "examples/sd15-txt2img.json");
const dir = mkdtempSync(join(tmpdir(), "cw-run-serve-"));
const QUIET = { captureStderr: true };
let serve: ServeProcess | undefined;
let endpoint: string;

beforeAll(async () => {
  serve = await startServeProcess(dir, {
    EXTRA_MODEL_PATHS: join(ROOT, "examples/extra_model_paths.yaml"),
    COMFY_ARGS: "--node-ms 60",
  });
  endpoint = serve.endpoint;
});
afterAll(async () => {
  await serve?.stop();
  rmSync(dir, { recursive: true, force: true });
});

test("run --endpoint URL runs on serve: live node progress, every output saved, no overwrite, ledger", async () => {
  const out = join(dir, "out");
  const ledger = join(dir, "runs.jsonl");
  const args = ["run", EXAMPLE, "--endpoint", endpoint, "--out", out, "--set", "3.steps=3"];
  const first = await runCliCaptured(args, { RUNS_LEDGER: ledger }, QUIET);
  expect(first.code).toBe(0);
  expect(first.stdout).toContain(`saved ${join(out, "demo", "lighthouse_00001_.png")}`);
  expect(first.stdout).toContain("billed: 1 s");
  const progress = first.stderr
    .split("\n")
    .filter((l) => l.includes('"event":"progress"'))
    .map((l) => JSON.parse(l));
  expect(progress).toContainEqual(
    expect.objectContaining({ node: "3", class_type: "KSampler", value: 3, max: 3, percent: 100 }),
  );
  // the worker's next file is lighthouse_00002_.png, and an earlier file of that name is already here
  await Bun.write(join(out, "demo", "lighthouse_00002_.png"), "earlier");
  const second = await runCliCaptured([...args, "--set", "3.seed=99", "--json"], { RUNS_LEDGER: ledger }, QUIET);
  expect(second.code).toBe(0);
  const json = JSON.parse(second.stdout);
  expect(json.saved).toEqual([join(out, "demo", "lighthouse_00003_.png")]);
  expect(json.renamed).toEqual([{ requested: join(out, "demo", "lighthouse_00002_.png"), path: json.saved[0] }]);
  expect(readFileSync(join(out, "demo", "lighthouse_00002_.png"), "utf8")).toBe("earlier");
  expect(readdirSync(join(out, "demo"))).toHaveLength(3);
  const runs = readFileSync(ledger, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));
  expect(runs.map((r) => [r.endpoint, r.status, r.job_id])).toEqual([
    [endpoint, "COMPLETED", expect.any(String)],
    [endpoint, "COMPLETED", json.job_id],
  ]);
  const listed = await runCliCaptured(["runs", "--json"], { RUNS_LEDGER: ledger }, QUIET);
  expect(JSON.parse(listed.stdout).totals).toMatchObject({ runs: 2, by_status: { COMPLETED: 2 }, billed_s: 2 });
}, 60_000);

test("input files from --image and --set @file go inline and reach the worker's ComfyUI", async () => {
  const image = join(dir, "photo.png");
  await Bun.write(image, encodePng(gradientImage(16, 8, 2)));
  const workflow = join(dir, "copy.json");
  await Bun.write(
    workflow,
    JSON.stringify({
      "1": { class_type: "LoadImage", inputs: { image: "placeholder.png" } },
      "2": { class_type: "SaveImage", inputs: { filename_prefix: "copied", images: ["1", 0] } },
    }),
  );
  const out = join(dir, "out-img");
  const result = await runCliCaptured(
    ["run", workflow, "--endpoint", endpoint, "--out", out, "--set", `1.image=@${image}`],
    { RUNS_LEDGER: join(dir, "r2.jsonl") },
    QUIET,
  );
  expect(result.code).toBe(0);
  expect(readdirSync(out)).toEqual(["copied_00001_.png"]);
}, 60_000);

test("a workflow the worker refuses fails with its reason and exit 5", async () => {
  const workflow = join(dir, "unknown.json");
  await Bun.write(workflow, JSON.stringify({ "1": { class_type: "NoSuchNode", inputs: {} } }));
  const result = await runCliCaptured(
    ["run", workflow, "--endpoint", endpoint],
    { RUNS_LEDGER: join(dir, "r3.jsonl") },
    QUIET,
  );
  expect(result.code).toBe(5);
  expect(result.stderr).toContain("NoSuchNode");
}, 60_000);
