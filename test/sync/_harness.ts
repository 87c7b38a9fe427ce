import { mkdtempSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { startS3 } from "../runpod/_s3.ts";

/** s3rver with the given buckets, plus an independent reader (the AWS SDK), never the code under test. */
export async function startVolumeServer(buckets: string[]) {
  const s3 = await startS3(buckets);
  const sdk = new S3Client({
    endpoint: s3.endpoint,
    region: "us-east-1",
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey },
  });
  return {
    ...s3,
    sdk,
    /** Keys and sizes under a prefix. */
    async list(bucket: string, prefix = ""): Promise<Record<string, number>> {
      const out: Record<string, number> = {};
      let token: string | undefined;
      do {
        const page = await sdk.send(
          new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
        );
        for (const object of page.Contents ?? []) out[object.Key as string] = object.Size as number;
        token = page.NextContinuationToken;
      } while (token);
      return out;
    },
    async head(bucket: string, key: string) {
      const res = await sdk.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return { size: res.ContentLength, sha256: res.Metadata?.sha256 };
    },
    async bytes(bucket: string, key: string): Promise<Uint8Array> {
      const res = await sdk.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return (await res.Body?.transformToByteArray()) ?? new Uint8Array();
    },
    async stop() {
      sdk.destroy();
      await s3.close();
    },
  };
}
export type VolumeServer = Awaited<ReturnType<typeof startVolumeServer>>;

/** A fresh models folder with the given files (path → content). */
export async function modelsDir(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "cw-sync-"));
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await Bun.write(join(dir, rel), content);
  }
  return dir;
}

/** Deterministic bytes (a counter pattern) so every part differs. */
export function patterned(size: number, seed = 1): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return bytes;
}

/** sha256 hex of bytes. */
export function sha256(bytes: Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(bytes).digest("hex");
}

/** Environment for a sync run against `server`: keys, and a private cache dir for resume records. */
export function syncEnv(server: { accessKeyId: string; secretAccessKey: string }, extra: Record<string, string> = {}) {
  return {
    RUNPOD_S3_ACCESS_KEY: server.accessKeyId,
    RUNPOD_S3_SECRET_KEY: server.secretAccessKey,
    XDG_CACHE_HOME: mkdtempSync(join(tmpdir(), "cw-sync-cache-")),
    ...extra,
  };
}
