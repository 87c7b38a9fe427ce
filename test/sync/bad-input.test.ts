import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, symlink, utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createDownloadQueue } from "../../src/download/queue.ts";
import { listAll } from "../../src/sync/list.ts";
import { planSync } from "../../src/sync/plan.ts";
import { S3Client } from "../../src/sync/s3/client.ts";
import { abortStaleUploads } from "../../src/sync/stale-uploads.ts";
import { saveState, statePath } from "../../src/sync/state.ts";
import { uploadFile } from "../../src/sync/upload.ts";
import { runCliCaptured } from "../helpers/cli.ts";
import { modelsDir, patterned, startVolumeServer, syncEnv, type VolumeServer } from "./_harness.ts";

let server: VolumeServer;
let odd: ReturnType<typeof Bun.serve>;
beforeAll(async () => {
  server = await startVolumeServer(["vol1", "vol2"]);
  // an "S3 API" that answers listings with an HTML page, or a first page saying "more" without a token
  odd = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: (req) =>
      new URL(req.url).pathname.startsWith("/html")
        ? new Response("<html><body>Sign in</body></html>", { headers: { "content-type": "text/html" } })
        : new Response("<ListBucketResult><IsTruncated>true</IsTruncated></ListBucketResult>"),
  });
});
afterAll(async () => {
  odd.stop(true);
  await server.stop();
});

const sync = (args: string[]) =>
  runCliCaptured(["sync", ...args, "--endpoint-url", server.endpoint, "--json"], syncEnv(server), {
    captureStderr: true,
  });

test("a --prefix with . or .. parts, and a glob left open or empty, are usage errors; nothing is written", async () => {
  const dir = await modelsDir({ "loras/x.safetensors": patterned(100) });
  for (const prefix of ["../vol2/pwned/", "models/../", "./models", "a\\b", "models//x/"]) {
    const result = await sync([dir, "--volume", "vol1", "--prefix", prefix]);
    expect([prefix, result.code]).toEqual([prefix, 2]);
    expect(result.stderr).toContain("must be a plain key prefix");
  }
  for (const glob of ["[", "", "{a,b"]) {
    const result = await sync([dir, "--volume", "vol1", "--include", glob]);
    expect([glob, result.code]).toEqual([glob, 2]);
    expect(result.stderr).toContain("is not a usable glob");
  }
  expect(await server.list("vol1")).toEqual({});
  expect(await server.list("vol2")).toEqual({});
});

test("a symlink loop is not followed round: each file is sent once", async () => {
  const dir = await modelsDir({ "loras/sub/x.safetensors": patterned(100, 3) });
  await symlink(".", join(dir, "loras/sub/loop"));
  await mkdir(join(dir, "vae"));
  await symlink(join(dir, "loras"), join(dir, "vae/up"));
  const result = await sync([dir, "--volume", "vol2", "--prefix", "loop/"]);
  expect(result.code).toBe(0);
  // the link to a folder outside its own chain is followed once, as ComfyUI would see it
  expect(Object.keys(await server.list("vol2"))).toEqual([
    "loop/loras/sub/x.safetensors",
    "loop/vae/up/sub/x.safetensors",
  ]);
});

test("a listing that is no S3 listing fails instead of reading as an empty volume", async () => {
  const client = (path: string) =>
    new S3Client({
      endpoint: `http://127.0.0.1:${odd.port}${path}`,
      bucket: "vol1",
      region: "us-east-1",
      accessKeyId: "k",
      secretAccessKey: "s",
    });
  await expect(listAll(client("/html"), "models/", { retryInitialMs: 1 })).rejects.toThrow("no S3 listing");
  await expect(listAll(client("/notoken"), "models/")).rejects.toThrow("gave no continuation token");
});

test("with --delete, nothing under a local folder that could not be listed is deleted", async () => {
  const s3 = {} as S3Client;
  const remote = [
    { key: "models/locked/a.safetensors", size: 1 },
    { key: "models/gone.safetensors", size: 1 },
  ];
  const plan = await planSync(s3, "models/", [], remote, {
    delete: true,
    filter: { include: [], exclude: [] },
    hashCacheDir: "/tmp",
    unreadable: ["locked"],
  });
  expect(plan.map((file) => [file.key, file.action])).toEqual([["models/gone.safetensors", "delete"]]);
});

