import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { createBucketUploader, jobUploader, objectKey, resolveEnvBucket } from "../../src/runpod/bucket.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { type FakeRunpod, startFakeRunpod } from "../helpers/fake-runpod.ts";
import { jsonPost, startTestWorker } from "../helpers/worker.ts";
import { startRunpodTestWorker } from "./_helpers.ts";
import { startS3 } from "./_s3.ts";

// biome-ignore lint/suspicious/noExplicitAny: job bodies are inspected freely
type Json = Record<string, any>;
let s3: Awaited<ReturnType<typeof startS3>>;
const ref = { node_id: "9", filename: "img_00001_.png", subfolder: "sub/dir", type: "output", kind: "images" } as const;
const PNG = new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);

beforeAll(async () => {
  s3 = await startS3(["outputs", "job-bucket"]);
});
afterAll(async () => {
  await s3.close();
});

function bucketEnv(extra: Record<string, string> = {}): Record<string, string> {
  return {
    BUCKET_ENDPOINT_URL: s3.endpoint,
    BUCKET_ACCESS_KEY_ID: s3.accessKeyId,
    BUCKET_SECRET_ACCESS_KEY: s3.secretAccessKey,
    BUCKET_NAME: "outputs",
    BUCKET_PREFIX: "runs/",
    ...extra,
  };
}

describe("bucket settings and keys", () => {
  test("keys are {prefix}/{job id}/{subfolder}/{filename} and never climb out of the job", () => {
    expect(objectKey("runs/", "job-1", ref)).toBe("runs/job-1/sub/dir/img_00001_.png");
    expect(objectKey("", "job-1", { subfolder: "", filename: "a.png" })).toBe("job-1/a.png");
    expect(objectKey("p", "job-1", { subfolder: "../../x/./y", filename: "a.png" })).toBe("p/job-1/x/y/a.png");
  });

  test("a partly configured bucket is a configuration error; none at all means inline only", () => {
    expect(() => resolveEnvBucket(loadConfig({ env: { BUCKET_ENDPOINT_URL: "https://s3.example.com" } }))).toThrow(
      /BUCKET_ACCESS_KEY_ID, BUCKET_SECRET_ACCESS_KEY/,
    );
    expect(resolveEnvBucket(loadConfig({ env: {} }))).toBeUndefined();
    expect(jobUploader(loadConfig({ env: {} }), "j", undefined)).toBeUndefined();
  });

  test("without BUCKET_NAME the endpoint is virtual-hosted, and an AWS endpoint names the region", () => {
    const target = resolveEnvBucket(
      loadConfig({
        env: { ...bucketEnv({ BUCKET_ENDPOINT_URL: "https://my-bucket.s3.eu-west-2.amazonaws.com" }), BUCKET_NAME: "" },
      }),
    );
    expect(target?.options).toMatchObject({ virtualHostedStyle: true, region: "eu-west-2" });
    expect(target?.options.bucket).toBeUndefined();
  });

  test("a malformed s3Config is a job input error, and its secret is registered for redaction", () => {
    const config = loadConfig({ env: {} });
    expect(() => jobUploader(config, "j", { accessId: "x" })).toThrow(/invalid s3Config/);
    jobUploader(config, "j", {
      accessId: "AKIAJOBKEY",
      accessSecret: "job-secret-value",
      bucketName: "b",
      endpointUrl: s3.endpoint,
    });
    expect(config.redactor.text("leak job-secret-value")).toBe("leak ***");
  });
});

describe("uploads to a real S3 server", () => {
  test("writes the bytes under the key and returns a presigned URL that downloads the same bytes", async () => {
    const upload = jobUploader(loadConfig({ env: bucketEnv() }), "job-1", undefined);
    const url = await upload?.(ref, PNG, "image/png");
    expect(await s3.read("outputs", "runs/job-1/sub/dir/img_00001_.png")).toEqual(PNG);
    expect(url).toContain("/outputs/runs/job-1/sub/dir/img_00001_.png?");
    expect(url).toContain("X-Amz-Signature=");
    const res = await fetch(url as string);
    expect(res.status).toBe(200);
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(PNG);
  });

  test("a failed upload is an E_BUCKET error that names the bucket and key, never a silent success", async () => {
    const upload = createBucketUploader(
      {
        options: { endpoint: s3.endpoint, bucket: "no-such-bucket", accessKeyId: s3.accessKeyId, secretAccessKey: "b" },
        label: "s3://no-such-bucket",
        prefix: "",
      },
      "job-2",
    );
    const error = await upload(ref, PNG, "image/png").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_BUCKET" });
    expect((error as Error).message).toContain("s3://no-such-bucket/job-2/sub/dir/img_00001_.png");
    expect((error as Error).message).toContain("NoSuchBucket");
  });
});

