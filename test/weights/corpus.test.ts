/**
 * The exact weights and input files of every workflow in ../shared/corpus/workflows, written by reading
 * each file (links traced by hand for the bypassed/unconnected cases noted below).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { coreObjectInfo } from "../../src/comfy/object-info.ts";
import { prepareWorkflow } from "../../src/weights/prepare.ts";
import { requiredFiles } from "../../src/weights/required.ts";
import { loadWorkflowFile, parseWorkflowValue } from "../../src/workflow/load.ts";

const CORPUS = join(import.meta.dir, "../../../shared/corpus/workflows");
const info = coreObjectInfo();

type Expected = { weights: string[]; inputs: string[] };

const FLUX_CLIPS = ["text_encoders/clip_l.safetensors", "text_encoders/t5xxl_fp8_e4m3fn.safetensors"];
const HUNYUAN_I2V = [
  "clip_vision/llava_llama3_vision.safetensors",
  "diffusion_models/hunyuan_video_image_to_video_720p_bf16.safetensors",
  "text_encoders/clip_l.safetensors",
  "text_encoders/llava_llama3_fp8_scaled.safetensors",
  "vae/hunyuan_video_vae_bf16.safetensors",
];

const EXPECTED: Record<string, Expected> = {
  "api-flux-dev-checkpoint.json": { weights: ["checkpoints/flux1-dev-fp8.safetensors"], inputs: [] },
  "api-flux-dev-unet-dualclip.json": {
    weights: ["diffusion_models/flux1-dev.sft", ...FLUX_CLIPS, "vae/ae.sft"],
    inputs: [],
  },
  // LoadImage takes a URL (cog-comfyui downloads it first); the MistoLine loader is a custom node in LOADERS
  "api-flux-mistoline-lora.json": {
    weights: [
      "diffusion_models/flux1-dev-fp8.safetensors",
      "loras/Hyper-FLUX.1-dev-16steps-lora.safetensors",
      ...FLUX_CLIPS,
      "TheMisto_model/mistoline_flux.dev_v1.safetensors",
      "vae/ae.safetensors",
    ],
    inputs: ["https://replicate.delivery/yhqm/MoWaTVhfDFU7GyNvrPCZveTOcBdv826ckZwq4gwIN970QgXTA/out-0.webp"],
  },
  "api-hunyuan-video-i2v.json": {
    weights: HUNYUAN_I2V,
    inputs: [
      "https://tjzk.replicate.delivery/models_models_featured_image/ef3843c9-fe01-4589-ba9d-5ad9fbfdff14/hex94mc0v9rma0cnbj7vqzv56r.jpeg",
    ],
  },
  "api-sd15-controlnet-scribble.json": {
    weights: [
      "checkpoints/v1-5-pruned-emaonly.ckpt",
      "controlnet/control_v11p_sd15_scribble.pth",
      "vae/vae-ft-mse-840000-ema-pruned.safetensors",
    ],
    inputs: ["https://comfyanonymous.github.io/ComfyUI_examples/controlnet/input_scribble_example.png"],
  },
  "api-sd15-lora-stack.json": {
    weights: [
      "checkpoints/v1-5-pruned-emaonly.ckpt",
      "loras/epiNoiseoffset_v2.safetensors",
      "loras/theovercomer8sContrastFix_sd15.safetensors",
    ],
    inputs: [],
  },
  "api-sd15-txt2img.json": { weights: ["checkpoints/dreamshaper_8.safetensors"], inputs: [] },
  "api-sd21-embedding.json": {
    weights: ["checkpoints/v2-1_768-ema-pruned.ckpt", "embeddings/SDA768.pt"],
    inputs: [],
  },
  "api-sd21-hiresfix-esrgan.json": {
    weights: ["checkpoints/v2-1_768-ema-pruned.ckpt", "upscale_models/RealESRGAN_x4plus.pth"],
    inputs: [],
  },
  "api-sd35-large-ipadapter.json": {
    weights: [
      "checkpoints/SD3.5-L.safetensors",
      "clip_vision/sigclip_vision_patch14_384.safetensors",
      "ipadapter/ip_sd35l_instantx.bin",
      "text_encoders/clip_g.safetensors",
      "text_encoders/clip_l.safetensors",
      "text_encoders/t5xxl_fp16.safetensors",
    ],
    inputs: ["https://replicate.delivery/yhqm/apYK6kZFfZUYRyoJ11NzhHY2YXbrjCHajYIiN9EznGR4qVrJA/out-0.webp"],
  },
  "api-sdxl-base-refiner.json": {
    weights: ["checkpoints/sd_xl_base_1.0.safetensors", "checkpoints/sd_xl_refiner_1.0.safetensors"],
    inputs: [],
  },
  "api-svd-txt2img2vid.json": {
    weights: ["checkpoints/sd_xl_base_1.0.safetensors", "checkpoints/svd_xt.safetensors"],
    inputs: [],
  },
  "api-wan21-t2v.json": {
    weights: [
      "diffusion_models/wan2.1_t2v_1.3B_bf16.safetensors",
      "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
      "vae/wan_2.1_vae.safetensors",
    ],
    inputs: [],
  },
  "ui-flux-dev-unet-models.json": {
    weights: [
      "diffusion_models/flux1-dev.safetensors",
      "text_encoders/clip_l.safetensors",
      "text_encoders/t5xxl_fp16.safetensors",
      "vae/ae.safetensors",
    ],
    inputs: [],
  },
  // UnetLoaderGGUF is a custom node (its value comes from the LOADERS row); the LoRA value is a pysssss object
  "ui-flux-gguf-lora.json": {
    weights: [
      "diffusion_models/flux1-dev-Q4_0.gguf",
      "loras/flux_realism_lora.safetensors",
      "text_encoders/clip-vit-large-patch14 .safetensors",
      "text_encoders/t5xxl_fp8_e4m3fn.safetensors",
      "vae/flux_vae.safetensors",
    ],
    inputs: [],
  },
  // the LoraLoaderModelOnly is bypassed
  "ui-flux-pose-controlnet-bypassed-lora.json": {
    weights: [
      "controlnet/diffusion_pytorch_model.safetensors",
      "diffusion_models/flux1-dev.sft",
      ...FLUX_CLIPS,
      "vae/ae.sft",
    ],
    inputs: ["example_pose.png"],
  },
  "ui-hunyuan-video-i2v.json": { weights: HUNYUAN_I2V, inputs: ["flux_dev_example.png"] },
  // bypassed camera LoRAs; the Gemma loader (custom) names one shard of a folder; one checkpoint, three loaders
  "ui-ltx2-t2v-subgraph.json": {
    weights: [
      "checkpoints/ltx-2-19b-distilled.safetensors",
      "latent_upscale_models/ltx-2-spatial-upscaler-x2-1.0.safetensors",
      "text_encoders/gemma-3-12b-it-qat-q4_0-unquantized/model-00001-of-00005.safetensors",
    ],
    inputs: [],
  },
  // sunset.png feeds only the bypassed LTXVAddGuide (84), whose IMAGE input passes through to nothing
  "ui-ltxv-i2v-095.json": {
    weights: ["checkpoints/ltx-video-2b-v0.9.5.safetensors", "text_encoders/t5xxl_fp16.safetensors"],
    inputs: ["fox.jpg"],
  },
  "ui-sd15-ipadapter-advanced.json": {
    weights: [
      "checkpoints/sd15/realisticVisionV51_v51VAE.safetensors",
      "clip_vision/CLIP-ViT-H-14-laion2B-s32B-b79K.safetensors",
      "ipadapter/ip-adapter-plus_sd15.safetensors",
    ],
    inputs: ["warrior_woman.png"],
  },
  // unconnected: VAELoader 22, LoraLoader 101, LoadImage 98 (→ ImageScale → VAEEncode with no consumer);
  // Windows paths are kept as written (ComfyUI on Linux lists "_style__/…", so they are missing there)
  "ui-sd15-lora-stack-embeddings-messy.json": {
    weights: [
      "checkpoints/anythingV5_PrtRE.safetensors",
      "embeddings/EasyNegative",
      "embeddings/bad-hands-5",
      "loras/_style__\\cgCshadeEnhance_v10.safetensors",
      "loras/_style__\\kpgBeautifulFaceAnd_v10.safetensors",
      "upscale_models/2x-PSNR.pth",
      "upscale_models/4x-lollypop.pth",
    ],
    inputs: [],
  },
  "ui-wan21-i2v.json": {
    weights: [
      "clip_vision/clip_vision_h.safetensors",
      "diffusion_models/wan2.1_i2v_480p_14B_fp16.safetensors",
      "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
      "vae/wan_2.1_vae.safetensors",
    ],
    inputs: ["flux_dev_example.png"],
  },
  "ui-wan22-t2v-lightx2v-loras.json": {
    weights: [
      "diffusion_models/wan2.2_t2v_high_noise_14B_fp8_scaled.safetensors",
      "diffusion_models/wan2.2_t2v_low_noise_14B_fp8_scaled.safetensors",
      "loras/wan2.2_t2v_lightx2v_4steps_lora_v1.1_high_noise.safetensors",
      "loras/wan2.2_t2v_lightx2v_4steps_lora_v1.1_low_noise.safetensors",
      "text_encoders/umt5_xxl_fp8_e4m3fn_scaled.safetensors",
      "vae/wan_2.1_vae.safetensors",
    ],
    inputs: [],
  },
  // every loader sits inside the subgraph
  "ui-zimage-turbo-subgraph.json": {
    weights: [
      "diffusion_models/z_image_turbo_bf16.safetensors",
      "text_encoders/qwen_3_4b.safetensors",
      "vae/ae.safetensors",
    ],
    inputs: [],
  },
};

async function extract(file: string) {
  const prepared = prepareWorkflow(await loadWorkflowFile(join(CORPUS, file)), info);
  const result = requiredFiles(prepared.api, { objectInfo: info, ...(prepared.ui ? { ui: prepared.ui } : {}) });
  return { prepared, result, weights: _set(result.weights.map((w) => `${w.folder}/${w.name}`)) };
}

function _set(values: string[]): string[] {
  return [...new Set(values)].sort();
}

describe("corpus: exact weights and input files", () => {
  test("every corpus file has an expectation", () => {
    expect(
      readdirSync(CORPUS)
        .filter((f) => f.endsWith(".json"))
        .sort(),
    ).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    test(file, async () => {
      const { result, weights } = await extract(file);
      expect(weights).toEqual(_set(expected.weights));
      expect(result.inputs.map((i) => i.name).sort()).toEqual([...expected.inputs].sort());
    });
  }
});

describe("corpus: UI and API versions of the same graph", () => {
  test("the HunyuanVideo I2V UI file and its API export need the same weights", async () => {
    expect((await extract("ui-hunyuan-video-i2v.json")).weights).toEqual(
      (await extract("api-hunyuan-video-i2v.json")).weights,
    );
  });

  for (const file of Object.keys(EXPECTED).filter((f) => f.startsWith("ui-"))) {
    test(`${file}: its API form, saved and reloaded, needs the same weights and inputs`, async () => {
      const { prepared, result, weights } = await extract(file);
      const reloaded = parseWorkflowValue(JSON.parse(JSON.stringify(prepared.api)), `${file} (API)`);
      const api = prepareWorkflow(reloaded, info);
      const fromApi = requiredFiles(api.api, { objectInfo: info });
      expect(_set(fromApi.weights.map((w) => `${w.folder}/${w.name}`))).toEqual(weights);
      expect(fromApi.inputs.map((i) => i.name)).toEqual(result.inputs.map((i) => i.name));
    });
  }

  test("models metadata gives the UI version its sources", async () => {
    const { result } = await extract("ui-hunyuan-video-i2v.json");
    const vae = result.weights.find((w) => w.folder === "vae");
    expect(vae?.source?.url).toBe(
      "https://huggingface.co/Comfy-Org/HunyuanVideo_repackaged/resolve/main/split_files/vae/hunyuan_video_vae_bf16.safetensors?download=true",
    );
    const inSubgraph = (await extract("ui-zimage-turbo-subgraph.json")).result.weights;
    expect(inSubgraph.every((w) => w.source?.url.startsWith("https://huggingface.co/Comfy-Org/z_image_turbo/"))).toBe(
      true,
    );
  });
});
