import { expect, test } from "bun:test";
import { EXIT_CODES } from "../../src/errors.ts";
import { executionFailure, recoverAfter } from "../../src/jobs/failure.ts";
import { HTTP_STATUS } from "../../src/server/http-errors.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";
import { FIXTURES } from "./failure-fixtures.ts";

type Fixture = keyof typeof FIXTURES;
const track = stopAfterEach();

function workflow() {
  const wf = sd15Workflow();
  wf["5"].inputs = { width: 2048, height: 2048, batch_size: 4 };
  return wf;
}

function fail(fixture: Fixture, nodeId: string, nodeType: string) {
  const { type, message } = FIXTURES[fixture];
  const error = { node_id: nodeId, node_type: nodeType, exception_type: type, exception_message: message };
  return executionFailure({ status: "error", error }, workflow());
}

test("out of GPU memory: the sampler's size and batch, what to lower, for every form torch reports it in", () => {
  for (const fixture of ["cudaOom", "allocationOnDevice", "acceleratorOom"] as const) {
    const error = fail(fixture, "3", "KSampler");
    expect([fixture, error.code]).toEqual([fixture, "E_OUT_OF_MEMORY"]);
    expect(error.message).toBe(
      "out of GPU memory at node 3 (KSampler, 2048×2048, batch 4): lower the size or batch, or use an fp8 checkpoint (or a GPU with more memory)",
    );
    expect(error.details).toMatchObject({ failure: { kind: "oom" }, exception: { type: FIXTURES[fixture].type } });
  }
});

test("out of system RAM (torch's CPU allocator, as a real ComfyUI reports it) is an OOM with the RAM fix", () => {
  const error = fail("ramOomObserved", "5", "EmptyLatentImage");
  expect(error.code).toBe("E_OUT_OF_MEMORY");
  expect(error.message).toBe(
    "out of memory (RAM) at node 5 (EmptyLatentImage, 2048×2048, batch 4): lower the size or batch, or run on a worker with more RAM",
  );
  expect(error.details).toMatchObject({ failure: { kind: "ram-oom" }, exception: { type: "RuntimeError" } });
});

