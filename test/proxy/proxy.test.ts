import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { encodePng, gradientImage, pngSize } from "../../src/emulator/png.ts";
import { addPngInfo } from "../../src/proxy/png-info.ts";
import { readPngText } from "../../src/workflow/png.ts";
import type { Json } from "../helpers/emulator.ts";
import { addModel, type SpawnedEmulator, spawnEmulator } from "../helpers/emulator.ts";
import { type FrontendClient as Client, FrontendClient, PromptExecutionError } from "../helpers/frontend-client.ts";
import { type Proc, spawnEndpoint, spawnProxy } from "./_stack.ts";

const WORKFLOW = (await Bun.file(join(import.meta.dir, "../../examples/sd15-txt2img.json")).json()) as Record<
  string,
  { class_type: string; inputs: Record<string, unknown> }
>;
const UI_WORKFLOW = { last_node_id: 9, nodes: [], links: [], version: 0.4 };
const CKPT = "v1-5-pruned-emaonly.safetensors";

let local: SpawnedEmulator;
let endpoint: Proc & { url: string; base: string };
let proxy: Proc & { url: string; out: string; jobIds(): string[] };

beforeAll(async () => {
  [local, endpoint] = await Promise.all([
    spawnEmulator({ args: ["--previews"] }),
    // slow enough to interrupt mid-run; ImageInvert fails on the endpoint only
    spawnEndpoint("--node-ms 300 --fail-node ImageInvert"),
  ]);
  await addModel(local.base, "checkpoints", CKPT);
  proxy = await spawnProxy(local.url, endpoint.url);
}, 60_000);

afterAll(async () => {
  await Promise.all([proxy?.stop(), endpoint?.stop(), local?.stop()]);
});

async function client(base: string): Promise<Client> {
  const c = new FrontendClient(base);
  await c.init();
  return c;
}

function workflow(edit: (wf: typeof WORKFLOW) => void = () => {}): typeof WORKFLOW {
  const wf = structuredClone(WORKFLOW);
  edit(wf);
  return wf;
}

// what the UI reacts to, in order: progress steps collapse to one entry per node (the stream is sampled); a
// node's first progress_state "running" is its own entry, since a real 0.28.2 sends it before `executing`
function shape(c: Client, promptId: string): string[] {
  const out: string[] = [];
  const running = new Set<string>();
  for (const e of c.eventsOf(promptId)) {
    const d = e.data;
    let entry: string | undefined;
    if (e.type === "progress_state") {
      const nodes = Object.entries(d.nodes as Record<string, { state: string }>);
      const started = nodes.find(([id, node]) => node.state === "running" && !running.has(id))?.[0];
      if (started) running.add(started);
      entry = started ? `running:${started}` : undefined;
    } else if (e.type === "executing") entry = `executing:${d.node}`;
    else if (e.type === "executed") entry = `executed:${d.node}:${Object.keys(d.output as object).join(",")}`;
    else if (e.type === "progress") entry = `progress:${d.node}:${d.max}`;
    else if (e.type.startsWith("execution_")) entry = e.type;
    if (entry && out.at(-1) !== entry) out.push(entry);
  }
  return out;
}

type FileRef = { filename: string; subfolder: string; type: string };

function firstImage(c: Client, promptId: string): FileRef {
  const executed = c.eventsOf(promptId).find((e) => e.type === "executed");
  const file = (executed?.data.output as { images?: FileRef[] } | undefined)?.images?.[0];
  if (!file) throw new Error(`prompt ${promptId} showed no image`);
  return file;
}

