/**
 * execution_error payloads with ComfyUI's real exception types and messages. "observed" ones were read from a
 * running ComfyUI 0.28.2 (CPU, a 4 KiB random file and a one-tensor safetensors file as checkpoints); the rest
 * are copied from the source that raises them (named per entry). ComfyUI appends "\n" + its tip to every message.
 */
const OOM_TIP =
  "This error means you ran out of memory on your GPU.\n\nTIPS: If the workflow worked before you might have accidentally set the batch_size to a large number.";

export const FIXTURES = {
  // c10/cuda/CUDACachingAllocator.cpp's message, exception type via execution.full_type_name(torch.OutOfMemoryError)
  cudaOom: {
    type: "torch.OutOfMemoryError",
    message: `CUDA out of memory. Tried to allocate 9.00 GiB. GPU 0 has a total capacity of 23.55 GiB of which 3.12 GiB is free. Process 1234 has 20.42 GiB memory in use. Of the allocated memory 19.88 GiB is allocated by PyTorch, and 112.03 MiB is reserved by PyTorch but unallocated. If reserved but unallocated memory is large try setting PYTORCH_CUDA_ALLOC_CONF=expandable_segments:True to avoid fragmentation.  See documentation for Memory Management  (https://pytorch.org/docs/stable/notes/cuda.html#environment-variables)\n${OOM_TIP}`,
  },
  // the same allocator when a per-process memory fraction is set
  allocationOnDevice: {
    type: "torch.OutOfMemoryError",
    message: `Allocation on device 0 would exceed allowed memory. (out of memory)\nCurrently allocated     : 21.12 GiB\nRequested               : 3.00 GiB\nDevice limit            : 23.99 GiB\nFree (according to CUDA): 1.21 GiB\nPyTorch limit (set by user-supplied memory fraction)\n                        : 17179869184.00 GiB\n${OOM_TIP}`,
  },
  // model_management.is_oom: torch.AcceleratorError whose text says "out of memory"
  acceleratorOom: {
    type: "torch.AcceleratorError",
    message: `CUDA error: out of memory\nCUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1\nCompile with \`TORCH_USE_CUDA_DSA\` to enable device-side assertions.\n\n${OOM_TIP}`,
  },
  // observed: EmptyImage 16384×16384 batch 4096 on a CPU ComfyUI 0.28.2 (exception_type as execution.py reports it)
  ramOomObserved: {
    type: "RuntimeError",
    message:
      "[enforce fail at alloc_cpu.cpp:127] err == 0. DefaultCPUAllocator: can't allocate memory: you tried to allocate 4398046511104 bytes. Error code 12 (Cannot allocate memory)\n",
  },
  // torch/cuda/__init__.py _check_driver
  driverTooOld: {
    type: "RuntimeError",
    message:
      "The NVIDIA driver on your system is too old (found version 12020). Please update your GPU driver by downloading and installing a new version from the URL: http://www.nvidia.com/Download/index.aspx Alternatively, go to: https://pytorch.org to install a PyTorch version that has been compiled with your version of the CUDA driver.\n",
  },
  // torch's _lazy_init (string in libtorch)
  noGpus: { type: "RuntimeError", message: "No CUDA GPUs are available\n" },
  // torch/cuda/__init__.py _lazy_init on a CPU-only torch
  notCompiled: { type: "AssertionError", message: "Torch not compiled with CUDA enabled\n" },
  unsupportedGpu: {
    type: "torch.AcceleratorError",
    message:
      "CUDA error: no kernel image is available for execution on the device\nCUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.\nFor debugging consider passing CUDA_LAUNCH_BLOCKING=1\n",
  },
  // observed: CheckpointLoaderSimple on 4 KiB of random bytes (safetensors 0.8)
  corruptObserved: {
    type: "safetensors._safetensors_rust.SafetensorError",
    message: "Error while deserializing header: header too large\n",
  },
  // comfy/utils.py load_torch_file's wrapping of older safetensors' HeaderTooLarge / MetadataIncompleteBuffer
  corruptWrapped: {
    type: "ValueError",
    message:
      "Error while deserializing header: HeaderTooLarge\n\nFile path: /runpod-volume/models/checkpoints/sd_xl_base_1.0.safetensors\n\nThe safetensors file is corrupt or invalid. Make sure this is actually a safetensors file and not a ckpt or pt or other filetype.\n",
  },
  truncated: {
    type: "ValueError",
    message:
      "Error while deserializing header: MetadataIncompleteBuffer\n\nFile path: /runpod-volume/models/loras/detail.safetensors\n\nThe safetensors file is corrupt/incomplete. Check the file size and make sure you have copied/downloaded it correctly.\n",
  },
  // observed: CheckpointLoaderSimple on a valid safetensors file that holds no known model
  wrongArchObserved: {
    type: "RuntimeError",
    message: "ERROR: Could not detect model type of: /comfyui/models/checkpoints/wrong-arch.safetensors\n\n",
  },
  // observed: VAELoader on the same file
  vaeInvalidObserved: {
    type: "RuntimeError",
    message:
      "ERROR: VAE is invalid: None\n\nIf the VAE is from a checkpoint loader node your checkpoint does not contain a valid VAE.\n",
  },
  // torch.nn.Module.load_state_dict
  stateDict: {
    type: "RuntimeError",
    message:
      "Error(s) in loading state_dict for ControlNet:\n\tsize mismatch for input_blocks.0.0.weight: copying a param with shape torch.Size([320, 4, 3, 3]) from checkpoint, the shape in current model is torch.Size([320, 9, 3, 3]).\n",
  },
  missingModule: { type: "ModuleNotFoundError", message: "No module named 'sageattention'\n" },
  // execution.py's CLIP tip case: not one of the classic failures
  shapes: {
    type: "RuntimeError",
    message:
      'mat1 and mat2 shapes cannot be multiplied (154x2048 and 768x320)\n\n\nTIPS: If you have any "Load CLIP" or "*CLIP Loader" nodes in your workflow connected to this sampler node make sure the correct file(s) and type is selected.',
  },
} as const;