test("no usable GPU: driver too old, no device, CPU-only torch, a GPU the build has no kernels for", () => {
  const cases: [Fixture, string, RegExp][] = [
    ["driverTooOld", "driver-too-old", /driver is older than this image's CUDA needs/],
    ["noGpus", "no-gpu", /no CUDA device is visible/],
    ["notCompiled", "no-gpu", /no CUDA device is visible/],
    ["unsupportedGpu", "unsupported-gpu", /not supported by the image's torch build/],
  ];
  for (const [fixture, kind, fix] of cases) {
    const error = fail(fixture, "4", "CheckpointLoaderSimple");
    expect([fixture, error.code, (error.details.failure as Json).kind]).toEqual([fixture, "E_GPU_UNAVAILABLE", kind]);
    expect(error.message).toStartWith("no usable GPU at node 4 (CheckpointLoaderSimple): ");
    expect(error.message).toMatch(fix);
  }
});

test("a corrupt or truncated model file is named: from ComfyUI's message, else the loader's input", () => {
  const observed = fail("corruptObserved", "4", "CheckpointLoaderSimple");
  expect(observed.code).toBe("E_MODEL_FILE_INVALID");
  expect(observed.message).toBe(
    'corrupt model file at node 4 (CheckpointLoaderSimple): "dreamshaper_8.safetensors" is corrupt or incomplete: delete it and download it again (compare its size or sha256 with the source)',
  );
  const wrapped = fail("corruptWrapped", "4", "CheckpointLoaderSimple");
  expect((wrapped.details.failure as Json).file).toBe("/runpod-volume/models/checkpoints/sd_xl_base_1.0.safetensors");
  const truncated = fail("truncated", "10", "LoraLoader");
  expect([truncated.code, (truncated.details.failure as Json).kind]).toEqual(["E_MODEL_FILE_INVALID", "corrupt-file"]);
  expect(truncated.message).toContain('"/runpod-volume/models/loras/detail.safetensors" is corrupt or incomplete');
});

test("a file of the wrong architecture for its loader says so, naming the file", () => {
  const arch = fail("wrongArchObserved", "4", "CheckpointLoaderSimple");
  expect([arch.code, (arch.details.failure as Json).kind]).toEqual(["E_MODEL_FILE_INVALID", "wrong-architecture"]);
  expect(arch.message).toBe(
    'model file of the wrong type at node 4 (CheckpointLoaderSimple): "/comfyui/models/checkpoints/wrong-arch.safetensors" is not a model this loader can read: pick the right file, or load it with the loader for its type (a LoRA goes in a LoRA loader)',
  );
  for (const fixture of ["vaeInvalidObserved", "stateDict"] as const) {
    expect([fixture, fail(fixture, "4", "VAELoader").code]).toEqual([fixture, "E_MODEL_FILE_INVALID"]);
  }
});

test("a custom node's missing Python module names the module and what to install", () => {
  const error = fail("missingModule", "12", "PatchSageAttentionKJ");
  expect(error.code).toBe("E_NODE_DEPENDENCY_MISSING");
  expect(error.message).toStartWith("missing Python module 'sageattention' at node 12 (PatchSageAttentionKJ): install");
  expect(error.details.failure).toMatchObject({ kind: "missing-module", module: "sageattention" });
});

test("anything else stays a plain job failure with ComfyUI's first line; an interrupt is a cancel", () => {
  const error = fail("shapes", "3", "KSampler");
  expect(error.code).toBe("E_JOB_FAILED");
  expect(error.message).toBe(
    "node 3 (KSampler, 2048×2048, batch 4) failed: RuntimeError: mat1 and mat2 shapes cannot be multiplied (154x2048 and 768x320)",
  );
  expect(executionFailure({ status: "interrupted" }, workflow()).code).toBe("E_JOB_CANCELLED");
});

test("each new code has an exit status and an HTTP status", () => {
  const codes = ["E_OUT_OF_MEMORY", "E_GPU_UNAVAILABLE", "E_MODEL_FILE_INVALID", "E_NODE_DEPENDENCY_MISSING"] as const;
  expect(codes.map((c) => [EXIT_CODES[c], HTTP_STATUS[c]])).toEqual([
    [5, 507],
    [6, 503],
    [3, 424],
    [5, 424],
  ]);
});

test("after an out-of-memory failure ComfyUI is asked to unload models and free memory; after others it is not", async () => {
  const calls: unknown[] = [];
  const client = { free: async (opts?: unknown) => void calls.push(opts) };
  await recoverAfter(fail("cudaOom", "3", "KSampler"), client);
  await recoverAfter(fail("missingModule", "3", "KSampler"), client);
  expect(calls).toEqual([{ unloadModels: true, freeMemory: true }]);
});

test("a worker job whose sampler runs out of memory (emulator, ComfyUI's real OOM) fails with E_OUT_OF_MEMORY and the fix", async () => {
  const worker = track(await startTestWorker({ COMFY_ARGS: "--fail-node KSampler=oom --node-ms 1" }));
  const res = await worker.api("/v2/test/runsync?wait=20000", jsonPost({ input: { workflow: workflow() } }));
  const body = (await res.json()) as Json;
  expect(body.status).toBe("FAILED");
  expect(body.error).toBe(
    "out of GPU memory at node 3 (KSampler, 2048×2048, batch 4): lower the size or batch, or use an fp8 checkpoint (or a GPU with more memory)",
  );
  expect(body.output.details).toMatchObject({ code: "E_OUT_OF_MEMORY", exception: { type: "torch.OutOfMemoryError" } });
  // the next job (no sampler) runs normally
  const image = {
    "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
    "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "after" } },
  };
  const ok = await worker.api("/v2/test/runsync?wait=20000", jsonPost({ input: { workflow: image } }));
  expect(((await ok.json()) as Json).status).toBe("COMPLETED");
});

test("ComfyUI dying at start-up because no usable GPU is E_GPU_UNAVAILABLE with the fix, not a bare start failure", async () => {
  const { startError } = await import("../../src/comfy/_exit-report.ts");
  // what main.py prints when comfy.model_management's torch.cuda.current_device() meets an old driver
  const lines = [
    "Traceback (most recent call last):",
    '  File "/comfyui/main.py", line 178, in <module>',
    "    import execution",
    '  File "/comfyui/comfy/model_management.py", line 239, in get_torch_device',
    "    return torch.device(torch.cuda.current_device())",
    '  File "/opt/venv/lib/python3.12/site-packages/torch/cuda/__init__.py", line 372, in _lazy_init',
    "    torch._C._cuda_init()",
    `${FIXTURES.driverTooOld.type}: ${FIXTURES.driverTooOld.message.trim()}`,
  ];
  const exit = { reason: "exit" as const, code: 1, signal: null, lastLines: lines };
  const error = startError(exit as Parameters<typeof startError>[0], 60_000);
  expect(error.code).toBe("E_GPU_UNAVAILABLE");
  expect(error.message).toStartWith(
    "ComfyUI could not start: no usable GPU (RuntimeError: The NVIDIA driver on your system is too old",
  );
  expect(error.message).toEndWith("use the CUDA 12.8 image (driver >= 570) or a host with driver >= 580 for CUDA 13");
  const other = startError({ ...exit, lastLines: ["ModuleNotFoundError: No module named 'yaml'"] } as never, 60_000);
  expect(other.code).toBe("E_COMFY_START");
});
