import type { ErrorCode } from "../errors.ts";

/**
 * The classic ways a ComfyUI node fails, recognised from `execution_error`'s exception_type and
 * exception_message. The texts come from ComfyUI's and torch's source: execution.py (full_type_name gives
 * "torch.OutOfMemoryError"; its OOM tip), comfy/model_management.py (is_oom), comfy/utils.py (load_torch_file's
 * safetensors wrapping), comfy/sd.py ("Could not detect model type"), torch/cuda/__init__.py (driver checks)
 * and torch.nn.Module.load_state_dict.
 */
export interface FailureRule {
  code: Extract<
    ErrorCode,
    "E_OUT_OF_MEMORY" | "E_GPU_UNAVAILABLE" | "E_MODEL_FILE_INVALID" | "E_NODE_DEPENDENCY_MISSING"
  >;
  /** A finer name for the details (`failure.kind`). */
  kind: string;
  types?: readonly string[];
  message?: RegExp;
}

// first match wins: an OOM raised while loading a file is an OOM, not a bad file
export const FAILURE_RULES: readonly FailureRule[] = [
  { code: "E_OUT_OF_MEMORY", kind: "oom", types: ["torch.OutOfMemoryError", "torch.cuda.OutOfMemoryError"] },
  {
    code: "E_OUT_OF_MEMORY",
    kind: "oom",
    message:
      /CUDA out of memory|HIP out of memory|MPS backend out of memory|Allocation on device|This error means you ran out of memory on your GPU|CUDA error: out of memory/,
  },
  // c10/core/impl/alloc_cpu.cpp: system RAM ran out (CPU tensors, models staged in RAM); recorded from ComfyUI 0.28.2
  {
    code: "E_OUT_OF_MEMORY",
    kind: "ram-oom",
    message: /DefaultCPUAllocator: (?:can't allocate memory|not enough memory)/,
  },
  {
    code: "E_GPU_UNAVAILABLE",
    kind: "driver-too-old",
    message: /driver on your system is too old|CUDA driver version is insufficient/i,
  },
  {
    code: "E_GPU_UNAVAILABLE",
    kind: "unsupported-gpu",
    message: /no kernel image is available for execution on the device/,
  },
  {
    code: "E_GPU_UNAVAILABLE",
    kind: "no-gpu",
    message:
      /No CUDA GPUs are available|Found no NVIDIA driver|Torch not compiled with CUDA enabled|no CUDA-capable device is detected/,
  },
  { code: "E_NODE_DEPENDENCY_MISSING", kind: "missing-module", types: ["ModuleNotFoundError"] },
  { code: "E_NODE_DEPENDENCY_MISSING", kind: "missing-module", types: ["ImportError"], message: /No module named/ },
  {
    code: "E_MODEL_FILE_INVALID",
    kind: "corrupt-file",
    message:
      /Error while deserializing header|HeaderTooLarge|header too large|MetadataIncompleteBuffer|safetensors file is corrupt|PytorchStreamReader failed|invalid load key|failed finding central directory/i,
  },
  { code: "E_MODEL_FILE_INVALID", kind: "corrupt-file", types: ["safetensors._safetensors_rust.SafetensorError"] },
  {
    code: "E_MODEL_FILE_INVALID",
    kind: "wrong-architecture",
    message: /Could not detect model type|Error\(s\) in loading state_dict|VAE is invalid|size mismatch for /,
  },
];

/** The rule a failure matches, if any. */
export function matchRule(type: string, message: string): FailureRule | undefined {
  return FAILURE_RULES.find(
    (rule) =>
      (rule.types === undefined || rule.types.includes(type)) &&
      (rule.message === undefined || rule.message.test(message)) &&
      (rule.types !== undefined || rule.message !== undefined),
  );
}

/** The one-sentence fix for a failure, naming what to change. */
export function fixFor(kind: string, facts: { module?: string; file?: string }): string {
  switch (kind) {
    case "oom":
      return "lower the size or batch, or use an fp8 checkpoint (or a GPU with more memory)";
    case "ram-oom":
      return "lower the size or batch, or run on a worker with more RAM";
    case "driver-too-old":
      return "the host's NVIDIA driver is older than this image's CUDA needs: use the CUDA 12.8 image (driver >= 570) or a host with driver >= 580 for CUDA 13";
    case "unsupported-gpu":
      return "this GPU is not supported by the image's torch build: use the CUDA 12.8 or 13 image for Blackwell-class GPUs";
    case "no-gpu":
      return "no CUDA device is visible to ComfyUI: run on a GPU worker (and check the container sees the GPU)";
    case "missing-module":
      return `install the Python package that provides '${facts.module ?? "the module"}' into ComfyUI's environment (the node pack's requirements.txt) and rebuild the image`;
    case "corrupt-file":
      return `${facts.file ? `"${facts.file}"` : "the model file"} is corrupt or incomplete: delete it and download it again (compare its size or sha256 with the source)`;
    default:
      return `${facts.file ? `"${facts.file}"` : "the model file"} is not a model this loader can read: pick the right file, or load it with the loader for its type (a LoRA goes in a LoRA loader)`;
  }
}

const GPU_KINDS = new Set(["driver-too-old", "unsupported-gpu", "no-gpu"]);

/** The no-usable-GPU failure in a dead ComfyUI's last lines (it raises while importing torch/comfy), if any. */
export function gpuProblemIn(lines: readonly string[]): { kind: string; line: string; fix: string } | undefined {
  for (const line of [...lines].reverse()) {
    const exception = /^([A-Za-z_][\w.]*(?:Error|Exception)): (.*)$/.exec(line.trim());
    const rule = exception ? matchRule(exception[1] as string, exception[2] ?? "") : undefined;
    if (rule && GPU_KINDS.has(rule.kind)) return { kind: rule.kind, line: line.trim(), fix: fixFor(rule.kind, {}) };
  }
  return undefined;
}
