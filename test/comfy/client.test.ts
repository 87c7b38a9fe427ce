import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type ComfyClient, createComfyClient, transportOf } from "../../src/comfy/client.ts";
import { promptRejected } from "../../src/comfy/prompt-rejected.ts";
import { type ApiWorkflow, parseWsMessage } from "../../src/comfy/schemas.ts";
import { isWorkerError, type WorkerError } from "../../src/errors.ts";
import {
  addModel,
  freePort,
  type SpawnedEmulator,
  sd15Workflow,
  spawnEmulator,
  waitForHistory,
} from "../helpers/emulator.ts";

// slow enough that a prompt is still running (or waiting) while a test looks at it
const NODE_MS = 300;

let emu: SpawnedEmulator;
let client: ComfyClient;

beforeAll(async () => {
  emu = await spawnEmulator({ args: ["--node-ms", String(NODE_MS)] });
  await addModel(emu.base, "checkpoints", "dreamshaper_8.safetensors");
  client = createComfyClient({ url: emu.url, timeoutMs: 5_000 });
});

afterAll(async () => {
  await emu?.stop();
});

function workflow(): ApiWorkflow {
  return sd15Workflow() as ApiWorkflow;
}

async function rejection(promise: Promise<unknown>): Promise<WorkerError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isWorkerError(error)) throw new Error(`expected a WorkerError, got ${String(error)}`);
  return error;
}

describe("read-only routes", () => {
  test("systemStats reports the server version and devices", async () => {
    const stats = await client.systemStats();
    expect(stats.system.comfyui_version).toBeString();
    expect(Array.isArray(stats.devices)).toBe(true);
  });

  test("objectInfo lists core nodes with their inputs", async () => {
    const info = await client.objectInfo();
    expect(info.KSampler?.input.required).toHaveProperty("seed");
    expect(info.SaveImage?.output_node).toBe(true);
  });

  test("models lists folders, folder contents, and 404s an unknown folder", async () => {
    expect(await client.models()).toContain("checkpoints");
    expect(await client.models("checkpoints")).toContain("dreamshaper_8.safetensors");
    expect((await rejection(client.models("no_such_folder"))).code).toBe("E_NOT_FOUND");
  });
});

describe("queuePrompt", () => {
  test("queues with our prompt id; history stays undefined until the prompt is done", async () => {
    const promptId = crypto.randomUUID();
    const queued = await client.queuePrompt(workflow(), { clientId: "client-test", promptId });
    expect(queued).toMatchObject({ promptId, nodeErrors: {} });
    expect(queued.number).toBeNumber();
    expect(await client.history(promptId)).toBeUndefined();
    await client.interrupt(promptId);
    await waitForHistory(emu.url, promptId);
    expect((await client.history(promptId))?.status?.messages.map(([name]) => name)).toContain("execution_interrupted");
  });

  test("an unknown node type is E_UNKNOWN_NODE naming the class", async () => {
    const prompt = { ...workflow(), "20": { class_type: "ImpactWildcardProcessor", inputs: {} } };
    const error = await rejection(client.queuePrompt(prompt, { clientId: "client-test" }));
    expect(error.code).toBe("E_UNKNOWN_NODE");
    expect(error.message).toContain('"ImpactWildcardProcessor"');
    // ComfyUI 0.28.2 (the emulator's default profile) says missing_node_type; the 0.3 line said invalid_prompt
    expect(error.details.comfy_error).toMatchObject({ type: "missing_node_type" });
    const old = promptRejected({
      error: { type: "invalid_prompt", message: "Cannot execute because node Foo does not exist.", details: "" },
      node_errors: {},
    });
    expect([old.code, old.details.node_type]).toEqual(["E_UNKNOWN_NODE", "Foo"]);
    // a node without class_type is no missing custom node
    const classless = promptRejected({
      error: {
        type: "missing_node_type",
        message: "Node 'ID #1' has no class_type.",
        extra_info: { class_type: null },
      },
      node_errors: {},
    });
    expect(classless.code).toBe("E_WORKFLOW_REJECTED");
  });

  test("a link to an output its node does not have is said so, not only as Python's IndexError", async () => {
    const recorded = await Bun.file(join(import.meta.dir, "../fixtures/comfy-0.28.2-output-index.json")).json();
    for (const [i, node] of [
      [0, "node 2 (SaveImage)"],
      [1, "node 3"],
    ] as const) {
      const error = promptRejected(recorded.cases[i].response);
      expect(error.code).toBe("E_WORKFLOW_REJECTED");
      expect(error.message).toContain(node);
      expect(error.message).toContain(
        "tuple index out of range (one of this node's links points at an output the linked node does not have)",
      );
    }
  });

  test("a missing model is E_WORKFLOW_REJECTED carrying node_errors", async () => {
    const prompt = workflow();
    const loader = prompt["4"];
    if (loader) loader.inputs.ckpt_name = "not_here.safetensors";
    const error = await rejection(client.queuePrompt(prompt, { clientId: "client-test" }));
    expect(error.code).toBe("E_WORKFLOW_REJECTED");
    expect(error.message).toContain("ckpt_name");
    const nodeErrors = error.details.node_errors as Record<string, { errors: { type: string }[] }>;
    expect(nodeErrors["4"]?.errors[0]?.type).toBe("value_not_in_list");
  });

  test("a dependency loop is E_WORKFLOW_REJECTED saying the loop once for all its nodes", async () => {
    const loop = {
      "1": { class_type: "ImageInvert", inputs: { image: ["3", 0] } },
      "3": { class_type: "ImageInvert", inputs: { image: ["1", 0] } },
      "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "x" } },
    };
    const error = await rejection(client.queuePrompt(loop, { clientId: "client-test" }));
    expect([error.code, error.message]).toEqual([
      "E_WORKFLOW_REJECTED",
      "ComfyUI rejected the workflow: node 1 (ImageInvert) and node 3 (ImageInvert): Dependency cycle detected: 1 (ImageInvert) -> 3 (ImageInvert) -> 1 (ImageInvert)",
    ]);
  });
});

