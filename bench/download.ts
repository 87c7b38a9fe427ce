// Download benchmark on loopback: our downloadFile (parallel ranges + sha256 verified before the rename)
// against `aria2c -x8 -s8` and `curl`, each of those followed by `openssl dgst -sha256` since they don't
// verify. Prints wall times, ratios and peak RSS.
//
//   node_modules/.bin/bun bench/download.ts [--size-mib 1024] [--runs 3] [--connections 8]
//
// Needs curl and openssl; aria2c is optional (`apt-get install -y aria2`) and /usr/bin/time gives the
// other tools' peak RSS (ours reads VmHWM in its own child process). A missing tool is reported and
// skipped. The file is generated (streamed, never held in memory) into a temp dir outside the repo,
// served by a child `Bun.serve` (sendfile, Range support), and deleted at the end with every output.
import { randomFillSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { parseArgs } from "node:util";

const GENERATE_CHUNK_BYTES = 4 * 1024 * 1024;
const MIB = 1024 * 1024;

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "size-mib": { type: "string", default: "1024" },
    runs: { type: "string", default: "3" },
    connections: { type: "string", default: "8" },
    serve: { type: "string" },
    client: { type: "boolean", default: false },
  },
});

if (args.serve) await serveFile(args.serve);
else if (args.client) await runClient(positionals);
else await main();

/** Child mode: serve one file with Range support and print the port. */
async function serveFile(path: string): Promise<void> {
  const file = Bun.file(path);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const match = /^bytes=(\d+)-(\d*)$/.exec(req.headers.get("range") ?? "");
      const headers = { "accept-ranges": "bytes", "content-type": "application/octet-stream", etag: '"bench-1"' };
      if (!match) return new Response(file, { headers });
      const start = Number(match[1]);
      const end = match[2] ? Math.min(Number(match[2]), file.size - 1) : file.size - 1;
      const range = `bytes ${start}-${end}/${file.size}`;
      return new Response(file.slice(start, end + 1), { status: 206, headers: { ...headers, "content-range": range } });
    },
  });
  console.log(server.port);
}

/** Child mode: one downloadFile with the expected sha256; prints seconds and peak RSS (VmHWM). */
async function runClient([url, dest, connections, sha256]: string[]): Promise<void> {
  const { downloadFile } = await import("../src/download/download.ts");
  const started = performance.now();
  const result = await downloadFile({
    url: url as string,
    dest: dest as string,
    sha256,
    connections: Number(connections),
  });
  const seconds = (performance.now() - started) / 1000;
  const status = await Bun.file("/proc/self/status").text();
  const rssKiB = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0);
  console.log(JSON.stringify({ seconds, rssKiB, sha256: result.sha256 }));
}

interface Sample {
  seconds: number;
  rssKiB: number | undefined;
  ok: boolean;
}

