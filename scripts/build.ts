// Compiles src/main.ts into standalone binaries: `bun scripts/build.ts` (linux-x64, the CI target),
// `--target bun-linux-arm64` (repeatable) for others, `--all` for every release target with SHA256SUMS.
import { mkdir, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { parseArgs } from "node:util";
import pkg from "../package.json" with { type: "json" };

const RELEASE_TARGETS = [
  "bun-linux-x64",
  "bun-linux-x64-baseline",
  "bun-linux-arm64",
  "bun-darwin-arm64",
] as const satisfies Bun.Build.CompileTarget[];

const { values } = parseArgs({
  options: {
    all: { type: "boolean", default: false },
    target: { type: "string", multiple: true },
    outdir: { type: "string", default: "dist" },
  },
});

const targets: Bun.Build.CompileTarget[] = values.all
  ? [...RELEASE_TARGETS]
  : ((values.target as Bun.Build.CompileTarget[] | undefined) ?? ["bun-linux-x64"]);
const outdir = values.outdir;
await mkdir(outdir, { recursive: true });

const sums: string[] = [];
for (const target of targets) {
  // the CI target keeps the plain name the README and tests use; others carry their platform
  const outfile = join(
    outdir,
    target === "bun-linux-x64" && !values.all ? "comfy-worker" : `comfy-worker-${target.slice(4)}`,
  );
  const started = performance.now();
  const result = await Bun.build({
    entrypoints: ["src/main.ts"],
    compile: { target, outfile, autoloadDotenv: false, autoloadBunfig: false },
    minify: true,
    sourcemap: "inline",
    bytecode: true,
    format: "esm",
    define: { COMFY_WORKER_VERSION: JSON.stringify(pkg.version) },
  });
  if (!result.success) {
    for (const message of result.logs) console.error(message);
    throw new Error(`build failed for ${target}`);
  }
  const hash = new Bun.CryptoHasher("sha256").update(await Bun.file(outfile).arrayBuffer()).digest("hex");
  sums.push(`${hash}  ${basename(outfile)}`);
  const mb = (Bun.file(outfile).size / 1e6).toFixed(1);
  console.log(`built ${outfile} (${target}, ${mb} MB) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
if (values.all) await writeFile(join(outdir, "SHA256SUMS"), `${sums.join("\n")}\n`);
