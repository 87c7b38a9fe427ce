/**
 * `--fail-node TYPE=KIND`: the exception a node raises, as ComfyUI 0.28.2 reports it in execution_error
 * (execution.py: exception_type is full_type_name(type), exception_message is "{ex}\n{tips}"). The texts are
 * torch's, safetensors' and ComfyUI's own; "corrupt" and "arch" were read from a running ComfyUI 0.28.2.
 */
export const FAILURE_KINDS = ["error", "oom", "no-gpu", "corrupt", "arch", "module"] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];

const OOM_TIP =
  "This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.";

/** [exception_type, exception_message] for a failure kind; `error` is the generic emulated RuntimeError. */
export function failureOf(kind: FailureKind, classType: string, file: string): [type: string, message: string] {
  switch (kind) {
    case "oom":
      return [
        "torch.OutOfMemoryError",
        `CUDA out of memory. Tried to allocate 4.00 GiB. GPU 0 has a total capacity of 23.53 GiB of which 1.94 GiB is free. Of the allocated memory 19.87 GiB is allocated by PyTorch, and 1.21 GiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)\n${OOM_TIP}`,
      ];
    case "no-gpu":
      return ["RuntimeError", "No CUDA GPUs are available\n"];
    case "corrupt":
      return ["safetensors._safetensors_rust.SafetensorError", "Error while deserializing header: header too large\n"];
    case "arch":
      return ["RuntimeError", `ERROR: Could not detect model type of: ${file}\n\n`];
    case "module":
      return ["ModuleNotFoundError", "No module named 'sageattention'\n"];
    default:
      return ["RuntimeError", `Emulated failure in ${classType} (comfy-worker emulate --fail-node ${classType})`];
  }
}

/** Splits `--fail-node` values ("KSampler" or "KSampler=oom") into type → kind; undefined kind names are errors. */
export function parseFailNodes(values: string[]): Map<string, FailureKind> | string {
  const out = new Map<string, FailureKind>();
  for (const value of values) {
    const [type = "", kind = "error"] = value.split("=");
    if (!(FAILURE_KINDS as readonly string[]).includes(kind))
      return `${value}: kind must be one of ${FAILURE_KINDS.join(", ")}`;
    out.set(type, kind as FailureKind);
  }
  return out;
}