describe("proxy in front of ComfyUI, Queue on the endpoint", () => {
  test("a frontend sees the events, outputs, history and queue entries a direct run gives", async () => {
    const direct = await client(local.url);
    const through = await client(proxy.url);
    const a = await direct.queuePrompt(0, { output: workflow(), workflow: UI_WORKFLOW });
    await direct.finished(a.prompt_id);
    const b = await through.queuePrompt(0, { output: workflow(), workflow: UI_WORKFLOW });
    expect(b.node_errors).toEqual({});
    // the prompt is in the queue panel while it runs on the endpoint
    const queue = await through.getQueue();
    expect([...queue.queue_running, ...queue.queue_pending].map((item) => item[1])).toContain(b.prompt_id);
    await through.finished(b.prompt_id, 40_000);
    expect(shape(through, b.prompt_id)).toEqual(shape(direct, a.prompt_id));
    expect(shape(through, b.prompt_id)).toContain("executed:9:images");

    const fileA = firstImage(direct, a.prompt_id);
    const fileB = firstImage(through, b.prompt_id);
    const bytesA = new Uint8Array(await (await direct.view(fileA)).arrayBuffer());
    const viewB = await through.view(fileB);
    expect(viewB.status).toBe(200);
    const bytesB = new Uint8Array(await viewB.arrayBuffer());
    // same image size and the same embedded prompt and UI workflow (the emulator seeds pixels by prompt id)
    expect(bytesB.length).toBeGreaterThan(1000);
    expect(readPngText(bytesB, "b")).toEqual(readPngText(bytesA, "a"));
    expect(bytesB.subarray(16, 24)).toEqual(bytesA.subarray(16, 24));
    expect(new Uint8Array(await Bun.file(join(proxy.out, fileB.subfolder, fileB.filename)).arrayBuffer())).toEqual(
      bytesB,
    );
    // byte for byte what the endpoint produced, plus the UI workflow chunk SaveImage embeds on a local run
    const jobId = proxy.jobIds().at(-1);
    const job = (await (await fetch(`${endpoint.url}/status/${jobId}`)).json()) as Json;
    const remoteBytes = new Uint8Array(Buffer.from(job.output.images[0].data, "base64"));
    expect(new Uint8Array(addPngInfo(remoteBytes, { workflow: UI_WORKFLOW }))).toEqual(bytesB);

    const history = await through.getHistory();
    const entry = history[b.prompt_id] as { outputs: Record<string, unknown>; status: { status_str: string } };
    expect(entry.status.status_str).toBe("success");
    expect(entry.outputs["9"]).toEqual({ images: [fileB] });
    // ComfyUI's own history is still there
    expect(Object.keys(history)).toContain(a.prompt_id);
    direct.close();
    through.close();
  }, 60_000);

  test("interrupt from the UI cancels the remote job", async () => {
    const c = await client(proxy.url);
    const before = proxy.jobIds().length;
    // a new seed: the endpoint's ComfyUI would serve an unchanged prompt from its cache at once
    const wf = workflow((w) => {
      (w["3"] as { inputs: Record<string, unknown> }).inputs.seed = 1234;
    });
    const { prompt_id } = await c.queuePrompt(0, { output: wf, workflow: UI_WORKFLOW });
    await c.waitFor((e) => e.type === "progress" && e.data.prompt_id === prompt_id, 30_000);
    await c.interrupt(prompt_id);
    await c.finished(prompt_id, 30_000);
    const interrupted = c.eventsOf(prompt_id).find((e) => e.type === "execution_interrupted");
    expect(interrupted?.data.node_id).toBe("3");
    expect(c.eventsOf(prompt_id).some((e) => e.type === "execution_success")).toBe(false);
    const jobId = proxy.jobIds()[before];
    const status = (await (await fetch(`${endpoint.url}/status/${jobId}`)).json()) as { status: string };
    expect(status.status).toBe("CANCELLED");
    c.close();
  }, 60_000);

  test("another tab gets none of a prompt's events, progress_state included, as with ComfyUI", async () => {
    const [mine, other] = [await client(proxy.url), await client(proxy.url)];
    const wf = workflow((w) => {
      (w["3"] as { inputs: Record<string, unknown> }).inputs.seed = 777;
    });
    const { prompt_id } = await mine.queuePrompt(0, { output: wf, workflow: UI_WORKFLOW });
    await mine.finished(prompt_id, 30_000);
    expect(mine.eventsOf(prompt_id).some((e) => e.type === "progress_state")).toBe(true);
    expect(mine.eventsOf(prompt_id).some((e) => e.type === "progress")).toBe(true);
    expect(other.eventsOf(prompt_id).map((e) => e.type)).toEqual([]);
    mine.close();
    other.close();
  }, 60_000);

  test("POST /api/jobs/cancel cancels remote prompts, running and pending, and leaves the rest to ComfyUI", async () => {
    const c = await client(proxy.url);
    const seeded = (seed: number) =>
      workflow((w) => {
        (w["3"] as { inputs: Record<string, unknown> }).inputs.seed = seed;
      });
    const running = await c.queuePrompt(0, { output: seeded(4321), workflow: UI_WORKFLOW });
    const pending = await c.queuePrompt(0, { output: seeded(4322), workflow: UI_WORKFLOW });
    await c.waitFor((e) => e.type === "progress" && e.data.prompt_id === running.prompt_id, 30_000);
    const cancel = (ids: unknown[]) =>
      fetch(`${proxy.url}/api/jobs/cancel`, { method: "POST", body: JSON.stringify({ job_ids: ids }) });
    // a malformed id is ComfyUI's 400, and then nothing is cancelled
    expect((await cancel([running.prompt_id, "not-an-id"])).status).toBe(400);
    expect((await c.getQueue()).queue_pending.map((item) => item[1])).toContain(pending.prompt_id);
    // ours and an id ComfyUI does not know
    const res = await cancel([running.prompt_id, pending.prompt_id, crypto.randomUUID()]);
    expect(await res.json()).toEqual({ cancelled: true });
    await c.finished(running.prompt_id, 30_000);
    expect(c.eventsOf(running.prompt_id).some((e) => e.type === "execution_interrupted")).toBe(true);
    expect((await c.getQueue()).queue_pending.map((item) => item[1])).not.toContain(pending.prompt_id);
    // ComfyUI's answer for a job with nothing left to cancel
    const again = await fetch(`${proxy.url}/api/jobs/${running.prompt_id}/cancel`, { method: "POST" });
    expect(await again.json()).toEqual({ cancelled: false });
    c.close();
  }, 60_000);

  test("a client reconnecting mid-run is told the executing node, as ComfyUI tells it", async () => {
    const c = await client(proxy.url);
    const wf = workflow((w) => {
      (w["3"] as { inputs: Record<string, unknown> }).inputs.seed = 99;
    });
    const { prompt_id } = await c.queuePrompt(0, { output: wf, workflow: UI_WORKFLOW });
    await c.waitFor((e) => e.type === "progress" && e.data.prompt_id === prompt_id, 30_000);
    c.close();
    const again = new FrontendClient(proxy.url);
    await again.init(c.clientId);
    const resent = await again.waitFor((e) => e.type === "executing", 5_000);
    expect(resent.data).toEqual({ node: "3" });
    await again.finished(prompt_id, 40_000);
    expect(again.eventsOf(prompt_id).some((e) => e.type === "execution_success")).toBe(true);
    again.close();
  }, 60_000);

  test("a remote failure shows as execution_error with the node and its message", async () => {
    const c = await client(proxy.url);
    const wf = workflow((w) => {
      w["10"] = { class_type: "ImageInvert", inputs: { image: ["8", 0] } };
      w["9"] = { class_type: "SaveImage", inputs: { filename_prefix: "inv", images: ["10", 0] } };
    });
    const { prompt_id } = await c.queuePrompt(0, { output: wf, workflow: UI_WORKFLOW });
    await c.finished(prompt_id, 40_000);
    const error = c.eventsOf(prompt_id).find((e) => e.type === "execution_error");
    expect(error?.data).toMatchObject({ node_id: "10", node_type: "ImageInvert", exception_type: "RuntimeError" });
    expect(String(error?.data.exception_message)).toContain("Emulated failure in ImageInvert");
    const history = await c.getHistory();
    expect((history[prompt_id] as { status: { status_str: string } }).status.status_str).toBe("error");
    c.close();
  }, 60_000);

  test("a model the endpoint lacks gets ComfyUI's value_not_in_list, at once on the next queue", async () => {
    const c = await client(proxy.url);
    const wf = workflow((w) => {
      (w["4"] as { inputs: Record<string, unknown> }).inputs.ckpt_name = "not-on-endpoint.safetensors";
    });
    const { prompt_id } = await c.queuePrompt(0, { output: wf, workflow: UI_WORKFLOW });
    await c.finished(prompt_id, 40_000);
    const error = c.eventsOf(prompt_id).find((e) => e.type === "execution_error");
    expect(error?.data).toMatchObject({ node_id: "4", node_type: "CheckpointLoaderSimple" });
    expect(String(error?.data.exception_message)).toContain(
      "Value not in list: ckpt_name: 'not-on-endpoint.safetensors' is not on the endpoint",
    );
    const again = await c.queuePrompt(0, { output: wf, workflow: UI_WORKFLOW }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(PromptExecutionError);
    const body = (again as PromptExecutionError).response as { error: { type: string }; node_errors: Json };
    expect(body.error.type).toBe("prompt_outputs_failed_validation");
    expect(body.node_errors["4"].errors[0]).toMatchObject({
      type: "value_not_in_list",
      extra_info: { input_name: "ckpt_name", received_value: "not-on-endpoint.safetensors" },
    });
    c.close();
  }, 60_000);

  test("input files the prompt names are read through the local ComfyUI and sent with the job", async () => {
    await Bun.write(join(local.base, "input", "photos", "cat.png"), encodePng(gradientImage(96, 64, 3)));
    const c = await client(proxy.url);
    const wf = {
      "1": { class_type: "LoadImage", inputs: { image: "photos/cat.png" } },
      "2": { class_type: "SaveImage", inputs: { filename_prefix: "from-input", images: ["1", 0] } },
      "3": { class_type: "PreviewImage", inputs: { images: ["1", 0] } },
    };
    const { prompt_id } = await c.queuePrompt(0, { output: wf, workflow: UI_WORKFLOW });
    await c.finished(prompt_id, 40_000);
    const bytes = new Uint8Array(await (await c.view(firstImage(c, prompt_id))).arrayBuffer());
    // the endpoint's emulator sizes the output from the image it was given
    expect(pngSize(bytes)).toEqual({ width: 96, height: 64 });
    // PreviewImage's temp file comes back too, as a temp image the UI can load
    const preview = c.eventsOf(prompt_id).find((e) => e.type === "executed" && e.data.node === "3");
    const file = (preview?.data.output as { images: FileRef[] } | undefined)?.images[0];
    expect(file?.type).toBe("temp");
    expect((await c.view(file as FileRef)).status).toBe(200);
    c.close();
  }, 60_000);

  test("input files over RunPod's /run payload limit are refused at POST /prompt, saying so", async () => {
    await Bun.write(join(local.base, "input", "huge.png"), new Uint8Array(11 * 1024 * 1024));
    const submitted = proxy.jobIds().length;
    const wf = {
      "1": { class_type: "LoadImage", inputs: { image: "huge.png" } },
      "2": { class_type: "SaveImage", inputs: { filename_prefix: "x", images: ["1", 0] } },
    };
    const res = await fetch(`${proxy.url}/api/prompt`, { method: "POST", body: JSON.stringify({ prompt: wf }) });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { error: { type: string; message: string } };
    expect(body.error.type).toBe("payload_too_large");
    expect(body.error.message).toContain("10.0 MB /run limit");
    expect(proxy.jobIds().length).toBe(submitted);
  }, 30_000);

  test("ComfyUI's own routes pass through unchanged: uploads, /object_info, /view of local files", async () => {
    const form = new FormData();
    form.append("image", new Blob([encodePng(gradientImage(16, 16, 5))], { type: "image/png" }), "up.png");
    form.append("subfolder", "via-proxy");
    const upload = await fetch(`${proxy.url}/upload/image`, { method: "POST", body: form });
    expect(await upload.json()).toEqual({ name: "up.png", subfolder: "via-proxy", type: "input" });
    const query = "filename=up.png&subfolder=via-proxy&type=input";
    const [direct, through] = await Promise.all([
      fetch(`${local.url}/view?${query}`).then((r) => r.arrayBuffer()),
      fetch(`${proxy.url}/api/view?${query}`).then((r) => r.arrayBuffer()),
    ]);
    expect(new Uint8Array(through)).toEqual(new Uint8Array(direct));
    const [infoDirect, infoThrough] = await Promise.all([
      fetch(`${local.url}/object_info`).then((r) => r.text()),
      fetch(`${proxy.url}/api/object_info`).then((r) => r.text()),
    ]);
    expect(infoThrough).toBe(infoDirect);
  }, 30_000);

  test("pre-checks answer exactly as ComfyUI does and send nothing to the endpoint", async () => {
    const submitted = proxy.jobIds().length;
    const bad = [
      workflow((w) => {
        (w["3"] as { class_type: string }).class_type = "NoSuchNode";
      }),
      workflow((w) => {
        delete (w["3"] as { inputs: Record<string, unknown> }).inputs.steps;
      }),
      workflow((w) => {
        (w["3"] as { inputs: Record<string, unknown> }).inputs.sampler_name = "not-a-sampler";
      }),
    ];
    for (const prompt of bad) {
      const post = (base: string) =>
        fetch(`${base}/api/prompt`, { method: "POST", body: JSON.stringify({ prompt, client_id: "x" }) });
      const [direct, through] = await Promise.all([post(local.url), post(proxy.url)]);
      expect(through.status).toBe(400);
      expect(await through.json()).toEqual(await direct.json());
    }
    // a prompt_id that is no canonical UUID is refused as the emulator (0.28.2) refuses it
    for (const prompt_id of ["my-id", 7, "6F9619FF-8B86-D011-B42D-00C04FC964FF"]) {
      const post = (base: string) =>
        fetch(`${base}/api/prompt`, { method: "POST", body: JSON.stringify({ prompt: workflow(), prompt_id }) });
      const [direct, through] = await Promise.all([post(local.url), post(proxy.url)]);
      expect([prompt_id, through.status]).toEqual([prompt_id, 400]);
      expect(await through.json()).toEqual(await direct.json());
    }
    // null is "mint one", as with no prompt_id
    const minted = await fetch(`${proxy.url}/api/prompt`, {
      method: "POST",
      headers: { "Comfy-Worker-Target": "remote" },
      body: JSON.stringify({ prompt: workflow(), prompt_id: null }),
    });
    expect(minted.status).toBe(200);
    const mintedId = ((await minted.json()) as { prompt_id: string }).prompt_id;
    expect(mintedId).toMatch(/^[0-9a-f-]{36}$/);
    const noPrompt = await fetch(`${proxy.url}/prompt`, { method: "POST", body: "{}" });
    expect(noPrompt.status).toBe(400);
    expect(((await noPrompt.json()) as { error: { type: string } }).error.type).toBe("no_prompt");
    // only the minted one went to the endpoint; it is let finish before the next test
    for (let i = 0; i < 300; i++) {
      const entry = (await (await fetch(`${proxy.url}/history/${mintedId}`)).json()) as object;
      if (Object.keys(entry).length > 0) break;
      await Bun.sleep(100);
    }
    expect(proxy.jobIds().length).toBe(submitted + 1);
  }, 60_000);

  test("another site's page may not queue through the proxy (ComfyUI's origin check)", async () => {
    const submitted = proxy.jobIds().length;
    const res = await fetch(`${proxy.url}/api/prompt`, {
      method: "POST",
      headers: { origin: "http://evil.example" },
      body: JSON.stringify({ prompt: workflow() }),
    });
    expect(res.status).toBe(403);
    expect(proxy.jobIds().length).toBe(submitted);
  });

  test("the queue target flips to local without a restart; ComfyUI's binary previews pass through", async () => {
    const flip = (target: string) =>
      fetch(`${proxy.url}/comfy-worker/queue-target`, {
        method: "POST",
        headers: { origin: proxy.url },
        body: JSON.stringify({ target }),
      });
    expect(await (await flip("local")).json()).toMatchObject({ target: "local" });
    const c = await client(proxy.url);
    const submitted = proxy.jobIds().length;
    const { prompt_id } = await c.queuePrompt(0, {
      output: workflow((w) => {
        (w["3"] as { inputs: Record<string, unknown> }).inputs.seed = 7;
      }),
      workflow: UI_WORKFLOW,
    });
    await c.finished(prompt_id);
    expect(proxy.jobIds().length).toBe(submitted);
    const localHistory = await (await fetch(`${local.url}/history/${prompt_id}`)).json();
    expect(Object.keys(localHistory as object)).toEqual([prompt_id]);
    expect(c.previews.some((p) => p.promptId === prompt_id && p.mime === "image/png")).toBe(true);
    expect((await flip("remote")).status).toBe(200);
    // one prompt can say where it runs
    const once = await fetch(`${proxy.url}/api/prompt`, {
      method: "POST",
      headers: { "Comfy-Worker-Target": "local" },
      body: JSON.stringify({ prompt: workflow(), client_id: c.clientId }),
    });
    const localId = ((await once.json()) as { prompt_id: string }).prompt_id;
    await c.finished(localId);
    expect(proxy.jobIds().length).toBe(submitted);
    expect((await flip("elsewhere")).status).toBe(400);
    c.close();
  }, 30_000);

  test("local and remote prompts share one sequence of queue numbers, as the frontend's queue panel needs", async () => {
    const c = await client(proxy.url);
    const queue = async (target: string, seed: number) => {
      const res = await fetch(`${proxy.url}/api/prompt`, {
        method: "POST",
        headers: { "Comfy-Worker-Target": target },
        body: JSON.stringify({
          prompt: workflow((w) => {
            (w["3"] as { inputs: Record<string, unknown> }).inputs.seed = seed;
          }),
          client_id: c.clientId,
        }),
      });
      const { prompt_id, number } = (await res.json()) as { prompt_id: string; number: number };
      await c.finished(prompt_id, 30_000);
      return { prompt_id, number };
    };
    const runs = [await queue("remote", 501), await queue("local", 502), await queue("local", 503)];
    runs.push(await queue("remote", 504));
    const numbers = runs.map((r) => r.number);
    const first = numbers[0] ?? Number.NaN;
    expect(numbers).toEqual([first, first + 1, first + 2, first + 3]);
    // above every number ComfyUI gave before (earlier tests queued there), and ComfyUI keeps the ones we gave
    const history = (await (await fetch(`${local.url}/history`)).json()) as Record<string, { prompt: number[] }>;
    const before = Object.entries(history).filter(([id]) => !runs.some((r) => r.prompt_id === id));
    expect(Math.max(...before.map(([, e]) => e.prompt[0] as number))).toBeLessThan(first);
    expect(history[runs[1]?.prompt_id as string]?.prompt[0]).toBe(numbers[1]);
    c.close();
  }, 60_000);

  test("a remote prompt whose preview method asks for previews shows them as ComfyUI's binary frames, in the form each client reads", async () => {
    const c = await client(proxy.url);
    const seen = c.previews.length;
    // the frontend sends its "live preview" setting as extra_data.preview_method
    const res = await fetch(`${proxy.url}/prompt`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ prompt: workflow(), client_id: c.clientId, extra_data: { preview_method: "auto" } }),
    });
    const { prompt_id } = (await res.json()) as { prompt_id: string };
    await c.finished(prompt_id);
    const frames = c.previews.slice(seen);
    expect(frames.length).toBeGreaterThan(0);
    for (const frame of frames) expect(["image/png", "image/jpeg"]).toContain(frame.mime);
    // this client announced supports_preview_metadata: each frame names its prompt and a node of it, as ComfyUI's do
    for (const frame of frames) {
      expect(frame.promptId).toBe(prompt_id);
      expect(Object.keys(WORKFLOW)).toContain(frame.nodeId as string);
    }
    // one that did not gets the plain PREVIEW_IMAGE frames
    const old = new FrontendClient(proxy.url, "", {});
    await old.init();
    const asked = await fetch(`${proxy.url}/prompt`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      // another seed: the endpoint's ComfyUI would answer an unchanged prompt from its cache, with no previews
      body: JSON.stringify({
        prompt: workflow((w) => {
          (w["3"] as { inputs: Record<string, unknown> }).inputs.seed = 4242;
        }),
        client_id: old.clientId,
        extra_data: { preview_method: "auto" },
      }),
    });
    await old.finished(((await asked.json()) as { prompt_id: string }).prompt_id);
    expect(old.previews.length).toBeGreaterThan(0);
    for (const frame of old.previews) expect(frame.promptId).toBeUndefined();
    old.close();
    // without the setting, a remote prompt asks the endpoint for none
    const before = c.previews.length;
    const plain = await c.queuePrompt(0, { output: workflow(), workflow: UI_WORKFLOW });
    await c.finished(plain.prompt_id);
    expect(c.previews.length).toBe(before);
    c.close();
  }, 60_000);
});
