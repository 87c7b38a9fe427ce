import { expect, test } from "bun:test";
import type { ComfyClient } from "../../src/comfy/client.ts";
import { coreObjectInfo } from "../../src/comfy/object-info.ts";
import { isWorkerError } from "../../src/errors.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { checkedFolders, createWeightsCheck } from "../../src/weights/job-check.ts";
import { loaderFolders } from "../../src/weights/loaders.ts";
import { createRemoteSnapshots, remoteFolderLabel } from "../../src/weights/remote-snapshot.ts";
import type { WeightsState } from "../../src/weights/weight-state.ts";
import type { ApiWorkflow } from "../../src/workflow/api.ts";

// an attached ComfyUI on another machine: only its /models listings are visible
const LISTINGS: Record<string, string[]> = {
  checkpoints: ["sd15/dreamshaper_8.safetensors"],
  loras: ["detail.safetensors"],
  embeddings: ["EasyNegative.safetensors"],
};
const asked: string[] = [];
const client = {
  url: "http://comfy:8188",
  models: async (folder?: string) => {
    asked.push(folder ?? "");
    const names = LISTINGS[folder ?? ""];
    if (!names) throw new Error("404");
    return names;
  },
} as unknown as ComfyClient;

const workflow = (ckpt: string): ApiWorkflow => ({
  "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: ckpt } },
  "2": { class_type: "CLIPTextEncode", inputs: { clip: ["1", 1], text: "embedding:EasyNegative" } },
  "3": { class_type: "LoraLoader", inputs: { lora_name: "detail.safetensors", model: ["1", 0], clip: ["1", 1] } },
  "4": { class_type: "Sink", inputs: { a: ["2", 0], b: ["3", 0] } },
});

test("a listing-only snapshot answers the check of an attached ComfyUI", async () => {
  const snapshot = await createRemoteSnapshots(client).snapshot(["checkpoints", "loras|unet", "embeddings"], {
    fresh: true,
  });
  expect(asked.sort()).toEqual(["checkpoints", "diffusion_models", "embeddings", "loras"]);
  expect(snapshot.find("checkpoints", "sd15/dreamshaper_8.safetensors")).toBe(
    "http://comfy:8188/models/checkpoints/sd15/dreamshaper_8.safetensors",
  );
  // this ComfyUI does not report its paths (/experiment/models): the folder is named, never a URL
  expect(snapshot.searched("loras")).toEqual([remoteFolderLabel("loras")]);
  expect(snapshot.list("diffusion_models")).toEqual([]);

  const health: WeightsState = { state: "unchecked", pending: 0, missing: [] };
  const check = createWeightsCheck({
    mode: "fail",
    snapshot: (lookups) => createRemoteSnapshots(client).snapshot(lookups, { fresh: true }),
    objectInfo: async () => coreObjectInfo(),
    health,
    log: createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr }),
  });
  await check?.(workflow("sd15/dreamshaper_8.safetensors"), new AbortController().signal);
  expect(health).toMatchObject({ state: "ready", pending: 0, missing: [] });
  const error = await check?.(workflow("dreamshaper_8.safetensors"), new AbortController().signal).catch((e) => e);
  expect(isWorkerError(error) && error.code).toBe("E_WEIGHTS_MISSING");
  expect(error.message).toBe(
    "missing weights: checkpoints/dreamshaper_8.safetensors (did you mean checkpoints/sd15/dreamshaper_8.safetensors?); put it in ComfyUI's checkpoints folder (a checkpoints path of its models/ folder or extra_model_paths.yaml) and retry",
  );
  expect(health.missing).toEqual(["checkpoints/dreamshaper_8.safetensors"]);
});

test("WEIGHTS_MODE=skip gives no hook", () => {
  const health: WeightsState = { state: "unchecked", pending: 0, missing: [] };
  const options = {
    snapshot: async () => createRemoteSnapshots(client).snapshot([], { fresh: true }),
    objectInfo: async () => coreObjectInfo(),
  };
  const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });
  expect(createWeightsCheck({ ...options, mode: "skip", health, log })).toBeUndefined();
  expect(createWeightsCheck({ ...options, mode: "download", health, log })).toBeFunction();
});

test("the folders an attached ComfyUI reports (/experiment/models) are where a missing file goes", async () => {
  const reporting = {
    ...client,
    models: client.models,
    modelFolders: async () => ({ checkpoints: ["/data/ckpt", "/opt/comfy/models/checkpoints"] }),
  } as unknown as ComfyClient;
  const snapshot = await createRemoteSnapshots(reporting).snapshot(["checkpoints"], { fresh: true });
  expect(snapshot.searched("checkpoints")).toEqual(["/data/ckpt", "/opt/comfy/models/checkpoints"]);
});

