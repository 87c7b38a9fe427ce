import { afterAll, afterEach, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCliCaptured } from "../helpers/cli.ts";
import { type FakeEndpoint, startFakeEndpoint } from "../helpers/fake-endpoint.ts";
import { startS3 } from "../runpod/_s3.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-run-endpoint-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const EXAMPLE = join(import.meta.dir, "../../examples/sd15-txt2img.json");
const KEY = "rpa_secret_key_for_tests";
const PNG = Buffer.from("89504e470d0a1a0a0000000d49484452", "hex");
const QUIET = { captureStderr: true };
let fake: FakeEndpoint;
afterEach(() => fake?.stop());

const png = (filename: string, subfolder = "") => ({
  filename,
  subfolder,
  node_id: "9",
  type: "base64",
  data: PNG.toString("base64"),
  mime: "image/png",
});
const completed = (images: unknown[]) => ({
  final: {
    status: "COMPLETED" as const,
    output: { images, videos: [], audio: [], files: [], text: [], prompt_id: "p1", timings: {} },
  },
});

let n = 0;
function env(extra: Record<string, string> = {}) {
  n++;
  return { RUNPOD_API_KEY: KEY, RUNS_LEDGER: join(dir, `ledger-${n}.jsonl`), ...extra };
}
const ledger = (e: Record<string, string>) =>
  readFileSync(e.RUNS_LEDGER as string, "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l));

test("an endpoint id with RUNPOD_ENDPOINT_BASE_URL: progress, outputs saved without overwriting, timings, cost, ledger", async () => {
  fake = startFakeEndpoint({ apiKey: KEY });
  fake.plan = {
    queueMs: 50,
    chunks: [{ node: "3", class_type: "KSampler", title: "Sampler", value: 2, max: 4, percent: 50 }],
    executionTime: 2_300,
    ...completed([png("ComfyUI_00001_.png", "sub")]),
  };
  const e = env({ RUNPOD_ENDPOINT_BASE_URL: fake.base });
  const out = join(dir, "out-id");
  const args = ["run", EXAMPLE, "--endpoint", fake.id, "--out", out, "--gpu", "a100"];
  const first = await runCliCaptured(args, e, { captureStderr: true });
  expect(first.code).toBe(0);
  expect(first.stdout).toContain(`saved ${join(out, "sub", "ComfyUI_00001_.png")}`);
  expect(first.stdout).toContain("billed: 3 s ≈ $0.0023 (A100 at $0.00076/s)");
  expect(first.stdout).toMatch(/in queue 0\.\d+ s \(a worker was ready: no cold start\), execution 2\.30 s/);
  // not a TTY: progress arrives as JSON lines naming the node
  expect(first.stderr).toContain('"event":"progress","node":"3","class_type":"KSampler","title":"Sampler"');
  const second = await runCliCaptured(args, e, QUIET);
  expect(second.code).toBe(0);
  expect(second.stdout).toContain("ComfyUI_00002_.png (");
  expect(readdirSync(join(out, "sub")).sort()).toEqual(["ComfyUI_00001_.png", "ComfyUI_00002_.png"]);
  expect(fake.authHeaders.every((h) => h === `Bearer ${KEY}`)).toBe(true);
  const runs = ledger(e);
  expect(runs).toHaveLength(2);
  expect(runs[0]).toMatchObject({
    endpoint: fake.id,
    workflow: "sd15-txt2img.json",
    status: "COMPLETED",
    execution_ms: 2300,
    billed_s: 3,
    cost: 0.00228,
  });
  expect(first.stdout + first.stderr).not.toContain(KEY);
});

test("--json prints the result; a dropped connection, 429 and 503 mid-job resume the same job", async () => {
  fake = startFakeEndpoint();
  fake.plan = { chunks: [{ node: "3", value: 1, max: 2, percent: 50 }], stepMs: 100, ...completed([png("a.png")]) };
  fake.failNext("stream", "drop");
  fake.failNext("stream", 503);
  fake.failNext("status", 429, 1, { "retry-after": "0" });
  const result = await runCliCaptured(
    ["run", EXAMPLE, "--endpoint", fake.url, "--out", join(dir, "out-json"), "--json"],
    env(),
  );
  expect(result.code).toBe(0);
  const json = JSON.parse(result.stdout);
  expect(json).toMatchObject({
    status: "COMPLETED",
    saved: [join(dir, "out-json", "a.png")],
    billed_s: expect.any(Number),
    cost: null,
  });
  expect(fake.requests.filter((r) => r.endsWith("/run"))).toHaveLength(1);
});

test("bad key, unknown endpoint, missing key: exit 2 with what to do; nothing submitted", async () => {
  fake = startFakeEndpoint({ apiKey: KEY });
  const base = { RUNPOD_ENDPOINT_BASE_URL: fake.base };
  const bad = await runCliCaptured(
    ["run", EXAMPLE, "--endpoint", fake.id],
    env({ ...base, RUNPOD_API_KEY: "rpa_wrong" }),
  );
  expect(bad.code).toBe(2);
  expect(bad.stderr).toContain("RUNPOD_API_KEY was refused");
  const unknown = await runCliCaptured(["run", EXAMPLE, "--endpoint", "nope"], env(base), QUIET);
  expect(unknown.code).toBe(2);
  expect(unknown.stderr).toContain('there is no endpoint "nope"');
  const missing = await runCliCaptured(
    ["run", EXAMPLE, "--endpoint", "abc"],
    { ...env(base), RUNPOD_API_KEY: "" },
    QUIET,
  );
  expect(missing.code).toBe(2);
  expect(missing.stderr).toContain("needs RUNPOD_API_KEY");
  expect(fake.jobs.size).toBe(0);
});

test("a request over RunPod's /run limit without a bucket is refused before submitting, naming the limit", async () => {
  fake = startFakeEndpoint();
  const big = join(dir, "big.png");
  await Bun.write(big, Buffer.alloc(8_000_000, 7));
  const result = await runCliCaptured(
    ["run", EXAMPLE, "--endpoint", fake.url, "--image", `big.png=${big}`],
    env(),
    QUIET,
  );
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("over RunPod's /run payload limit of 10.0 MB");
  expect(result.stderr).toContain("BUCKET_ENDPOINT_URL");
  expect(fake.jobs.size).toBe(0);
});

test("with a bucket, the large input goes there and travels as a presigned URL; small ones stay inline", async () => {
  const s3 = await startS3(["inputs"]);
  try {
    fake = startFakeEndpoint();
    const big = join(dir, "big2.png");
    const small = join(dir, "small.png");
    await Bun.write(big, Buffer.alloc(8_000_000, 9));
    await Bun.write(small, PNG);
    const bucket = {
      BUCKET_ENDPOINT_URL: s3.endpoint,
      BUCKET_ACCESS_KEY_ID: s3.accessKeyId,
      BUCKET_SECRET_ACCESS_KEY: s3.secretAccessKey,
      BUCKET_NAME: "inputs",
    };
    const args = [
      "run",
      EXAMPLE,
      "--endpoint",
      fake.url,
      "--out",
      join(dir, "out-b"),
      "--image",
      `big.png=${big}`,
      "--image",
      `small.png=${small}`,
    ];
    const result = await runCliCaptured(args, env(bucket), QUIET);
    expect(result.code).toBe(0);
    const body = [...fake.jobs.values()][0]?.body as { input: { images: Array<{ name: string; image: string }> } };
    const images = body.input.images;
    const sent = Object.fromEntries(images.map((i) => [i.name, i.image]));
    expect(sent["small.png"]).toBe(PNG.toString("base64"));
    expect(sent["big.png"]).toStartWith(`${s3.endpoint}/inputs/`);
    const fetched = await fetch(sent["big.png"] as string);
    expect((await fetched.arrayBuffer()).byteLength).toBe(8_000_000);
  } finally {
    await s3.close();
  }
});

test("a FAILED job exits 5 with the worker's sentence; the ledger records it", async () => {
  fake = startFakeEndpoint();
  const sdkError = JSON.stringify({
    error_type: "WorkerError",
    error_message: "KSampler (node 3) failed: out of memory",
  });
  fake.plan = { final: { status: "FAILED", error: sdkError } };
  const e = env();
  const result = await runCliCaptured(["run", EXAMPLE, "--endpoint", fake.url], e, QUIET);
  expect(result.code).toBe(5);
  expect(result.stderr).toContain("failed on the endpoint: KSampler (node 3) failed: out of memory");
  expect(ledger(e)[0]).toMatchObject({ status: "FAILED" });
  // with --json the failure is on stdout too, for scripts
  const json = await runCliCaptured(["run", EXAMPLE, "--endpoint", fake.url, "--json"], env(), QUIET);
  expect(json.code).toBe(5);
  expect(JSON.parse(json.stdout)).toMatchObject({
    ok: false,
    code: "E_JOB_FAILED",
    error: expect.stringContaining("KSampler (node 3) failed: out of memory"),
  });
});

test("a user name and password in the endpoint URL reach neither the output, the ledger nor `runs`", async () => {
  fake = startFakeEndpoint();
  fake.plan = completed([png("cred.png")]);
  const e = env();
  const withCredentials = fake.url.replace("http://", "http://alice:hunter2pass@");
  const args = ["run", EXAMPLE, "--endpoint", withCredentials, "--out", join(dir, "out-cred"), "--log-level", "debug"];
  const result = await runCliCaptured(args, e, QUIET);
  expect(result.code).toBe(0);
  expect(result.stderr).toContain("http://***@127.0.0.1");
  expect(ledger(e)[0].endpoint).toStartWith("http://***@127.0.0.1:");
  // a ledger an older version wrote with the password is shown without it
  await Bun.write(
    e.RUNS_LEDGER as string,
    `${readFileSync(e.RUNS_LEDGER as string, "utf8")}${JSON.stringify({ ...ledger(e)[0], endpoint: withCredentials })}\n`,
  );
  const runs = await runCliCaptured(["runs", "--json"], e, QUIET);
  const shown = await runCliCaptured(["runs"], e, QUIET);
  expect(result.stdout + result.stderr + readFileSync(e.RUNS_LEDGER as string, "utf8").split("\n")[0]).not.toContain(
    "hunter2pass",
  );
  expect(runs.stdout + shown.stdout).not.toContain("hunter2pass");
  expect(JSON.parse(runs.stdout).runs).toHaveLength(2);
});

test("an expired result is a clear error, not a resubmit", async () => {
  fake = startFakeEndpoint();
  fake.plan = { queueMs: 300, ...completed([]) };
  const e = env();
  const run = runCliCaptured(["run", EXAMPLE, "--endpoint", fake.url], e, QUIET);
  for (let i = 0; i < 100 && fake.jobs.size === 0; i++) await Bun.sleep(10);
  fake.expire([...fake.jobs.keys()][0] as string);
  const result = await run;
  expect(result.code).toBe(2);
  expect(result.stderr).toContain("no longer knows it");
  expect(ledger(e)[0]).toMatchObject({ status: "EXPIRED", billed_s: 0, cost: null });
  expect(fake.requests.filter((r) => r.endsWith("/run"))).toHaveLength(1);
});

test("no worker ready: the wait is shown as a cold start; --timeout cancels the remote job and exits 5", async () => {
  fake = startFakeEndpoint();
  fake.workers = { idle: 0, running: 0 };
  fake.plan = { queueMs: 60_000 };
  const e = env();
  const result = await runCliCaptured(["run", EXAMPLE, "--endpoint", fake.url, "--timeout", "0.5"], e, QUIET);
  expect(result.code).toBe(5);
  expect(result.stderr).toContain('"phase":"in queue · cold start (no worker was ready)"');
  expect(result.stderr).toContain("ran past --timeout 0.5 s");
  const [job] = [...fake.jobs.values()];
  expect(fake.cancels).toEqual([job?.id as string]);
  // the limit also travels with the job, so the endpoint enforces it too (RunPod's minimum is 5 s)
  expect((job?.body as { policy?: unknown } | undefined)?.policy).toEqual({ executionTimeout: 5_000 });
  expect(ledger(e)[0]).toMatchObject({ status: "CANCELLED" });
});

test("checked before anything is submitted: an --out that is a file, a --gpu-price that is no number; a week at most goes as the job's timeout", async () => {
  fake = startFakeEndpoint();
  fake.plan = completed([{ ...png("data.png"), data: `data:image/png;base64,${PNG.toString("base64")}` }]);
  const file = join(dir, "a-file");
  await Bun.write(file, "x");
  const notFolder = await runCliCaptured(["run", EXAMPLE, "--endpoint", fake.url, "--out", file], env(), QUIET);
  expect([notFolder.code, notFolder.stderr]).toEqual([2, expect.stringContaining(`cannot write ${file}`)]);
  const price = await runCliCaptured(["run", EXAMPLE, "--endpoint", fake.url, "--gpu-price", "1e400"], env(), QUIET);
  expect([price.code, price.stderr]).toEqual([2, expect.stringContaining("--gpu-price must be dollars per second")]);
  expect(fake.jobs.size).toBe(0);
  const out = join(dir, "out-week");
  const long = await runCliCaptured(
    ["run", EXAMPLE, "--endpoint", fake.url, "--out", out, "--timeout", "1e9"],
    env(),
    QUIET,
  );
  expect(long.code).toBe(0);
  const [job] = [...fake.jobs.values()];
  // and a ttl long enough for it: RunPod drops a job past its ttl (a day unless said)
  expect((job?.body as { policy?: unknown } | undefined)?.policy).toEqual({
    executionTimeout: 7 * 86_400_000,
    ttl: 7 * 86_400_000,
  });
  // a base64 output sent as a data: URI is saved as its bytes
  expect(readFileSync(join(out, "data.png"))).toEqual(PNG);
});
