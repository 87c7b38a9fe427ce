import { expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { primeJobRun } from "../../src/jobs/prime.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { startTestWorker, stopAfterEach } from "../helpers/worker.ts";

const track = stopAfterEach();

function deps(lines: string[]) {
  const stream = { write: (line: string) => lines.push(line) } as unknown as NodeJS.WritableStream;
  const log = createLogger({ level: "debug", format: "json", redactor: new Redactor(), stream });
  return { config: loadConfig({ env: {} }), log };
}

// the stand-in must speak ComfyUI's protocol well enough for the whole job path, or the warm-up warms nothing
test("the warm-up job completes against the stand-in ComfyUI, outputs read over /view or from a folder", async () => {
  const lines: string[] = [];
  expect(await primeJobRun(deps(lines))).toBe(true);
  const local = { output: "/nonexistent", temp: "/nonexistent", input: "/nonexistent" };
  expect(await primeJobRun({ ...deps(lines), localFiles: local })).toBe(true);
  expect(lines.filter((line) => line.includes("warm-up"))).toEqual([]);
});

test("the worker's warm-up never reaches its ComfyUI: no prompt in its history or queue once ready", async () => {
  const worker = track(await startTestWorker());
  const history = await (await fetch(`${worker.comfy.url}/history`)).json();
  expect(history).toEqual({});
  const queue = (await (await fetch(`${worker.comfy.url}/queue`)).json()) as Record<string, unknown[]>;
  expect([queue.queue_running, queue.queue_pending]).toEqual([[], []]);
});
