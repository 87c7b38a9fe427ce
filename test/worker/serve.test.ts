import { expect, test } from "bun:test";
import { freePort, sd15Workflow } from "../helpers/emulator.ts";
import { eventually, type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";
import { edit, type NodeSpec, rawUi, sd15Links, sd15Nodes } from "../workflow/_ui.ts";

type Worker = Awaited<ReturnType<typeof startTestWorker>>;
const track = stopAfterEach();

async function worker(env: Record<string, string> = {}): Promise<Worker> {
  return track(await startTestWorker(env));
}

async function runsync(w: Worker, input: unknown, wait = 20_000): Promise<Json> {
  return (await (await w.api(`/v2/test/runsync?wait=${wait}`, jsonPost({ input }))).json()) as Json;
}

// a tiny but valid WAV: RIFF header, 8 kHz mono, 8 samples
const WAV = Buffer.concat([
  Buffer.from("RIFF"),
  Buffer.from([44, 0, 0, 0]),
  Buffer.from("WAVEfmt "),
  Buffer.from([16, 0, 0, 0, 1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0]),
  Buffer.from("data"),
  Buffer.from([8, 0, 0, 0]),
  Buffer.alloc(8, 128),
]).toString("base64");

function multiOutputWorkflow(): Json {
  const wf = sd15Workflow();
  wf["5"].inputs = { width: 64, height: 48, batch_size: 2 };
  wf["9"].inputs.filename_prefix = "sub/dir/img";
  wf["10"] = { class_type: "PreviewImage", inputs: { images: ["8", 0] } };
  wf["11"] = {
    class_type: "SaveAnimatedWEBP",
    inputs: { images: ["8", 0], filename_prefix: "anim", fps: 6, lossless: true, quality: 80, method: "default" },
  };
  wf["12"] = { class_type: "LoadAudio", inputs: { audio: "clips/voice.wav" } };
  wf["13"] = { class_type: "SaveAudio", inputs: { audio: ["12", 0], filename_prefix: "audio/out" } };
  wf["14"] = { class_type: "PreviewAny", inputs: { source: ["6", 0] } };
  return wf;
}

test("a job returns every output: images in subfolders, video-ish, audio and text; temp only on request", async () => {
  const w = await worker();
  const input = {
    workflow: multiOutputWorkflow(),
    images: [{ name: "clips/voice.wav", image: WAV }],
    overrides: { "6.text": "a red cube" },
  };
  const result = await runsync(w, input);
  expect(result.status).toBe("COMPLETED");
  const output = result.output as Json;
  expect(output.images.map((f: Json) => [f.node_id, f.subfolder, f.mime])).toEqual([
    ["9", "sub/dir", "image/png"],
    ["9", "sub/dir", "image/png"],
  ]);
  const png = Buffer.from(output.images[0].data, "base64");
  expect([png.readUInt32BE(16), png.readUInt32BE(20)]).toEqual([64, 48]);
  expect(output.videos.map((f: Json) => f.node_id)).toEqual(["11"]);
  expect(output.audio).toHaveLength(1);
  expect(output.audio[0]).toMatchObject({ node_id: "13", subfolder: "audio", type: "base64" });
  expect(output.text).toEqual([{ node_id: "14", text: expect.any(String) }]);
  expect(Object.keys(output.timings)).toEqual([
    "validate_ms",
    "queue_ms",
    "execution_ms",
    "collect_ms",
    "upload_ms",
    "total_ms",
    // the first job of a worker also carries its start-up timeline
    "cold_start",
  ]);
  expect(result.executionTime).toBeGreaterThan(0);
  const withTemp = await runsync(w, { ...input, output: { include_temp: true } });
  expect(withTemp.output.images.map((f: Json) => f.node_id)).toEqual(["9", "9", "10", "10"]);
});

test("an execution_error fails the job with the exception and ComfyUI's last log lines", async () => {
  const w = await worker({ COMFY_ARGS: "--fail-node KSampler" });
  const result = await runsync(w, { workflow: sd15Workflow() });
  expect(result.status).toBe("FAILED");
  expect(result.error).toContain("node 3 (KSampler, 512×512, batch 1) failed");
  const details = result.output.details as Json;
  expect(details.code).toBe("E_JOB_FAILED");
  expect(details.exception).toMatchObject({ node_id: "3", node_type: "KSampler" });
  expect(details.exception.traceback.length).toBeGreaterThan(0);
  expect(details.last_log_lines.join("\n")).toContain("got prompt");
});

test("a crash mid-job fails that job only; ComfyUI restarts and the next job completes", async () => {
  const w = await worker({ COMFY_ARGS: "--exit-after 2 --node-ms 50" });
  expect((await runsync(w, { workflow: sd15Workflow() })).status).toBe("COMPLETED");
  const crashed = await runsync(w, { workflow: sd15Workflow() });
  expect(crashed.status).toBe("FAILED");
  expect(crashed.error).toContain("ComfyUI exited");
  expect(crashed.output.details.last_log_lines.join("\n")).toContain("Traceback");
  const next = await runsync(w, { workflow: sd15Workflow() });
  expect(next.status).toBe("COMPLETED");
  expect(w.comfy.restarts).toBe(1);
  const health = (await (await w.api("/health")).json()) as Json;
  expect(health.comfy.restarts).toBe(1);
});

test("a websocket dropped mid-prompt still completes the job", async () => {
  const w = await worker({ COMFY_ARGS: "--drop-ws-ms 30 --node-ms 60" });
  const result = await runsync(w, { workflow: sd15Workflow() });
  expect(result.status).toBe("COMPLETED");
  expect(result.output.images).toHaveLength(1);
});

test("a hung ComfyUI is detected, its job fails, and it is restarted", async () => {
  const w = await worker({ COMFY_ARGS: "--hang-after 1" });
  const result = await runsync(w, { workflow: sd15Workflow() });
  expect(result.status).toBe("FAILED");
  expect(result.error).toContain("ComfyUI stopped responding");
  await eventually(() => w.comfy.restarts === 1 && w.comfy.state === "ready", "restart after the hang");
});

test("a slow start is reported as starting, then ready", async () => {
  const port = await freePort();
  const pending = startTestWorker({ COMFY_ARGS: "--startup-delay-ms 2000", PORT: String(port) });
  const url = `http://127.0.0.1:${port}`;
  let health: Response | undefined;
  await eventually(async () => {
    health = await fetch(`${url}/health`).catch(() => undefined);
    return health !== undefined;
  }, "the HTTP server to answer while ComfyUI starts");
  expect(((await (health as Response).json()) as Json).status).toBe("starting");
  expect((await fetch(`${url}/ping`)).status).toBe(204);
  expect((await fetch(`${url}/ready`)).status).toBe(503);
  const w = await pending;
  track(w);
  expect((await w.api("/ready")).status).toBe(200);
  expect(((await (await w.api("/health")).json()) as Json).status).toBe("ready");
});

test("after COMFY_MAX_RESTARTS the worker reports failed", async () => {
  const w = await worker({ COMFY_ARGS: "--exit-after 1", COMFY_MAX_RESTARTS: "1" });
  expect((await runsync(w, { workflow: sd15Workflow() })).status).toBe("FAILED");
  await eventually(() => w.comfy.state === "ready", "first restart");
  expect((await runsync(w, { workflow: sd15Workflow() })).status).toBe("FAILED");
  await eventually(() => w.comfy.state === "failed", "giving up");
  const health = await w.api("/health");
  expect(health.status).toBe(503);
  expect(((await health.json()) as Json).status).toBe("failed");
  expect((await w.api("/ping")).status).toBe(503);
});

test("cancel interrupts a running job and removes a queued one", async () => {
  const w = await worker({ COMFY_ARGS: "--node-ms 400" });
  const first = (await (await w.api("/run", jsonPost({ input: { workflow: sd15Workflow() } }))).json()) as Json;
  const second = (await (await w.api("/run", jsonPost({ input: { workflow: sd15Workflow() } }))).json()) as Json;
  await eventually(
    async () => ((await (await w.api(`/status/${first.id}`)).json()) as Json).status === "IN_PROGRESS",
    "first job running",
  );
  expect(((await (await w.api(`/cancel/${second.id}`, { method: "POST" })).json()) as Json).status).toBe("CANCELLED");
  await (await w.api(`/cancel/${first.id}`, { method: "POST" })).json();
  await eventually(
    async () => ((await (await w.api(`/status/${first.id}`)).json()) as Json).status === "CANCELLED",
    "first job cancelled",
    10_000,
  );
  // the worker is free again at once
  const next = await runsync(w, { workflow: sd15Workflow() });
  expect(next.status).toBe("COMPLETED");
});

test("CONCURRENCY=2 runs two jobs at once", async () => {
  const w = await worker({ CONCURRENCY: "2", COMFY_ARGS: "--node-ms 100" });
  const ids = await Promise.all(
    [1, 2].map(
      async () =>
        ((await (await w.api("/run", jsonPost({ input: { workflow: sd15Workflow() } }))).json()) as Json).id as string,
    ),
  );
  await eventually(
    async () => ((await (await w.api("/health")).json()) as Json).jobs.inProgress === 2,
    "two jobs in progress",
  );
  for (const id of ids) {
    const done = (await (await w.api(`/status-sync/${id}?wait=20000`)).json()) as Json;
    expect(done.status).toBe("COMPLETED");
  }
});

test("bad input gets a clear failure and the worker keeps serving", async () => {
  const w = await worker();
  const traversal = await runsync(w, { workflow: sd15Workflow(), images: [{ name: "../../etc/x.png", image: WAV }] });
  expect(traversal).toMatchObject({ status: "FAILED", output: { details: { code: "E_INPUT" } } });
  expect(traversal.error).toContain("escape the input folder");
  const badBase64 = await runsync(w, { workflow: sd15Workflow(), images: [{ name: "x.png", image: "%%%not-base64" }] });
  expect(badBase64.error).toContain("not valid base64");
  const privateUrl = await runsync(w, {
    workflow: sd15Workflow(),
    images: [{ name: "x.png", image: "https://127.0.0.1/x.png" }],
  });
  expect(privateUrl.error).toContain("DOWNLOAD_ALLOW_HOSTS");
  const unknownNode = await runsync(w, {
    workflow: { ...sd15Workflow(), "20": { class_type: "IPAdapterAdvanced", inputs: {} } },
  });
  expect(unknownNode).toMatchObject({ status: "FAILED", output: { details: { code: "E_UNKNOWN_NODE" } } });
  expect(unknownNode.error).toContain("IPAdapterAdvanced");
  const missingModel = sd15Workflow();
  missingModel["4"].inputs.ckpt_name = "nope.safetensors";
  const rejected = await runsync(w, { workflow: missingModel });
  expect(rejected).toMatchObject({ status: "FAILED", output: { details: { code: "E_WEIGHTS_MISSING" } } });
  expect(rejected.output.details.missing_weights).toEqual([
    expect.objectContaining({ folder: "checkpoints", name: "nope.safetensors" }),
  ]);
  const huge = await w.api("/run", jsonPost({ input: { workflow: sd15Workflow(), pad: "x".repeat(31 * 1_048_576) } }));
  expect(huge.status).toBe(413);
  expect((await runsync(w, { workflow: sd15Workflow() })).status).toBe("COMPLETED");
});

/** The SD 1.5 graph as the editor saves it (UI format), small and writing `from-ui_*.png`. */
function uiWorkflow(extra: NodeSpec[] = []): Json {
  let nodes = edit(sd15Nodes(), 9, (node) => ({ ...node, widgets_values: ["from-ui"] }));
  nodes = edit(nodes, 5, (node) => ({ ...node, widgets_values: [64, 64, 1] }));
  return rawUi([...nodes, ...extra], sd15Links());
}

test("a UI-format workflow is converted with ComfyUI's /object_info and runs", async () => {
  const w = await worker();
  const result = await runsync(w, { workflow: uiWorkflow(), overrides: { "6.text": "a dog" } });
  expect(result.status).toBe("COMPLETED");
  expect(result.output.images.map((f: Json) => f.filename)).toEqual(["from-ui_00001_.png"]);
  const unknown = uiWorkflow([{ id: 20, type: "IPAdapterAdvanced", properties: { cnr_id: "comfyui_ipadapter_plus" } }]);
  const failed = await runsync(w, { workflow: unknown });
  expect(failed).toMatchObject({ status: "FAILED", output: { details: { code: "E_UNKNOWN_NODE" } } });
  expect(failed.error).toContain("IPAdapterAdvanced (from comfyui_ipadapter_plus)");
});
