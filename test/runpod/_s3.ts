import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// @ts-expect-error s3rver ships no type declarations; the few members used are typed below
import S3rverModule from "s3rver";

interface S3rverServer {
  run(): Promise<{ address: string; port: number }>;
  close(): Promise<void>;
}
type S3rverOptions = {
  port: number;
  address: string;
  silent: boolean;
  directory: string;
  configureBuckets: Array<{ name: string }>;
};
const S3rver = S3rverModule as new (options: S3rverOptions) => S3rverServer;

/** A real S3-compatible server (s3rver) on a free loopback port with the given buckets; it checks the key id (S3RVER), not the secret. */
export async function startS3(buckets: string[]) {
  const directory = mkdtempSync(join(tmpdir(), "cw-s3rver-"));
  const server = new S3rver({
    port: 0,
    address: "127.0.0.1",
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    accessKeyId: "S3RVER",
    secretAccessKey: "S3RVER-secret-key",
    /** Reads an object straight from the server, bypassing the code under test. */
    read: (bucket: string, key: string) =>
      new Bun.S3Client({ endpoint, bucket, accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }).file(key).bytes(),
    exists: (bucket: string, key: string) =>
      new Bun.S3Client({ endpoint, bucket, accessKeyId: "S3RVER", secretAccessKey: "S3RVER" }).exists(key),
    close: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
