import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import {
  CreateBucketCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { freePort } from "../helpers/emulator.ts";
import { modelsDir, patterned, sha256, syncEnv } from "./_harness.ts";
import { startFaultProxy } from "./_proxy.ts";
import { spawnSync, waitFor } from "./_spawn.ts";

// moto's S3 server implements ListParts (s3rver does not), so the resume path that asks the server which parts
// it holds is exercised against a real implementation; moto ships on the project's machines (Python)
const MOTO = Bun.which("moto_server");
const MIB = 2 ** 20;
let moto: ReturnType<typeof Bun.spawn> | undefined;
let endpoint = "";
let sdk: S3Client;

beforeAll(async () => {
  if (!MOTO) return;
  const port = await freePort();
  endpoint = `http://127.0.0.1:${port}`;
  moto = Bun.spawn([MOTO, "-H", "127.0.0.1", "-p", String(port)], { stdout: "ignore", stderr: "ignore" });
  await waitFor(
    "moto_server",
    () =>
      fetch(endpoint).then(
        () => true,
        () => false,
      ),
    30_000,
  );
  sdk = new S3Client({
    endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });
  await sdk.send(new CreateBucketCommand({ Bucket: "vol1" }));
}, 40_000);
afterAll(async () => {
  sdk?.destroy();
  moto?.kill();
  await moto?.exited;
});

test.skipIf(!MOTO)(
  "resume trusts ListParts over the local record: a part the server holds is kept, a recorded part it lacks is sent again",
  async () => {
    const big = patterned(7 * MIB - 10, 6);
    const dir = await modelsDir({ "checkpoints/big.safetensors": big });
    const env = syncEnv({ accessKeyId: "testing", secretAccessKey: "testing" });
    const stateDir = join(env.XDG_CACHE_HOME, "comfy-worker/sync");
    const proxy = startFaultProxy(endpoint, { hangPart: (part) => part >= 4 });
    const args = [dir, "--volume", "vol1", "--endpoint-url", proxy.url, "--part-size", "5", "--json"];
    try {
      // 5 MiB parts (moto enforces S3's minimum): part 1 lands, part 2 stalls; kill -9 once part 1 is recorded
      proxy.setRules({ hangPart: (part) => part >= 2 });
      const first = spawnSync(args, env);
      const record = async () => {
        const name = (await readdir(stateDir).catch(() => [] as string[])).find((n) => n.endsWith(".json"));
        return name ? join(stateDir, name) : undefined;
      };
      await waitFor("one recorded part", async () => {
        const path = await record();
        return path ? (await Bun.file(path).json()).parts.length === 1 : false;
      });
      first.kill("SIGKILL");
      await first.exited;
      // as if killed between the server's answer and the record's write: the record forgets part 1
      const path = (await record()) as string;
      await Bun.write(path, JSON.stringify({ ...(await Bun.file(path).json()), parts: [] }));

      proxy.setRules({});
      const before = proxy.forwarded.length;
      const second = spawnSync(args, env);
      const [code, stdout] = await Promise.all([second.exited, new Response(second.stdout).text()]);
      expect(code).toBe(0);
      expect(proxy.forwarded.slice(before)).toEqual([2]);
      expect(JSON.parse(stdout).volumes[0].files[0]).toMatchObject({ outcome: "uploaded", resumed_parts: 1 });
      const head = await sdk.send(new HeadObjectCommand({ Bucket: "vol1", Key: "models/checkpoints/big.safetensors" }));
      expect([head.ContentLength, head.Metadata?.sha256]).toEqual([big.length, sha256(big)]);
      const body = await sdk.send(new GetObjectCommand({ Bucket: "vol1", Key: "models/checkpoints/big.safetensors" }));
      expect(sha256((await body.Body?.transformToByteArray()) as Uint8Array)).toBe(sha256(big));
    } finally {
      proxy.stop();
    }
  },
  60_000,
);

test.skipIf(!MOTO)(
  "a resume record for an older version of the file aborts that upload and starts a new one",
  async () => {
    const first = patterned(6 * MIB, 8);
    const dir = await modelsDir({ "loras/v.safetensors": first });
    const env = syncEnv({ accessKeyId: "testing", secretAccessKey: "testing" });
    const stateDir = join(env.XDG_CACHE_HOME, "comfy-worker/sync");
    const proxy = startFaultProxy(endpoint, { hangPart: (part) => part >= 2 });
    const args = [dir, "--volume", "vol1", "--endpoint-url", proxy.url, "--part-size", "5", "--json"];
    const uploads = async () =>
      (await sdk.send(new ListMultipartUploadsCommand({ Bucket: "vol1", Prefix: "models/loras/v.safetensors" })))
        .Uploads ?? [];
    try {
      const killed = spawnSync(args, env);
      await waitFor("a recorded part", async () => {
        const name = (await readdir(stateDir).catch(() => [] as string[])).find((n) => n.endsWith(".json"));
        return name ? (await Bun.file(join(stateDir, name)).json()).parts.length === 1 : false;
      });
      killed.kill("SIGKILL");
      await killed.exited;
      expect(await uploads()).toHaveLength(1);
      // the file changes (same size, other bytes) before the next run
      const second = patterned(6 * MIB, 9);
      await Bun.write(join(dir, "loras/v.safetensors"), second);
      proxy.setRules({});
      const again = spawnSync(args, env);
      expect(await again.exited).toBe(0);
      expect(await uploads()).toHaveLength(0);
      const head = await sdk.send(new HeadObjectCommand({ Bucket: "vol1", Key: "models/loras/v.safetensors" }));
      expect(head.Metadata?.sha256).toBe(sha256(second));
    } finally {
      proxy.stop();
    }
  },
  60_000,
);
