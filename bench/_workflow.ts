// The workflow the benchmarks queue: a txt2img graph on the emulator's placeholder checkpoint.

/** txt2img with `seed` (a new seed defeats ComfyUI's cache), a `side`² latent and `batch` images. */
export function benchWorkflow(seed: number, side: number, batch: number) {
  return {
    "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "bench.safetensors" } },
    "5": { class_type: "EmptyLatentImage", inputs: { width: side, height: side, batch_size: batch } },
    "6": { class_type: "CLIPTextEncode", inputs: { text: "bench", clip: ["4", 1] } },
    "3": {
      class_type: "KSampler",
      inputs: {
        ...{ seed, steps: 2, cfg: 7, sampler_name: "euler", scheduler: "normal", denoise: 1 },
        ...{ model: ["4", 0], positive: ["6", 0], negative: ["6", 0], latent_image: ["5", 0] },
      },
    },
    "8": { class_type: "VAEDecode", inputs: { samples: ["3", 0], vae: ["4", 2] } },
    "9": { class_type: "SaveImage", inputs: { filename_prefix: "bench", images: ["8", 0] } },
  };
}