describe("queue control", () => {
  test("queue shows running and pending; deleteQueued removes a pending one; interrupt ends the running one", async () => {
    const first = await client.queuePrompt(workflow(), { clientId: "client-test" });
    const second = await client.queuePrompt(workflow(), { clientId: "client-test" });
    expect(await client.queue()).toEqual({ running: [first.promptId], pending: [second.promptId] });
    await client.deleteQueued([second.promptId]);
    expect((await client.queue()).pending).toEqual([]);
    await client.interrupt(first.promptId);
    await waitForHistory(emu.url, first.promptId);
    expect(await client.queue()).toEqual({ running: [], pending: [] });
    expect(await client.history(second.promptId)).toBeUndefined();
  });

  test("free is accepted", async () => {
    await client.free();
    await client.free({ unloadModels: true, freeMemory: false });
  });
});

describe("files", () => {
  test("upload then view returns the same bytes", async () => {
    const bytes = crypto.getRandomValues(new Uint8Array(4096));
    const up = await client.upload(bytes, "roundtrip.bin", { subfolder: "cw", overwrite: true });
    expect(up).toMatchObject({ subfolder: "cw", type: "input" });
    const res = await client.view({ filename: up.name.split("/").pop() ?? up.name, subfolder: "cw", type: "input" });
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  test("uploading different bytes under a taken name gets a new name", async () => {
    const a = await client.upload(new Blob(["one"]), "same.txt");
    const b = await client.upload(new Blob(["two"]), "same.txt");
    expect(b.name).not.toBe(a.name);
  });

  test("view of a missing file is E_NOT_FOUND", async () => {
    const error = await rejection(client.view({ filename: "nope.png", type: "output" }));
    expect(error.code).toBe("E_NOT_FOUND");
  });
});

describe("unreachable servers", () => {
  test("a closed port is E_COMFY_UNAVAILABLE (refused) for GET and POST", async () => {
    const dead = createComfyClient({ url: `http://127.0.0.1:${await freePort()}` });
    const get = await rejection(dead.systemStats());
    expect(get.code).toBe("E_COMFY_UNAVAILABLE");
    expect(transportOf(get)).toBe("refused");
    expect(get.cause).toBeDefined();
    const post = await rejection(dead.queuePrompt(workflow(), { clientId: "x" }));
    expect(transportOf(post)).toBe("refused");
  });

  test("a server that never answers is E_COMFY_UNAVAILABLE (timeout) within the deadline", async () => {
    const silent = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>(() => {}) });
    try {
      const slow = createComfyClient({ url: `http://127.0.0.1:${silent.port}`, timeoutMs: 300 });
      const started = performance.now();
      const error = await rejection(slow.history("x"));
      expect(transportOf(error)).toBe("timeout");
      expect(transportOf(await rejection(slow.view({ filename: "a.png" })))).toBe("timeout");
      expect(performance.now() - started).toBeLessThan(2_000);
    } finally {
      await silent.stop(true);
    }
  });

  test("the caller's abort reason passes through untouched", async () => {
    const silent = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Promise<Response>(() => {}) });
    try {
      const slow = createComfyClient({ url: `http://127.0.0.1:${silent.port}` });
      const reason = new Error("caller gave up");
      const controller = new AbortController();
      setTimeout(() => controller.abort(reason), 20);
      expect(await slow.systemStats(controller.signal).catch((e: unknown) => e)).toBe(reason);
    } finally {
      await silent.stop(true);
    }
  });
});

describe("websocket frames", () => {
  test("known events parse; unknown and malformed ones pass through as `other`; non-JSON is dropped", () => {
    const done = parseWsMessage(JSON.stringify({ type: "executing", data: { node: null, prompt_id: "p" } }));
    expect(done).toEqual({ type: "executing", data: { node: null, prompt_id: "p" } });
    const numeric = parseWsMessage(JSON.stringify({ type: "executed", data: { node: 9, output: {} } }));
    expect(numeric).toMatchObject({ type: "executed", data: { node: "9" } });
    expect(parseWsMessage(JSON.stringify({ type: "crystools.monitor", data: { cpu: 3 } }))).toEqual({
      type: "other",
      event: "crystools.monitor",
      data: { cpu: 3 },
      malformed: false,
    });
    expect(parseWsMessage(JSON.stringify({ type: "progress", data: { value: "x" } }))).toMatchObject({
      type: "other",
      malformed: true,
    });
    expect(parseWsMessage("not json")).toBeUndefined();
    expect(parseWsMessage("[1,2]")).toBeUndefined();
  });
});