async function main(): Promise<void> {
  const sizeBytes = Number(args["size-mib"]) * MIB;
  const runs = Number(args.runs);
  const dir = mkdtempSync(join(tmpdir(), "cw-bench-dl-"));
  const server = { proc: undefined as ReturnType<typeof Bun.spawn> | undefined };
  const cleanup = () => {
    server.proc?.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  // an interrupted run must not leave a GiB in /tmp either
  process.once("SIGINT", () => {
    cleanup();
    process.exit(130);
  });
  try {
    const source = join(dir, "source.bin");
    console.log(`generating ${args["size-mib"]} MiB in ${dir} …`);
    const sha256 = await generate(source, sizeBytes);
    const { proc, url } = await startServer(source);
    server.proc = proc;
    const tools = availableTools();
    const results = new Map<string, Sample[]>();
    for (let run = 1; run <= runs; run++) {
      for (const [name, fn] of tools) {
        const sample = await fn(url, join(dir, `out-${name}.bin`), sha256);
        rmSync(join(dir, `out-${name}.bin`), { force: true });
        rmSync(join(dir, `out-${name}.bin.sha256.json`), { force: true });
        results.set(name, [...(results.get(name) ?? []), sample]);
        console.log(
          `run ${run} ${name.padEnd(24)} ${sample.seconds.toFixed(2)} s${sample.ok ? "" : "  (WRONG DIGEST)"}`,
        );
      }
    }
    report(results, sizeBytes);
  } finally {
    cleanup();
  }
}

/** Writes `bytes` of random data through a FileSink, hashing on the way; returns the sha256. */
async function generate(path: string, bytes: number): Promise<string> {
  const sink = Bun.file(path).writer();
  const hasher = new Bun.CryptoHasher("sha256");
  const block = Buffer.allocUnsafe(GENERATE_CHUNK_BYTES);
  for (let done = 0; done < bytes; done += GENERATE_CHUNK_BYTES) {
    const chunk = block.subarray(0, Math.min(GENERATE_CHUNK_BYTES, bytes - done));
    randomFillSync(chunk);
    hasher.update(chunk);
    sink.write(chunk);
    await sink.flush();
  }
  await sink.end();
  return hasher.digest("hex");
}

async function startServer(path: string): Promise<{ proc: ReturnType<typeof Bun.spawn>; url: string }> {
  const proc = Bun.spawn([process.execPath, import.meta.path, "--serve", path], { stdout: "pipe", stderr: "inherit" });
  const reader = (proc.stdout as ReadableStream<Uint8Array>).getReader();
  const { value } = await reader.read();
  reader.releaseLock();
  const port = Number(new TextDecoder().decode(value).trim());
  return { proc, url: `http://127.0.0.1:${port}/source.bin` };
}

type Tool = (url: string, out: string, sha256: string) => Promise<Sample>;

function availableTools(): Array<[string, Tool]> {
  const tools: Array<[string, Tool]> = [["comfy-worker (+sha256)", ours]];
  const time = Bun.which("time") ?? (Bun.file("/usr/bin/time").size > 0 ? "/usr/bin/time" : undefined);
  if (!time) console.log("note: /usr/bin/time not found; peak RSS of aria2c/curl/openssl is not reported");
  for (const [name, argv] of [
    // -s8 too: without it aria2c splits a single URL into only 5 pieces despite -x8
    [
      "aria2c -x8 + openssl",
      (url: string, out: string) => [
        "aria2c",
        "-x8",
        "-s8",
        "--file-allocation=none",
        "-q",
        "--allow-overwrite=true",
        "-d",
        dirname(out),
        "-o",
        basename(out),
        url,
      ],
    ],
    ["curl + openssl", (url: string, out: string) => ["curl", "-sS", "-o", out, url]],
  ] as const) {
    const binary = argv("", "/x")[0] as string;
    if (!Bun.which(binary)) console.log(`note: ${binary} not found; skipping "${name}"`);
    else tools.push([name, (url, out, sha256) => external(argv(url, out), out, sha256, time)]);
  }
  if (!Bun.which("openssl")) throw new Error("openssl not found: the reference tools cannot be verified");
  return tools;
}

async function ours(url: string, out: string, sha256: string): Promise<Sample> {
  const started = performance.now();
  const proc = Bun.spawn([process.execPath, import.meta.path, "--client", url, out, String(args.connections), sha256], {
    stdout: "pipe",
    stderr: "inherit",
  });
  const text = await new Response(proc.stdout).text();
  await proc.exited;
  const seconds = (performance.now() - started) / 1000;
  const result = JSON.parse(text.trim().split("\n").at(-1) ?? "{}") as { rssKiB?: number; sha256?: string };
  return { seconds, rssKiB: result.rssKiB, ok: result.sha256 === sha256 };
}

async function external(
  argv: readonly string[],
  out: string,
  sha256: string,
  time: string | undefined,
): Promise<Sample> {
  const started = performance.now();
  const fetched = await timed(argv, time);
  const hashed = await timed(["openssl", "dgst", "-sha256", "-r", out], time);
  const seconds = (performance.now() - started) / 1000;
  const rss = [fetched.rssKiB, hashed.rssKiB].filter((value): value is number => value !== undefined);
  return { seconds, rssKiB: rss.length > 0 ? Math.max(...rss) : undefined, ok: hashed.stdout.startsWith(sha256) };
}

async function timed(argv: readonly string[], time: string | undefined): Promise<{ stdout: string; rssKiB?: number }> {
  const proc = Bun.spawn(time ? [time, "-v", ...argv] : [...argv], { stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (code !== 0) throw new Error(`${argv.join(" ")} exited ${code}: ${stderr.slice(-500)}`);
  const rss = /Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1];
  return { stdout, ...(rss ? { rssKiB: Number(rss) } : {}) };
}

function report(results: Map<string, Sample[]>, sizeBytes: number): void {
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] as number;
  const oursMedian = median((results.get("comfy-worker (+sha256)") ?? []).map((sample) => sample.seconds));
  console.log(
    `\n${(sizeBytes / MIB).toFixed(0)} MiB on loopback, median of ${args.runs} runs (download + sha256 verify):`,
  );
  console.log(
    `${"tool".padEnd(26)}${"median s".padStart(10)}${"best s".padStart(9)}${"MiB/s".padStart(8)}${"ours÷it".padStart(9)}${"peak RSS".padStart(11)}`,
  );
  for (const [name, samples] of results) {
    const times = samples.map((sample) => sample.seconds);
    const rss = Math.max(...samples.map((sample) => sample.rssKiB ?? 0));
    const row = [
      name.padEnd(26),
      median(times).toFixed(2).padStart(10),
      Math.min(...times)
        .toFixed(2)
        .padStart(9),
      (sizeBytes / MIB / median(times)).toFixed(0).padStart(8),
      (oursMedian / median(times)).toFixed(2).padStart(9),
      (rss > 0 ? `${(rss / 1024).toFixed(0)} MiB` : "n/a").padStart(11),
    ];
    console.log(`${row.join("")}${samples.every((sample) => sample.ok) ? "" : "  digest mismatch!"}`);
  }
  console.log("ours÷it < 1 means we are faster than that tool; every tool's digest was checked against the source.");
}
