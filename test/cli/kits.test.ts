import { expect, test } from "bun:test";
import { listKits, type Manifest } from "../../src/kits/manifest.ts";
import { runCliCaptured } from "../helpers/cli.ts";

/** Runs `comfy-worker kits …args` in-process. */
function kits(...args: string[]) {
  return runCliCaptured(["kits", ...args]);
}

test("lists every built-in kit with its file count, total size and a gated marker", async () => {
  const { code, stdout, stderr } = await kits();
  expect([code, stderr]).toEqual([0, ""]);
  const rows = stdout.split("\n");
  expect(rows[0]).toMatch(/^KIT\s+FILES\s+SIZE\s+DESCRIPTION$/);
  for (const kit of listKits()) {
    const row = rows.find((line) => line.startsWith(`${kit.name} `));
    expect(row).toBeDefined();
    expect(row).toContain(` ${kit.files.length}  `);
    expect(row).toContain(kit.description);
    expect(row?.includes(" gated ")).toBe(kit.files.some((file) => file.gated));
  }
  expect(stdout).toMatch(/^flux1-dev\s+4\s+31\.8 GiB\s+gated\s/m);
  expect(stdout).toMatch(/^sd15\s+1\s+4\.0 GiB\s{2}/m);
  expect(stdout).toContain("HF_TOKEN");
});

test("shows one kit's files: folder, name, size, whether a sha256 is known, and the URL", async () => {
  const { code, stdout } = await kits("flux1-dev");
  expect(code).toBe(0);
  expect(stdout).toStartWith("flux1-dev: FLUX.1 [dev]");
  expect(stdout).toContain("license:  FLUX.1 [dev] Non-Commercial License");
  expect(stdout).toMatch(/^FOLDER\s+NAME\s+SIZE\s+SHA256\s+URL$/m);
  expect(stdout).toMatch(
    /^diffusion_models\s+flux1-dev\.safetensors\s+22\.2 GiB\s+yes\s+gated\s+https:\/\/huggingface\.co\/black-forest-labs\/FLUX\.1-dev\/resolve\/main\/flux1-dev\.safetensors$/m,
  );
  expect(stdout).toMatch(/^vae\s+ae\.safetensors\s+319\.8 MiB\s+yes\s+https:\/\/\S+$/m);
  expect(stdout).toContain("total 31.8 GiB in 4 file(s)");
  expect(stdout).toContain(
    "1 gated file(s): accept the licence at https://huggingface.co/black-forest-labs/FLUX.1-dev",
  );
});

test("--json prints the manifests: all of them, or the one asked for", async () => {
  const all = await kits("--json");
  expect(all.code).toBe(0);
  const parsed = JSON.parse(all.stdout) as Manifest[];
  expect(parsed).toEqual(listKits());

  const one = await kits("wan22-ti2v-5b", "--json");
  expect(one.code).toBe(0);
  const kit = JSON.parse(one.stdout) as Manifest;
  expect(kit.name).toBe("wan22-ti2v-5b");
  expect(kit.files.map((file) => file.folder)).toEqual(["diffusion_models", "text_encoders", "vae"]);
  expect(kit.files.every((file) => file.size !== undefined && file.sha256 !== undefined)).toBe(true);
});

test("an unknown kit is a usage error (exit 2) that lists the known kits", async () => {
  const { code, stdout, stderr } = await kits("flux2-klein");
  expect(code).toBe(2);
  expect(stdout).toBe("");
  expect(stderr).toContain('unknown kit "flux2-klein"');
  for (const kit of listKits()) expect(stderr).toContain(kit.name);
});

test("--help describes the command and its NAME argument", async () => {
  const { code, stdout } = await kits("--help");
  expect(code).toBe(0);
  expect(stdout).toContain("NAME");
  expect(stdout).toContain("--json");
});