test("a file that changes while it is uploaded fails, though the HEAD confirms the sha256 that was sent", async () => {
  const dir = await modelsDir({ "loras/moving.safetensors": patterned(1000, 5) });
  const path = join(dir, "loras/moving.safetensors");
  const stored = new Map<string, { size: number; sha?: string }>();
  // an S3 API that is slow to take the body: the file is touched meanwhile
  const s3 = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const key = new URL(req.url).pathname;
      if (req.method === "PUT") {
        const size = (await req.arrayBuffer()).byteLength;
        stored.set(key, { size, sha: req.headers.get("x-amz-meta-sha256") ?? undefined });
        await utimes(path, new Date(), new Date(Date.now() + 5_000));
        return new Response(null, { status: 200 });
      }
      const object = stored.get(key);
      if (!object) return new Response(null, { status: 404 });
      return new Response(null, {
        headers: { "content-length": String(object.size), ...(object.sha ? { "x-amz-meta-sha256": object.sha } : {}) },
      });
    },
  });
  try {
    const client = new S3Client({
      endpoint: `http://127.0.0.1:${s3.port}`,
      bucket: "vol1",
      region: "us-east-1",
      accessKeyId: "k",
      secretAccessKey: "s",
    });
    const upload = uploadFile(client, path, "models/loras/moving.safetensors", 1000, "ab".repeat(32), {
      slots: createDownloadQueue(1),
      partBytes: 2 ** 20,
      stateDir: join(dir, ".state"),
      targetId: "test/vol1",
      retry: { attempts: 1 },
    });
    await expect(upload).rejects.toThrow("changed while it was uploaded");
  } finally {
    s3.stop(true);
  }
});

test("an unfinished upload of a file this run will not send is aborted, and its record goes", async () => {
  const seen: string[] = [];
  const s3 = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const url = new URL(req.url);
      seen.push(`${req.method} ${url.pathname}?${url.searchParams.get("uploadId") ?? ""}`);
      return new Response(null, { status: 204 });
    },
  });
  const stateDir = await mkdtemp(join(tmpdir(), "cw-stale-"));
  try {
    const endpoint = `http://127.0.0.1:${s3.port}`;
    const targetId = `${endpoint}/vol1`;
    const record = (key: string, target = targetId) => ({
      version: 1 as const,
      target,
      key,
      uploadId: `up-${key.split("/").pop()}`,
      size: 10,
      sha256: "ab".repeat(32),
      partSize: 5,
      parts: [],
    });
    for (const [key, target] of [
      ["models/gone.safetensors", targetId],
      ["models/sending.safetensors", targetId],
      ["models/elsewhere.safetensors", "http://other/vol9"],
      ["other/outside.safetensors", targetId],
    ] as const)
      await saveState(statePath(stateDir, target, key), record(key, target));
    const client = new S3Client({
      endpoint,
      bucket: "vol1",
      region: "us-east-1",
      accessKeyId: "k",
      secretAccessKey: "s",
    });
    const aborted = await abortStaleUploads(client, {
      stateDir,
      targetId,
      prefix: "models/",
      sending: new Set(["models/sending.safetensors"]),
    });
    expect(aborted).toEqual(["models/gone.safetensors"]);
    expect(seen).toEqual(["DELETE /vol1/models/gone.safetensors?up-gone.safetensors"]);
    expect(await Bun.file(statePath(stateDir, targetId, "models/gone.safetensors")).exists()).toBe(false);
    expect(await Bun.file(statePath(stateDir, targetId, "models/sending.safetensors")).exists()).toBe(true);
  } finally {
    s3.stop(true);
    await rm(stateDir, { recursive: true, force: true });
  }
});

test("sync itself aborts an unfinished upload whose file is gone (and leaves a dry run's alone)", async () => {
  const env = syncEnv(server);
  const stateDir = join(env.XDG_CACHE_HOME, "comfy-worker", "sync");
  const targetId = `${server.endpoint.replace(/\/+$/, "")}/vol2`;
  const record = statePath(stateDir, targetId, "stale/gone.safetensors");
  const state = { version: 1 as const, target: targetId, key: "stale/gone.safetensors", uploadId: "u1", size: 10 };
  await saveState(record, { ...state, sha256: "ab".repeat(32), partSize: 5, parts: [] });
  const dir = await modelsDir({ "x.safetensors": patterned(10, 8) });
  const run = (extra: string[]) =>
    runCliCaptured(
      ["sync", dir, "--volume", "vol2", "--prefix", "stale/", "--endpoint-url", `${server.endpoint}/`, ...extra],
      env,
      {
        captureStderr: true,
      },
    );
  expect((await run(["--dry-run"])).code).toBe(0);
  expect(await Bun.file(record).exists()).toBe(true);
  expect((await run([])).code).toBe(0);
  expect(await Bun.file(record).exists()).toBe(false);
});

test("with --delete, a remote file whose local copy is a broken link is kept, and the run fails (exit 4)", async () => {
  const dir = await modelsDir({
    "loras/kept.safetensors": patterned(100, 11),
    "loras/other.safetensors": patterned(50, 12),
  });
  const first = await sync([dir, "--volume", "vol1", "--prefix", "links/"]);
  expect(first.code).toBe(0);
  await rm(join(dir, "loras/kept.safetensors"));
  await symlink("/nonexistent/kept.safetensors", join(dir, "loras/kept.safetensors"));
  const second = await sync([dir, "--volume", "vol1", "--prefix", "links/", "--delete"]);
  expect(second.code).toBe(4);
  expect(second.stdout).toContain("cannot be read (ENOENT)");
  expect(Object.keys(await server.list("vol1")).filter((key) => key.startsWith("links/"))).toEqual([
    "links/loras/kept.safetensors",
    "links/loras/other.safetensors",
  ]);
});
