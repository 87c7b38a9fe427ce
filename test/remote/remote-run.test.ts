import { afterAll, afterEach, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../../src/config.ts";
import type { WorkerError } from "../../src/errors.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { createEndpointClient } from "../../src/remote/endpoint.ts";
import { runRemote } from "../../src/remote/remote-run.ts";
import { type FakeEndpoint, startFakeEndpoint } from "../helpers/fake-endpoint.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-remote-run-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });
const config = loadConfig({ env: {} });
const view = { progress: () => {}, phase: () => {}, note: () => {} };
const BYTES = Buffer.from("not really a png");
// a file host on loopback, standing in for a bucket URL a result points at
let hung = 0;
// `/hang` never answers; `/metadata` redirects to a link-local (cloud metadata) address
const files = Bun.serve({
  hostname: "127.0.0.1",
  port: 0,
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/hang") {
      hung++;
      return new Promise<Response>(() => {});
    }
    if (path === "/metadata") return Response.redirect("http://169.254.169.254/latest/meta-data/", 302);
    return new Response(BYTES);
  },
});
afterAll(() => files.stop(true));
let fake: FakeEndpoint;
afterEach(() => fake?.stop());

function plan(outputs: unknown[]) {
  return { final: { status: "COMPLETED" as const, output: { images: outputs, prompt_id: "p" } } };
}
const inline = { filename: "inline.png", subfolder: "", node_id: "9", type: "base64", data: BYTES.toString("base64") };
const byUrl = {
  filename: "remote.png",
  subfolder: "",
  node_id: "9",
  type: "s3_url",
  data: `http://127.0.0.1:${files.port}/remote.png`,
};

function options(out: string, extra: Partial<Parameters<typeof runRemote>[1]> = {}) {
  return {
    input: { workflow: {}, images: [] },
    workflowName: "wf.json",
    outDir: out,
    signal: new AbortController().signal,
    view,
    log,
    config,
    ledger: join(dir, "ledger.jsonl"),
    ...extra,
  };
}

test("an endpoint on this machine may point outputs at loopback URLs: they are fetched and saved", async () => {
  fake = startFakeEndpoint();
  fake.plan = plan([inline, byUrl]);
  const out = join(dir, "local");
  const result = await runRemote(createEndpointClient({ endpoint: fake.url }), options(out));
  expect(result.saved.map((s) => s.path).sort()).toEqual([join(out, "inline.png"), join(out, "remote.png")]);
  expect(readFileSync(join(out, "remote.png"))).toEqual(BYTES);
});

test("a public endpoint's output URL on a private address is refused; the rest and the whole result are kept", async () => {
  fake = startFakeEndpoint();
  fake.plan = plan([inline, byUrl]);
  const port = new URL(fake.url).port;
  // the endpoint is reached as public.example (a public address), the fake answers for it
  const client = createEndpointClient({
    endpoint: "http://public.example/v2/fake-ep",
    fetch: ((url: string, init?: RequestInit) =>
      fetch(String(url).replace("http://public.example", `http://127.0.0.1:${port}`), init)) as typeof fetch,
  });
  const lookup = async (host: string) => (host === "public.example" ? ["93.184.216.34"] : ["127.0.0.1"]);
  const out = join(dir, "public");
  let error: WorkerError | undefined;
  try {
    await runRemote(client, options(out, { lookup }));
  } catch (caught) {
    error = caught as WorkerError;
  }
  expect(error?.code).toBe("E_INPUT");
  expect(error?.message).toContain("remote.png");
  expect(error?.message).toContain("private address");
  expect(existsSync(join(out, "inline.png"))).toBe(true);
  expect(existsSync(join(out, "remote.png"))).toBe(false);
  const kept = readdirSync(out).find((name) => name.endsWith(".result.json")) as string;
  expect(JSON.parse(readFileSync(join(out, kept), "utf8")).images[1].data).toBe(byUrl.data);
});

test("an --out that refuses every file is one clear error; the result stays at the endpoint", async () => {
  fake = startFakeEndpoint();
  fake.plan = plan([inline]);
  const file = join(dir, "not-a-folder");
  writeFileSync(file, "x");
  const error = await runRemote(createEndpointClient({ endpoint: fake.url }), options(join(file, "out")))
    .then(() => undefined)
    .catch((caught: unknown) => caught as WorkerError);
  expect(error?.code).toBe("E_USAGE");
  expect(error?.message).toContain("1 output file(s) of job ");
  expect(error?.message).toContain("a part of that path is a file, not a folder (ENOTDIR)");
  expect(error?.message).toContain("could not keep the whole result either");
  expect(error?.message).toMatch(/answers it at \/status\/[\w-]+ for a while/);
});

// a run the test aborts through `controller`; its outputs go to `name`, its ledger to `name`.jsonl
function abortableRun(name: string, extra: Partial<Parameters<typeof runRemote>[1]> = {}) {
  const controller = new AbortController();
  const ledger = join(dir, `${name}.jsonl`);
  const run = runRemote(
    createEndpointClient({ endpoint: fake.url }),
    options(join(dir, name), { signal: controller.signal, ledger, ...extra }),
  );
  return { controller, run, ledger };
}

