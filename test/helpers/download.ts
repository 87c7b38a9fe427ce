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
