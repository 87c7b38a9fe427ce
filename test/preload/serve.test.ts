import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { isWorkerError } from "../../src/errors.ts";
import { tempDir } from "../helpers/download.ts";
import { freePort, sd15Workflow } from "../helpers/emulator.ts";
import { writeManifest } from "../helpers/pull.ts";
import { contentSha256, startWeightHost, type WeightHost } from "../helpers/weight-host.ts";
import { eventually, type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";

// serve --emulate in-process with PRELOAD_KIT, PRELOAD_WORKFLOW, WARMUP_WORKFLOW and WEIGHTS_MODE=download,
// downloading from a weight host on loopback

const MB = 1_048_576;
const work = tempDir("cw-preload-");
const track = stopAfterEach();
let host: WeightHost;
beforeAll(() => {
  host = startWeightHost();
});
afterAll(() => {
  host.stop();
  work[Symbol.dispose]();
});

/** An API workflow file whose checkpoint is `ckpt`, declaring `url` as its source when given. */
async function workflowFile(ckpt: string, url?: string, sha256?: string, size?: number): Promise<string> {
  const workflow = sd15Workflow();
  workflow["4"].inputs.ckpt_name = ckpt;
  if (url) workflow["4"]._meta = { required_weights: [{ folder: "checkpoints", name: ckpt, url, sha256, size }] };
  const path = join(work.dir, `${crypto.randomUUID()}.json`);
  await Bun.write(path, JSON.stringify(workflow));
  return path;
}

const getJson = async (url: string): Promise<Json | undefined> =>
  fetch(url, { signal: AbortSignal.timeout(5_000) }).then(
    (res) => res.json() as Promise<Json>,
    () => undefined,
  );

test(
  "preloads finish before /ready says 200, with per-weight progress in /health; the warmup then runs once",
  async () => {
    const kitSize = 4 * MB;
    host.serve("/kit.safetensors", { size: kitSize, seed: 51, throttleBytesPerSec: 2 * MB });
    host.serve("/wf.safetensors", { size: MB / 2, seed: 52 });
    const kit = await writeManifest(join(work.dir, "kit.yaml"), [
      { folder: "loras", name: "kit.safetensors", url: host.url("/kit.safetensors"), size: kitSize },
    ]);
    const ckpt = `preloaded-${crypto.randomUUID()}.safetensors`;
    const workflow = await workflowFile(ckpt, host.url("/wf.safetensors"), contentSha256(52, MB / 2));
    const port = await freePort();
    const base = `http://127.0.0.1:${port}`;
    const starting = startTestWorker({
      PORT: String(port),
      PRELOAD_KIT: kit,
      PRELOAD_WORKFLOW: workflow,
      WARMUP_WORKFLOW: workflow,
      DOWNLOAD_CONNECTIONS: "1",
    });
    starting.catch(() => {});
    let health: Json | undefined;
    await eventually(async () => {
      health = await getJson(`${base}/health`);
      return health?.weights.state === "downloading";
    }, "weights.state downloading");
    expect(health?.status).toBe("starting");
    expect(health?.weights.files).toContainEqual(
      expect.objectContaining({ folder: "loras", name: "kit.safetensors", state: "downloading", total: kitSize }),
    );
    expect((await fetch(`${base}/ready`)).status).toBe(503);
    // a job sent while starting waits for preloads and warmup
    const queued = (await (
      await fetch(`${base}/run`, jsonPost({ input: { workflow: sd15Workflow() } }))
    ).json()) as Json;
    expect(queued.status).toBe("IN_QUEUE");

    const worker = await starting;
    track(worker);
    expect((await worker.api("/ready")).status).toBe(200);
    const weights = ((await (await worker.api("/health")).json()) as Json).weights;
    expect(weights).toMatchObject({ state: "ready", pending: 0, missing: [] });
    expect(weights.files).toContainEqual(expect.objectContaining({ name: "kit.safetensors", state: "ready" }));
    expect(weights.files).toContainEqual(expect.objectContaining({ name: ckpt, state: "ready" }));
    expect(host.bytesSent("/kit.safetensors")).toBe(kitSize + 1);
    expect(await (await worker.api("/metrics")).text()).toContain(
      `comfy_worker_download_bytes_total ${kitSize + MB / 2}`,
    );
    // the warmup ran exactly once, and before the job that was queued while starting
    let done: Json = {};
    await eventually(async () => {
      done = (await (await worker.api(`/status/${queued.id}`)).json()) as Json;
      return done.status === "COMPLETED";
    }, "the queued job");
    const history = Object.keys((await getJson(`${worker.comfy.url}/history`)) ?? {});
    expect(history).toHaveLength(2);
    expect(history.at(-1)).toBe(done.output.prompt_id);
  },
  { timeout: 60_000 },
);

test("a preload that fails for good stops the start with E_DOWNLOAD (exit 4) and closes the port", async () => {
  const kit = await writeManifest(join(work.dir, "broken.yaml"), [
    { folder: "vae", name: "gone.safetensors", url: host.url("/gone.safetensors") },
  ]);
  const port = await freePort();
  const error = await startTestWorker({ PORT: String(port), PRELOAD_KIT: kit }).catch((e) => e);
  expect(isWorkerError(error) && error.code).toBe("E_DOWNLOAD");
  expect(error.message).toContain("preload failed: 1 weight(s) not ready; vae/gone.safetensors:");
  expect(error.message).toContain("HTTP 404");
  expect(await getJson(`http://127.0.0.1:${port}/health`)).toBeUndefined();
});

test("a failing warmup stops the start with the job's error code", async () => {
  const workflow = await workflowFile(`absent-${crypto.randomUUID()}.safetensors`);
  const error = await startTestWorker({ WARMUP_WORKFLOW: workflow }).catch((e) => e);
  expect(isWorkerError(error) && error.code).toBe("E_WEIGHTS_MISSING");
  expect(error.message).toStartWith(
    `WARMUP_WORKFLOW ${workflow} failed, so the worker does not start: missing weights:`,
  );
});

test(
  "WEIGHTS_MODE=download: two jobs needing one file share one download and show it as progress",
  async () => {
    const size = 4 * MB;
    host.serve("/shared.safetensors", { size, seed: 53, throttleBytesPerSec: 4 * MB });
    const w = await startTestWorker(
      { WEIGHTS_MODE: "download", CONCURRENCY: "2", DOWNLOAD_ALLOW_HOSTS: "127.0.0.1", DOWNLOAD_CONNECTIONS: "1" },
      { allowPrivateDownloads: true },
    );
    track(w);
    const ckpt = `shared-${crypto.randomUUID()}.safetensors`;
    const workflow = await Bun.file(
      await workflowFile(ckpt, host.url("/shared.safetensors"), contentSha256(53, size)),
    ).json();
    const submit = async (seed: number) =>
      ((await (await w.api("/run", jsonPost({ input: { workflow, overrides: { "3.seed": seed } } }))).json()) as Json)
        .id;
    const ids = [await submit(1), await submit(2)];
    const status = async (id: string) => ((await (await w.api(`/status/${id}`)).json()) as Json).status;
    await eventually(
      async () => (await status(ids[0])) === "COMPLETED" && (await status(ids[1])) === "COMPLETED",
      "both jobs",
      30_000,
    );
    expect(host.bytesSent("/shared.safetensors")).toBe(size + 1);
    for (const id of ids) {
      const chunks = ((await (await w.api(`/stream/${id}`)).json()) as Json).stream as Json[];
      const download = chunks.map((c) => c.output).filter((p) => p.node === `download:checkpoints/${ckpt}`);
      expect(download.length).toBeGreaterThan(0);
      expect(download.at(-1)).toMatchObject({ max: size });
    }
    const health = ((await (await w.api("/health")).json()) as Json).weights;
    expect(health.files).toContainEqual(expect.objectContaining({ name: ckpt, state: "ready" }));
  },
  { timeout: 60_000 },
);

test("WEIGHTS_MODE=download still fails fast for a weight with no source, and refuses hosts not allowed", async () => {
  const w = await startTestWorker({ WEIGHTS_MODE: "download", DOWNLOAD_ALLOW_HOSTS: "127.0.0.1" });
  track(w);
  const runsync = async (workflow: Json) =>
    (await (await w.api("/runsync?wait=20000", jsonPost({ input: { workflow } }))).json()) as Json;
  const name = `nowhere-${crypto.randomUUID()}.safetensors`;
  const none = await runsync(await Bun.file(await workflowFile(name)).json());
  expect(none).toMatchObject({ status: "FAILED", output: { details: { code: "E_WEIGHTS_MISSING" } } });
  expect(none.error).toStartWith(`missing weights: checkpoints/${name}`);

  const elsewhere = await runsync(await Bun.file(await workflowFile(name, "https://example.com/x.safetensors")).json());
  expect(elsewhere).toMatchObject({ status: "FAILED", output: { details: { code: "E_INPUT" } } });
  expect(elsewhere.error).toContain("is not on DOWNLOAD_ALLOW_HOSTS (127.0.0.1)");
  // without the test seam a job's plain-http (loopback) source is refused even when its host is allowed
  const loopback = await runsync(await Bun.file(await workflowFile(name, host.url("/shared.safetensors"))).json());
  expect(loopback.error).toContain("only https URLs are fetched");
  expect((await getJson(`${w.comfy.url}/history`)) ?? {}).toEqual({});
});

test("WEIGHTS_MODE=download holds a job's download to the size its workflow declares", async () => {
  host.serve("/sized.safetensors", { size: MB / 4, seed: 54 });
  const w = await startTestWorker(
    { WEIGHTS_MODE: "download", DOWNLOAD_ALLOW_HOSTS: "127.0.0.1", DOWNLOAD_CONNECTIONS: "1" },
    { allowPrivateDownloads: true },
  );
  track(w);
  const name = `sized-${crypto.randomUUID()}.safetensors`;
  const workflow = await Bun.file(await workflowFile(name, host.url("/sized.safetensors"), undefined, 1000)).json();
  const result = (await (await w.api("/runsync?wait=20000", jsonPost({ input: { workflow } }))).json()) as Json;
  expect(result).toMatchObject({ status: "FAILED", output: { details: { code: "E_DOWNLOAD" } } });
  expect(result.error).toContain(`${MB / 4} bytes but 1000 are expected`);
});