test("an output that never arrives ends with the run: Ctrl-C while saving stops it, and the result is kept", async () => {
  fake = startFakeEndpoint();
  fake.plan = plan([{ ...byUrl, filename: "slow.png", data: `http://127.0.0.1:${files.port}/hang` }]);
  const out = join(dir, "hang");
  const controller = new AbortController();
  const run = runRemote(createEndpointClient({ endpoint: fake.url }), options(out, { signal: controller.signal }));
  for (let i = 0; i < 300 && hung === 0; i++) await Bun.sleep(10);
  controller.abort(new Error("interrupted"));
  await expect(run).rejects.toThrow("interrupted");
  expect(readdirSync(out).filter((name) => name.endsWith(".result.json"))).toHaveLength(1);
  expect(existsSync(join(out, "slow.png"))).toBe(false);
});

test("even a local endpoint's output may not lead to a link-local (metadata) address", async () => {
  fake = startFakeEndpoint();
  fake.plan = plan([{ ...byUrl, data: `http://127.0.0.1:${files.port}/metadata` }]);
  const error = (await runRemote(createEndpointClient({ endpoint: fake.url }), options(join(dir, "meta"))).catch(
    (e: unknown) => e,
  )) as WorkerError;
  expect(error.message).toContain("169.254.169.254");
  expect(error.message).toContain("were not saved");
});

test("aborting cancels the remote job and records it as CANCELLED", async () => {
  fake = startFakeEndpoint();
  fake.plan = { queueMs: 30_000 };
  const { controller, run, ledger } = abortableRun("abort");
  for (let i = 0; i < 200 && fake.jobs.size === 0; i++) await Bun.sleep(10);
  controller.abort(new Error("stop"));
  await expect(run).rejects.toThrow("stop");
  expect(fake.cancels).toEqual([...fake.jobs.keys()]);
  expect(JSON.parse(readFileSync(ledger, "utf8"))).toMatchObject({ status: "CANCELLED" });
});

test("a cancel that never gets through is recorded as UNKNOWN, not CANCELLED; a failed try is tried again", async () => {
  fake = startFakeEndpoint();
  fake.plan = { queueMs: 30_000 };
  fake.failNext("cancel", 500, 1);
  const retried = abortableRun("cancel-retried");
  for (let i = 0; i < 200 && fake.jobs.size === 0; i++) await Bun.sleep(10);
  retried.controller.abort(new Error("stop"));
  await expect(retried.run).rejects.toThrow("stop");
  expect(JSON.parse(readFileSync(retried.ledger, "utf8"))).toMatchObject({ status: "CANCELLED" });
  fake.stop();

  fake = startFakeEndpoint();
  fake.plan = { queueMs: 30_000 };
  fake.failNext("cancel", 500, 100);
  const failed = abortableRun("cancel-failed");
  for (let i = 0; i < 200 && fake.jobs.size === 0; i++) await Bun.sleep(10);
  failed.controller.abort(new Error("stop"));
  await expect(failed.run).rejects.toThrow("stop");
  expect(fake.cancels).toEqual([]);
  expect(JSON.parse(readFileSync(failed.ledger, "utf8"))).toMatchObject({ status: "UNKNOWN" });
}, 30_000);

test("aborting while /run is on its way waits for the job's id and cancels the job it queued", async () => {
  fake = startFakeEndpoint();
  fake.plan = { queueMs: 30_000 };
  fake.submitDelayMs = 300;
  const notes: string[] = [];
  const { controller, run, ledger } = abortableRun("abort-submit", {
    view: { ...view, note: (text: string) => notes.push(text) },
  });
  // queued on the endpoint, its answer not back yet
  for (let i = 0; i < 200 && fake.jobs.size === 0; i++) await Bun.sleep(5);
  controller.abort(new Error("stop"));
  await expect(run).rejects.toThrow("stop");
  const [id] = [...fake.jobs.keys()];
  expect(fake.cancels).toEqual([id as string]);
  expect(fake.jobs.get(id as string)?.status).toBe("CANCELLED");
  expect(notes[0]).toContain("waiting for the job's id to cancel it");
  expect(JSON.parse(readFileSync(ledger, "utf8"))).toMatchObject({
    job_id: id,
    status: "CANCELLED",
  });
});

test("aborting while /run never answers ends as interrupted (not as an unreachable endpoint)", async () => {
  fake = startFakeEndpoint();
  fake.submitDelayMs = 5_000;
  const controller = new AbortController();
  const run = runRemote(
    createEndpointClient({ endpoint: fake.url, timeoutMs: 300 }),
    options(join(dir, "abort-hung-submit"), { signal: controller.signal }),
  );
  await Bun.sleep(100);
  controller.abort(new Error("stop"));
  await expect(run).rejects.toThrow("stop");
});

test("aborting while /run is retried after a 429 stops the retries: nothing was queued", async () => {
  fake = startFakeEndpoint();
  fake.failNext("run", 429, 1, { "retry-after": "5" });
  const { controller, run } = abortableRun("abort-retry");
  for (let i = 0; i < 200 && fake.requests.length === 0; i++) await Bun.sleep(5);
  controller.abort(new Error("stop"));
  await expect(run).rejects.toThrow("stop");
  expect(fake.requests.filter((r) => r.startsWith("POST")).length).toBe(1);
  expect(fake.jobs.size).toBe(0);
});
