import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger, type Logger } from "../../src/log.ts";

/** Retry delays small enough for tests (Retry-After from a host still wins). */
export const FAST_RETRY = { initialMs: 20, maxMs: 200 } as const;

/** A fresh temp dir and a disposer that removes it. */
export function tempDir(prefix = "cw-dl-"): { dir: string; [Symbol.dispose](): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, [Symbol.dispose]: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Names in `dir`, sorted (to assert no `.part`, `.part.json` or lock is left behind). */
export function listDir(dir: string): string[] {
  return readdirSync(dir).sort();
}

/** A JSON-lines logger through a Redactor that knows `secrets`, writing into `lines`. */
export function captureLogger(secrets: string[] = []): { log: Logger; text(): string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, callback) {
      chunks.push(String(chunk));
      callback();
    },
  });
  const log = createLogger({ level: "debug", format: "json", redactor: new Redactor(secrets), stream });
  return { log, text: () => chunks.join("") };
}

/** Bytes the `.part.json` resume state of `dest` says are on disk, once it says at least `min` (bounded poll). */
export async function recordedBytes(dest: string, min: number, timeoutMs = 30_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const state = await Bun.file(`${dest}.part.json`)
      .json()
      .catch(() => undefined);
    const bytes = (state?.written as number[] | undefined)?.reduce((a, b) => a + b, 0) ?? 0;
    if (bytes >= min) return bytes;
    await Bun.sleep(50);
  }
  throw new Error(`no resume state with ${min} bytes within ${timeoutMs} ms`);
}