describe("a job's s3Config endpoint gets the job-URL rules", () => {
  const s3Config = () => ({
    accessId: s3.accessKeyId,
    accessSecret: s3.secretAccessKey,
    bucketName: "job-bucket",
    endpointUrl: s3.endpoint,
  });

  test("on loopback it is refused before anything is signed or sent, unless PRIVATE_HOSTS_ALLOWED names it", async () => {
    const refused = jobUploader(loadConfig({ env: {} }), "guard-1", s3Config());
    const error = await refused?.(ref, PNG, "image/png").catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "E_INPUT" });
    expect((error as Error).message).toContain("s3Config.endpointUrl");
    expect(await s3.exists("job-bucket", "guard-1/sub/dir/img_00001_.png")).toBe(false);

    const allowed = jobUploader(loadConfig({ env: { PRIVATE_HOSTS_ALLOWED: "127.0.0.1" } }), "guard-2", s3Config());
    await allowed?.(ref, PNG, "image/png");
    expect(await s3.read("job-bucket", "guard-2/sub/dir/img_00001_.png")).toEqual(PNG);
  });

  test("a public-looking name that resolves to the metadata address is refused too", async () => {
    const config = loadConfig({ env: { PRIVATE_HOSTS_ALLOWED: "127.0.0.1" } });
    const lookup = async () => ["169.254.169.254"];
    const upload = jobUploader(config, "guard-3", { ...s3Config(), endpointUrl: "https://s3.example.com" }, { lookup });
    await expect(upload?.(ref, PNG, "image/png") as Promise<string>).rejects.toThrow("169.254.169.254");
  });

  test("the operator's BUCKET_ENDPOINT_URL is trusted as configured", async () => {
    const upload = jobUploader(loadConfig({ env: bucketEnv() }), "guard-4", undefined);
    expect(await upload?.(ref, PNG, "image/png")).toContain("X-Amz-Signature=");
  });
});

describe("jobs with bucket outputs", () => {
  let fake: FakeRunpod;
  const stops: Array<() => Promise<void>> = [];
  beforeAll(() => {
    fake = startFakeRunpod({ holdMs: 1_000 });
  });
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });
  afterAll(async () => {
    await fake.close();
  });

  test("RunPod mode: BUCKET_* and a job's s3Config give s3_url outputs; a failing upload fails the job", async () => {
    // s3rver listens on loopback: a job's s3Config may reach it only because PRIVATE_HOSTS_ALLOWED says so
    const env = bucketEnv({ COMFY_ARGS: "--node-ms 10", PRIVATE_HOSTS_ALLOWED: "127.0.0.1" });
    const worker = await startRunpodTestWorker(fake, env);
    stops.push(worker.stop);
    const input = (seed: number) => ({
      workflow: sd15Workflow(),
      overrides: { "3.seed": seed },
      output: { mode: "bucket" },
    });
    const s3Config = (bucketName: string) => ({
      accessId: s3.accessKeyId,
      accessSecret: "per-job-secret-123",
      bucketName,
      endpointUrl: s3.endpoint,
      objectPath: "by-job",
    });
    fake.enqueue(
      { id: "bk-env", input: input(41) },
      { id: "bk-job", input: input(42), s3Config: s3Config("job-bucket") },
      { id: "bk-fail", input: input(43), s3Config: s3Config("missing-bucket") },
    );
    for (const id of ["bk-env", "bk-job", "bk-fail"])
      await fake.waitFor(() => fake.accepted(id).length === 1, `${id} reported`, 30_000);

    const image = fake.accepted("bk-env")[0]?.json.output.images[0] as Json;
    expect(image).toMatchObject({ type: "s3_url", node_id: "9", mime: "image/png" });
    const key = `runs/bk-env/${image.subfolder ? `${image.subfolder}/` : ""}${image.filename}`;
    const stored = await s3.read("outputs", key);
    expect(new Uint8Array(await (await fetch(image.data)).arrayBuffer())).toEqual(stored);
    expect(Array.from(stored.slice(1, 4))).toEqual([0x50, 0x4e, 0x47]);

    const perJob = fake.accepted("bk-job")[0]?.json.output.images[0] as Json;
    expect(perJob.data).toContain("/job-bucket/by-job/bk-job/");
    expect(await s3.exists("job-bucket", `by-job/bk-job/${perJob.filename}`)).toBe(true);

    const failed = fake.accepted("bk-fail")[0]?.json as Json;
    expect(failed.output.details.code).toBe("E_BUCKET");
    expect(JSON.parse(failed.error)).toMatchObject({ error_type: "E_BUCKET" });
    expect(JSON.parse(failed.error).error_message).toContain("missing-bucket");
    expect(failed.error).not.toContain("per-job-secret-123");
  }, 60_000);

  test("API mode: a request's s3Config uploads the outputs too", async () => {
    const worker = await startTestWorker({ COMFY_ARGS: "--node-ms 10", PRIVATE_HOSTS_ALLOWED: "127.0.0.1" });
    stops.push(worker.stop);
    const body = {
      input: { workflow: sd15Workflow(), output: { mode: "bucket" } },
      s3Config: {
        accessId: s3.accessKeyId,
        accessSecret: "api-secret-456",
        bucketName: "job-bucket",
        endpointUrl: s3.endpoint,
      },
    };
    const view = (await (await worker.api("/runsync", jsonPost(body))).json()) as Json;
    expect(view.status).toBe("COMPLETED");
    const image = view.output.images[0] as Json;
    expect(image.type).toBe("s3_url");
    const res = await fetch(image.data);
    expect(res.status).toBe(200);
    expect(
      await s3.exists("job-bucket", `${view.id}/${image.subfolder ? `${image.subfolder}/` : ""}${image.filename}`),
    ).toBe(true);
  }, 60_000);
});
