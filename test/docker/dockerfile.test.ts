// biome-ignore-all lint/suspicious/noTemplateCurlyInString: these strings are Dockerfile text with ${VAR} in it
import { expect, test } from "bun:test";
import { dirname, join } from "node:path";
import { parse as parseYaml } from "yaml";
import pkg from "../../package.json" with { type: "json" };
import { CORE_OBJECT_INFO_VERSION, coreObjectInfo } from "../../src/comfy/object-info.ts";
import { JobInput } from "../../src/jobs/schema.ts";
import { downloadRoot, preferredDir } from "../../src/weights/destination.ts";
import { DEFAULT_FOLDERS } from "../../src/weights/folders.ts";
import { isDefaultRoot, loadModelRoots } from "../../src/weights/roots.ts";
import { parseApiWorkflow } from "../../src/workflow/api.ts";

const ROOT = join(import.meta.dir, "../..");
const dockerfile = await Bun.file(join(ROOT, "Dockerfile.cuda")).text();
const args = Object.fromEntries([...dockerfile.matchAll(/^ARG (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
// instructions with their continuation lines joined, in order
const instructions = dockerfile
  .replace(/\\\n/g, " ")
  .split("\n")
  .filter((line) => /^[A-Z]+ /.test(line));
const indexOf = (re: RegExp) => instructions.findIndex((line) => re.test(line));

test("every base image is pinned to a version tag, CUDA 12.8 by default and 13.0 by build arg, Bun as package.json pins it", () => {
  const bases = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1] as string);
  expect(bases).toEqual([
    "${BUN_IMAGE}",
    "${UV_IMAGE}",
    "${CUDA128_IMAGE}",
    "${CUDA130_IMAGE}",
    "cuda-${CUDA_VARIANT}",
  ]);
  const images = [args.BUN_IMAGE, args.CUDA128_IMAGE, args.CUDA130_IMAGE, args.UV_IMAGE];
  for (const image of images) expect(image).toMatch(/^[\w./-]+:\d[\w.-]*$/);
  expect(args.CUDA128_IMAGE).toMatch(/^nvidia\/cuda:12\.8\.\d+-[\w-]*runtime/);
  expect(args.CUDA130_IMAGE).toMatch(/^nvidia\/cuda:13\.0\.\d+-[\w-]*runtime/);
  expect(args.BUN_IMAGE).toBe(`oven/bun:${pkg.devDependencies.bun}-debian`);
  // the variant names a stage (cuda-cu128 / cuda-cu130) and the torch wheel index together
  expect(args.CUDA_VARIANT).toBe("cu128");
  const stages = [...dockerfile.matchAll(/^FROM \S+ AS cuda-(\w+)$/gm)].map((m) => m[1]);
  expect(stages).toEqual(["cu128", "cu130"]);
  expect(args.TORCH_INDEX).toBe("https://download.pytorch.org/whl/${CUDA_VARIANT}");
  expect(dockerfile).toMatch(/^FROM cuda-\$\{CUDA_VARIANT\} AS runtime\nARG CUDA_VARIANT$/m);
});

test("ComfyUI, Python and torch are pinned; ComfyUI is cloned shallow at the tag the bundled /object_info is from", () => {
  expect(args.COMFYUI_REF).toBe(`v${CORE_OBJECT_INFO_VERSION}`);
  expect(instructions[indexOf(/git clone/)]).toContain("--depth 1 --branch ${COMFYUI_REF}");
  for (const name of ["TORCH_VERSION", "TORCHVISION_VERSION", "TORCHAUDIO_VERSION", "PYTHON_VERSION"]) {
    expect(args[name]).toMatch(/^\d+\.\d+(\.\d+)?$/);
  }
  // torch, torchvision and torchaudio move in lockstep: 2.X.y pairs with torchvision 0.(X+15).y
  const [major, minor] = (args.TORCH_VERSION ?? "").split(".").map(Number);
  expect(args.TORCHVISION_VERSION).toStartWith(`0.${(minor ?? 0) + 15}.`);
  expect(args.TORCHAUDIO_VERSION).toBe(args.TORCH_VERSION);
  expect(major).toBe(2);
  expect(instructions[indexOf(/uv venv/)]).toContain("torch==${TORCH_VERSION}");
});

test("layers are ordered so a code change does not rebuild Python", () => {
  const binary = indexOf(/^COPY --from=build/);
  for (const re of [/uv venv/, /git clone/, /install-custom-nodes\.sh \//, /apt-get install/]) {
    expect(indexOf(re)).toBeGreaterThan(0);
    expect(indexOf(re)).toBeLessThan(binary);
  }
});

test("tini is init, the binary is the entrypoint, serve the command, /ready the health check", () => {
  expect(dockerfile).toMatch(/apt-get install[\s\S]*\btini\b/);
  const entrypoint = JSON.parse(instructions[indexOf(/^ENTRYPOINT /)]?.slice("ENTRYPOINT ".length) ?? "[]") as string[];
  expect(entrypoint[0]).toBe("/usr/bin/tini");
  expect(entrypoint.at(-1)).toBe("/usr/local/bin/comfy-worker");
  expect(instructions[indexOf(/^CMD /)]).toBe('CMD ["serve"]');
  expect(instructions[indexOf(/^HEALTHCHECK /)]).toContain("/ready");
  expect(instructions[indexOf(/^COPY --from=build/)]).toContain("/usr/local/bin/comfy-worker");
});

test("the build stage compiles with the project's build script, and a MODEL_KIT argument bakes a kit", () => {
  expect(instructions[indexOf(/^RUN bun scripts\/build\.ts/)]).toContain("--target bun-linux-x64");
  expect(instructions[indexOf(/bun install/)]).toContain("--frozen-lockfile");
  expect(args.MODEL_KIT).toBe("");
  const pull = instructions[indexOf(/pull --kit/)];
  expect(pull).toContain('EXTRA_MODEL_PATHS= comfy-worker pull --kit "${MODEL_KIT}" --models-dir /comfyui/models');
});

test("the runtime environment points comfy-worker at the image's ComfyUI and model paths", () => {
  const env = instructions.filter((line) => line.startsWith("ENV ")).join(" ");
  expect(env).toContain("COMFY_DIR=/comfyui");
  expect(env).toContain("COMFY_PYTHON=/opt/venv/bin/python");
  expect(env).toContain("EXTRA_MODEL_PATHS=/etc/comfy-worker/extra_model_paths.yaml");
  // the platform's proxy and health checks come from outside the container
  expect(env).toContain("HOST=0.0.0.0");
  // ComfyUI is started through setpriv so it dies with the worker; the build fails if the image lacks it
  expect(instructions[indexOf(/apt-get install/)]).toContain("util-linux");
  expect(instructions[indexOf(/apt-get install/)]).toContain("setpriv --pdeathsig KILL -- true");
  expect(instructions[indexOf(/extra_model_paths\.yaml docker/)]).toContain("/etc/comfy-worker/");
});

test("custom-nodes.txt lines are '<https git URL> <pinned ref>'", async () => {
  const lines = (await Bun.file(join(ROOT, "docker/custom-nodes.txt")).text())
    .split("\n")
    .filter((line) => line.trim() && !line.startsWith("#"));
  expect(lines.length).toBeGreaterThan(0);
  for (const line of lines)
    expect(line).toMatch(/^https:\/\/[\w.-]+\/[\w.-]+\/[\w.-]+\.git ([0-9a-f]{40}|v?\d+\.\d+\.\d+)$/);
});

test("the custom-node installer is valid bash and rejects malformed lines", async () => {
  const syntax = Bun.spawnSync(["bash", "-n", join(ROOT, "docker/install-custom-nodes.sh")]);
  expect(syntax.exitCode).toBe(0);
  const list = join(ROOT, "docker/.test-bad-list.txt");
  await Bun.write(list, "https://example.invalid/x.git\n");
  try {
    const run = Bun.spawnSync(["bash", join(ROOT, "docker/install-custom-nodes.sh"), list, "/nonexistent"]);
    expect(run.exitCode).toBe(1);
    expect(run.stderr.toString()).toContain("expected '<git URL> <ref>'");
  } finally {
    await Bun.file(list).delete();
  }
});

for (const [file, base] of [
  ["extra_model_paths.yaml", "/runpod-volume/models"],
  ["extra_model_paths.workspace.yaml", "/workspace/models"],
] as const) {
  test(`docker/${file} maps every ComfyUI model folder under ${base}`, async () => {
    const doc = parseYaml(await Bun.file(join(ROOT, "docker", file)).text()) as Record<string, Record<string, unknown>>;
    const section = Object.values(doc)[0] as Record<string, unknown>;
    expect(section.base_path).toBe(base);
    expect(section.is_default).toBe(true);
    const modelFolders = Object.entries(DEFAULT_FOLDERS)
      .filter(([, spec]) => !spec.underBase)
      .map(([key]) => key);
    const keys = Object.keys(section).filter((key) => key !== "base_path" && key !== "is_default");
    expect(keys.sort()).toEqual(modelFolders.sort());
    for (const folder of [
      "diffusion_models",
      "text_encoders",
      "audio_encoders",
      "model_patches",
      "latent_upscale_models",
    ]) {
      expect(keys).toContain(folder);
    }
  });
}

test("docker/test_input.json is a valid job that needs no model weights and only core nodes", async () => {
  const job = JSON.parse(await Bun.file(join(ROOT, "docker/test_input.json")).text()) as { input: unknown };
  const input = JobInput.parse(job.input);
  const workflow = parseApiWorkflow(input.workflow);
  const core = coreObjectInfo();
  for (const node of Object.values(workflow)) expect(Object.hasOwn(core, node.class_type)).toBe(true);
  expect(Object.values(workflow).map((node) => node.class_type)).toEqual(["EmptyImage", "SaveImage"]);
});

test("the image's extra_model_paths.yaml is read by our roots code as the image expects", async () => {
  const roots = await loadModelRoots({
    baseDir: "/comfyui",
    comfyDir: "/nonexistent-comfyui-checkout",
    extraConfigs: [join(ROOT, "docker/extra_model_paths.yaml")],
    env: {},
  });
  for (const [folder, spec] of Object.entries(DEFAULT_FOLDERS)) {
    if (spec.underBase) continue;
    const paths = roots.get(folder)?.paths ?? [];
    // the volume comes first (is_default), ComfyUI's own models folder is still searched after it
    expect([folder, paths[0]?.startsWith("/runpod-volume/models/")]).toEqual([folder, true]);
    expect([folder, isDefaultRoot(roots, folder, paths[0] as string)]).toEqual([folder, true]);
    expect(paths.some((path) => path.startsWith("/comfyui/models/"))).toBe(true);
    // downloads land on the volume, in the canonical directory
    expect(downloadRoot(roots, folder)).toBe(`/runpod-volume/models/${preferredDir(folder)}`);
  }
  expect(roots.get("diffusion_models")?.paths.slice(0, 2)).toEqual([
    "/runpod-volume/models/diffusion_models",
    "/runpod-volume/models/unet",
  ]);
  expect(roots.get("text_encoders")?.paths.slice(0, 2)).toEqual([
    "/runpod-volume/models/text_encoders",
    "/runpod-volume/models/clip",
  ]);
});

test("the build stage copies every file outside src/ that the code imports", async () => {
  const copied = instructions
    .slice(0, indexOf(/^FROM \$\{UV_IMAGE\}/))
    .filter((line) => line.startsWith("COPY "))
    .flatMap((line) => line.split(/\s+/).slice(1, -1));
  const outside = new Set<string>();
  for await (const file of new Bun.Glob("src/**/*.ts").scan({ cwd: ROOT })) {
    const text = await Bun.file(join(ROOT, file)).text();
    for (const match of text.matchAll(/from "(\.[^"]+)"/g)) {
      const target = join(dirname(file), match[1] as string);
      if (!target.startsWith("src/")) outside.add(target.split("/")[0] as string);
    }
  }
  expect([...outside].sort()).toEqual(["docker", "manifests", "package.json"]);
  for (const entry of outside) expect(copied).toContain(entry);
});