// a ComfyUI whose checkpoints folder changes between jobs; counts every listing request
function changingComfy() {
  const files: Record<string, string[]> = {
    checkpoints: ["a.safetensors"],
    loras: [],
    embeddings: [],
    custom_nodes: ["pack/__init__.py"],
  };
  const asked: string[] = [];
  const comfy = {
    url: "http://comfy:8188",
    models: async (folder?: string) => {
      asked.push(folder ?? "");
      if (folder === undefined) return Object.keys(files);
      const names = files[folder];
      if (!names) throw new Error("404");
      return [...names];
    },
    modelFolders: async () => ({}),
  } as unknown as ComfyClient;
  return { files, asked, comfy };
}

const ckptOnly = (name: string): ApiWorkflow => ({
  "1": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: name } },
  "2": { class_type: "SaveImage", inputs: { images: ["1", 0] } },
});

function checkOver(snapshots: ReturnType<typeof createRemoteSnapshots>) {
  const health: WeightsState = { state: "unchecked", pending: 0, missing: [] };
  const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });
  const check = createWeightsCheck({
    mode: "fail",
    snapshot: (lookups, options) => snapshots.snapshot(lookups, options),
    objectInfo: async () => coreObjectInfo(),
    health,
    log,
  });
  if (!check) throw new Error("WEIGHTS_MODE=fail gives a check");
  return (name: string) => check(ckptOnly(name), new AbortController().signal);
}

test("kept listings: the start-up listing serves later jobs without a request per job", async () => {
  const { asked, comfy } = changingComfy();
  let clock = 1_000_000;
  const snapshots = createRemoteSnapshots(comfy, () => clock);
  await snapshots.list();
  // custom_nodes holds no weights (ComfyUI would walk every file of every pack for it)
  expect(asked.sort()).toEqual(["", "checkpoints", "embeddings", "loras"]);
  asked.length = 0;
  const check = checkOver(snapshots);
  for (let i = 0; i < 5; i++) await check("a.safetensors");
  expect(asked).toEqual([]);
  // older than the refresh age: still used at once, and read again behind the job
  clock += 2_500;
  await check("a.safetensors");
  await Bun.sleep(0);
  expect(asked.sort()).toEqual(["checkpoints", "embeddings"]);
});

test("a one-shot run lists only the folders it names at start, and its check then asks for nothing", async () => {
  const { asked, comfy } = changingComfy();
  const snapshots = createRemoteSnapshots(comfy);
  await snapshots.list(checkedFolders(loaderFolders(["CheckpointLoaderSimple", "KSampler", "CheckpointLoaderSimple"])));
  expect(asked.sort()).toEqual(["checkpoints", "embeddings"]);
  asked.length = 0;
  await checkOver(snapshots)("a.safetensors");
  expect(asked).toEqual([]);
  // a folder it did not name is listed when a job needs it
  await snapshots.snapshot(["loras"]);
  expect(asked).toEqual(["loras"]);
});

test("kept listings: a file added since the listing is found, since a miss is checked with a fresh listing", async () => {
  const { files, asked, comfy } = changingComfy();
  const snapshots = createRemoteSnapshots(comfy);
  await snapshots.list();
  files.checkpoints?.push("new.safetensors");
  asked.length = 0;
  await checkOver(snapshots)("new.safetensors");
  expect(asked.sort()).toEqual(["checkpoints", "embeddings"]);
  // and a file that really is missing is still an error, after one fresh listing
  const error = await checkOver(snapshots)("gone.safetensors").catch((e) => e);
  expect(isWorkerError(error) && error.code).toBe("E_WEIGHTS_MISSING");
});

test("kept listings: past the trust window a listing is read again before a job relies on it", async () => {
  const { files, comfy } = changingComfy();
  let clock = 1_000_000;
  const snapshots = createRemoteSnapshots(comfy, () => clock);
  await snapshots.list();
  const before = await snapshots.snapshot(["checkpoints"]);
  expect(before.find("checkpoints", "a.safetensors")).toBeDefined();
  // removed from ComfyUI's disk: a listing within the trust window may still show it, an older one may not
  files.checkpoints = [];
  clock += 31_000;
  const after = await snapshots.snapshot(["checkpoints"]);
  expect(after.find("checkpoints", "a.safetensors")).toBeUndefined();
});
