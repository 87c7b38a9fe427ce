// sync benchmark on loopback: `comfy-worker sync` (our SigV4 client, parts streamed from disk, sha256 of the
// file first) against the AWS SDK's own multipart uploader (@aws-sdk/lib-storage Upload, 4 parts in flight,
// the same part size), on the same file and the same local S3 server (s3rver) in the same run. Each uploader
// runs in its own child process so its peak RSS (VmHWM) is read alone. Prints times, MiB/s, the ratio and RSS.
//
//   node_modules/.bin/bun bench/sync.ts [--size-mib 1024] [--runs 2] [--part-mib 64]
//
// The file is random bytes written in chunks into a temp dir outside the repo and deleted at the end.
import { randomFillSync } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { startS3 } from "../test/runpod/_s3.ts";
import { peakRss, spawnSync } from "../test/sync/_spawn.ts";

const MIB = 2 ** 20;
const { values: args } = parseArgs({
  options: {
    "size-mib": { type: "string", default: "1024" },
    runs: { type: "string", default: "2" },
    "part-mib": { type: "string", default: "64" },
    "sdk-child": { type: "string" },
  },
});

if (args["sdk-child"]) await sdkChild(JSON.parse(args["sdk-child"]));
else await main();

async function main() {
  const sizeMib = Number(args["size-mib"]);
  const partMib = Number(args["part-mib"]);
  const work = mkdtempSync(join(tmpdir(), "cw-bench-sync-"));
  const models = join(work, "models");
  mkdirSync(join(models, "checkpoints"), { recursive: true });
  const file = join(models, "checkpoints/bench.safetensors");
  await generate(file, sizeMib * MIB);
  const s3 = await startS3(["bench"]);
  try {
    const rows: Array<{ who: string; seconds: number; rss: number }> = [];
    for (let run = 1; run <= Number(args.runs); run++) {
      rmSync(`${file}.sha256.json`, { force: true });
      rows.push({
        who: "comfy-worker sync",
        ...(await timeChild(
          spawnSync(
            [
              models,
              "--volume",
              "bench",
              "--endpoint-url",
              s3.endpoint,
              "--prefix",
              `ours-${run}/`,
              "--part-size",
              String(partMib),
              "--json",
            ],
            {
              RUNPOD_S3_ACCESS_KEY: s3.accessKeyId,
              RUNPOD_S3_SECRET_KEY: s3.secretAccessKey,
              XDG_CACHE_HOME: join(work, `cache-${run}`),
            },
          ),
        )),
      });
      const job = JSON.stringify({ file, endpoint: s3.endpoint, key: `sdk-${run}/bench.safetensors`, partMib });
      rows.push({
        who: "aws-sdk lib-storage Upload",
        ...(await timeChild(
          Bun.spawn([process.execPath, import.meta.path, "--sdk-child", job], { stdout: "pipe", stderr: "inherit" }),
        )),
      });
    }
    report(rows, sizeMib);
  } finally {
    await s3.close();
    rmSync(work, { recursive: true, force: true });
  }
}

async function timeChild(child: ReturnType<typeof Bun.spawn>): Promise<{ seconds: number; rss: number }> {
  const started = performance.now();
  let rss = 0;
  const poll = setInterval(async () => {
    rss = Math.max(rss, (await peakRss(child.pid)) ?? 0);
  }, 25);
  const code = await child.exited;
  clearInterval(poll);
  if (code !== 0)
    throw new Error(`uploader exited ${code}: ${await new Response(child.stdout as ReadableStream).text()}`);
  return { seconds: (performance.now() - started) / 1000, rss };
}

function report(rows: Array<{ who: string; seconds: number; rss: number }>, sizeMib: number) {
  const best = (who: string) =>
    rows.filter((r) => r.who === who).sort((a, b) => a.seconds - b.seconds)[0] as (typeof rows)[0];
  console.log(`file: ${sizeMib} MiB of random bytes, s3rver on loopback, best of ${args.runs} runs each`);
  for (const row of rows)
    console.log(
      `  ${row.who.padEnd(28)} ${row.seconds.toFixed(2)} s  ${(sizeMib / row.seconds).toFixed(0)} MiB/s  peak RSS ${(row.rss / MIB).toFixed(0)} MiB`,
    );
  const ours = best("comfy-worker sync");
  const sdk = best("aws-sdk lib-storage Upload");
  console.log(
    `ratio (sdk time / ours; > 1 means sync is faster, and sync also hashes the file): ${(sdk.seconds / ours.seconds).toFixed(2)}`,
  );
}

async function generate(path: string, bytes: number) {
  const writer = Bun.file(path).writer();
  const chunk = new Uint8Array(4 * MIB);
  for (let written = 0; written < bytes; written += chunk.length) {
    randomFillSync(chunk);
    writer.write(chunk.subarray(0, Math.min(chunk.length, bytes - written)));
    await writer.flush();
  }
  await writer.end();
}

async function sdkChild(job: { file: string; endpoint: string; key: string; partMib: number }) {
  const { S3Client } = await import("@aws-sdk/client-s3");
  const { Upload } = await import("@aws-sdk/lib-storage");
  const { createReadStream } = await import("node:fs");
  const client = new S3Client({
    endpoint: job.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
  });
  const upload = new Upload({
    client,
    params: { Bucket: "bench", Key: job.key, Body: createReadStream(job.file) },
    partSize: job.partMib * MIB,
    queueSize: 4,
  });
  await upload.done();
  client.destroy();
}
