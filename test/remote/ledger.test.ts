import { afterAll, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import { appendRun, ledgerPath } from "../../src/remote/ledger.ts";
import { resolveGpuPrice } from "../../src/remote/pricing.ts";
import { runCliCaptured } from "../helpers/cli.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-ledger-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const QUIET = { captureStderr: true };

const entry = (time: string, status: string, execution_ms: number, cost: number | null) => ({
  time,
  endpoint: "ep1",
  job_id: `job-${time}`,
  workflow: "wf.json",
  status,
  delay_ms: 1200,
  execution_ms,
  billed_s: Math.ceil(execution_ms / 1000),
  cost,
});

test("the ledger lives in the XDG state dir unless RUNS_LEDGER says otherwise", () => {
  expect(ledgerPath(loadConfig({ env: { XDG_STATE_HOME: "/s", HOME: "/h" } }))).toBe("/s/comfy-worker/runs.jsonl");
  expect(ledgerPath(loadConfig({ env: { HOME: "/h" } }))).toBe("/h/.local/state/comfy-worker/runs.jsonl");
  expect(ledgerPath(loadConfig({ env: { HOME: "/h", RUNS_LEDGER: "/x/r.jsonl" } }))).toBe("/x/r.jsonl");
});

test("runs shows recent runs and totals; --since filters; junk lines are skipped", async () => {
  const state = join(dir, "state");
  const path = join(state, "comfy-worker", "runs.jsonl");
  const now = Date.now();
  await appendRun(path, entry(new Date(now - 3 * 86_400_000).toISOString(), "COMPLETED", 9_000, 0.009));
  await appendRun(path, entry(new Date(now - 60_000).toISOString(), "COMPLETED", 2_500, 0.003));
  await appendRun(path, entry(new Date(now - 30_000).toISOString(), "FAILED", 400, null));
  appendFileSync(path, "not json\n");
  const all = await runCliCaptured(["runs", "--json"], { XDG_STATE_HOME: state }, QUIET);
  expect(all.code).toBe(0);
  const json = JSON.parse(all.stdout);
  expect(json.ledger).toBe(path);
  expect(json.totals).toEqual({
    runs: 3,
    by_status: { COMPLETED: 2, FAILED: 1 },
    billed_s: 13,
    cost: 0.012,
    unpriced: 1,
  });
  const recent = await runCliCaptured(["runs", "--since", "1h"], { XDG_STATE_HOME: state }, QUIET);
  expect(recent.stdout).toContain(
    "total: 2 run(s) (1 COMPLETED, 1 FAILED), billed 4 s, cost ≈ $0.0030 (1 run(s) without a price)",
  );
  expect(recent.stdout.split("\n")[0]).toMatch(/^TIME \(UTC\)\s+ENDPOINT\s+JOB/);
  const bad = await runCliCaptured(["runs", "--since", "yesterday"], { XDG_STATE_HOME: state }, QUIET);
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("90s, 30m, 12h, 7d, 2w");
  // a duration reaching before 1970 is every run; a line with no readable time is counted as skipped
  appendFileSync(path, `${JSON.stringify({ ...entry("yesterday", "COMPLETED", 1, null) })}\n`);
  const ages = await runCliCaptured(
    ["runs", "--json", "--since", "100000000w"],
    { XDG_STATE_HOME: state, LOG_LEVEL: "warn" },
    QUIET,
  );
  expect([ages.code, JSON.parse(ages.stdout).totals.runs]).toEqual([0, 3]);
  expect(ages.stderr).toContain("2 line(s)");
  // a ledger path that is a folder is a configuration error, not a crash
  const folder = await runCliCaptured(["runs"], { RUNS_LEDGER: state }, QUIET);
  expect([folder.code, folder.stderr]).toEqual([2, expect.stringContaining("set RUNS_LEDGER to a file")]);
});

test("prices: --gpu-price wins, --gpu reads GPU_PRICES over the built-in table, unknown types list the known ones", () => {
  expect(resolveGpuPrice({ gpuPrice: "0.001", gpu: "A100" }, undefined)?.perSecond).toBe(0.001);
  expect(resolveGpuPrice({ gpu: "rtx 4090" }, undefined)?.perSecond).toBe(0.00031);
  expect(resolveGpuPrice({ gpu: "A100" }, "A100=0.0009,MYGPU=0.1")?.perSecond).toBe(0.0009);
  expect(resolveGpuPrice({ gpu: "mygpu" }, "A100=0.0009,MYGPU=0.1")?.perSecond).toBe(0.1);
  expect(() => resolveGpuPrice({ gpu: "TPU" }, undefined)).toThrow(/use one of B200, H200/);
  expect(() => resolveGpuPrice({ gpuPrice: "cheap" }, undefined)).toThrow(/dollars per second/);
  expect(resolveGpuPrice({}, undefined)).toBeUndefined();
});
