import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng } from "../../src/emulator/png.ts";
import { runCliCaptured } from "../helpers/cli.ts";
import { type ServeProcess, startServeProcess } from "../helpers/serve-process.ts";
import { startS3 } from "../runpod/_s3.ts";

// run --endpoint → serve --mode api --emulate (own process) with one bucket both ways: an input over RunPod's
// 10 MB /run limit goes up as a presigned URL the worker fetches, outputs come back as bucket URLs
const dir = mkdtempSync(join(tmpdir(), "cw-run-bucket-"));
let s3: Awaited<ReturnType<typeof startS3>>;
let serve: ServeProcess | undefined;
let endpoint: string;
let bucket: Record<string, string>;

beforeAll(async () => {
  s3 = await startS3(["shared"]);
  bucket = {
    BUCKET_ENDPOINT_URL: s3.endpoint,
    BUCKET_ACCESS_KEY_ID: s3.accessKeyId,
    BUCKET_SECRET_ACCESS_KEY: s3.secretAccessKey,
    BUCKET_NAME: "shared",
  };
  serve = await startServeProcess(dir, {
    ...bucket,
    // the bucket is on loopback here: the worker may fetch inputs from it and must send every output there
    DOWNLOAD_ALLOW_HOSTS: "127.0.0.1",
    PRIVATE_HOSTS_ALLOWED: "127.0.0.1",
    OUTPUT_INLINE_MAX_MB: "0",
  });
  endpoint = serve.endpoint;
});
afterAll(async () => {
  await serve?.stop();
  await s3?.close();
  rmSync(dir, { recursive: true, force: true });
});

test("an input over the /run limit travels through the bucket; bucket outputs are fetched and saved", async () => {
  // noise does not compress: ~8.6 MB of PNG, ~11.5 MB as base64
  const pixels = new Uint8Array(1700 * 1700 * 3).map(() => Math.floor(Math.random() * 256));
  const image = join(dir, "noise.png");
  await Bun.write(image, encodePng({ width: 1700, height: 1700, pixels }, {}, 0));
  const workflow = join(dir, "copy.json");
  await Bun.write(
    workflow,
    JSON.stringify({
      "1": { class_type: "LoadImage", inputs: { image: "noise.png" } },
      "2": { class_type: "SaveImage", inputs: { filename_prefix: "back", images: ["1", 0] } },
    }),
  );
  const out = join(dir, "out");
  const result = await runCliCaptured(
    ["run", workflow, "--endpoint", endpoint, "--out", out, "--image", `noise.png=${image}`, "--json"],
    { ...bucket, RUNS_LEDGER: join(dir, "runs.jsonl") },
    { captureStderr: true },
  );
  expect(result.stderr).toContain("input files sent through the bucket");
  expect(result.code).toBe(0);
  const json = JSON.parse(result.stdout);
  expect(json.saved).toEqual([join(out, "back_00001_.png")]);
  // the worker returned the output as a bucket URL (OUTPUT_INLINE_MAX_MB=0), and that is what was saved
  expect(await s3.exists("shared", `${json.job_id}/back_00001_.png`)).toBe(true);
  expect(readdirSync(out)).toEqual(["back_00001_.png"]);
  expect(readFileSync(join(out, "back_00001_.png")).subarray(1, 4).toString()).toBe("PNG");
}, 90_000);
