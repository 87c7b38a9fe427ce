// Start-up time of the compiled binary: `comfy-worker --version` against `bun --version` and `bun -e ""`
// (the runtime the binary embeds, starting no app code) measured in the same run. Builds dist/comfy-worker first if needed.
// Run: node_modules/.bin/bun bench/startup.ts [--runs 30]
import { parseArgs } from "node:util";
import { ensureBinary } from "../test/helpers/binary.ts";

const { values } = parseArgs({ options: { runs: { type: "string", default: "30" } } });
const RUNS = Number(values.runs);

function median(argv: string[]): number {
  const times: number[] = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const started = performance.now();
    const proc = Bun.spawnSync(argv, { stdout: "ignore", stderr: "ignore" });
    if (proc.exitCode !== 0) throw new Error(`${argv.join(" ")} exited ${proc.exitCode}`);
    if (i >= 3) times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)] ?? 0;
}

const binary = await ensureBinary();
const ours = median([binary, "--version"]);
const help = median([binary, "serve", "--help"]);
const reference = median([process.execPath, "--version"]);
const emptyScript = median([process.execPath, "-e", ""]);
console.log(`comfy-worker --version      median ${ours.toFixed(1)} ms (${RUNS} runs)`);
console.log(`comfy-worker serve --help   median ${help.toFixed(1)} ms`);
console.log(`bun --version (reference)   median ${reference.toFixed(1)} ms`);
console.log(`bun -e "" (JS start, no app)  median ${emptyScript.toFixed(1)} ms`);
console.log(`ratio --version / bun -e "": ${(ours / emptyScript).toFixed(2)}x`);
