import { expect, test } from "bun:test";
import { WorkerError } from "../../src/errors.ts";
import { describeFailure } from "../../src/jobs/failure.ts";
import { LogWindow, windowedFailures } from "../../src/jobs/log-window.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { sd15Workflow } from "../helpers/emulator.ts";
import { type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";

const track = stopAfterEach();

test("a window holds only the lines that arrived within it, newest last, at most max", () => {
  let now = 1_000;
  const window = new LogWindow(10, () => now);
  window.push("banner: Starting server");
  now = 2_000;
  window.push("previous job line");
  now = 3_000;
  window.push("this job 1");
  window.push("this job 2");
  now = 4_000;
  window.push("after the failure");
  expect(window.between(3_000, 3_500, 50)).toEqual(["this job 1", "this job 2"]);
  expect(window.between(3_000, 3_500, 1)).toEqual(["this job 2"]);
  expect(window.between(3_600, 3_900, 50)).toEqual([]);
  expect(window.span(undefined).named).toEqual({
    from: new Date(4_000).toISOString(),
    to: new Date(4_000).toISOString(),
  });
});

test("with a window, the failure names it and a crash's carried lines give way to the window's", () => {
  const crash = new WorkerError("E_JOB_FAILED", "ComfyUI exited", {
    details: { last_log_lines: ["banner from before the job", "Traceback: boom"] },
  });
  const window = { from: "2026-01-01T00:00:00.000Z", to: "2026-01-01T00:00:01.000Z" };
  const failure = describeFailure(crash, () => ["Traceback: boom"], new Redactor(), window);
  expect(failure.details).toMatchObject({ last_log_lines: ["Traceback: boom"], last_log_lines_window: window });
  // without a window (callers that have none) the carried lines are kept as before
  expect(describeFailure(crash, () => [], new Redactor()).details.last_log_lines).toHaveLength(2);
});

test("windowedFailures follows the handle's output and reports only lines since the job started", () => {
  const listeners: Array<(line: string) => void> = [];
  const source = {
    onLine: (listener: (line: string) => void) => {
      listeners.push(listener);
      return () => {};
    },
  };
  const fail = windowedFailures(source, 100, new Redactor());
  for (const listener of listeners) listener("start-up banner");
  const failure = fail(new WorkerError("E_INPUT", "bad"), { startedAt: Date.now() + 60_000 });
  expect(failure.details.last_log_lines).toEqual([]);
  expect(failure.details.last_log_lines_window).toBeDefined();
});

test("a crash's window ends where its ComfyUI died, not at the restarted one's start-up banner", () => {
  let now = 1_000;
  const listeners: Array<(line: string) => void> = [];
  const source = {
    onLine: (listener: (line: string) => void) => {
      listeners.push(listener);
      return () => {};
    },
  };
  const fail = windowedFailures(source, 100, new Redactor(), () => now);
  const print = (line: string) => {
    for (const listener of listeners) listener(line);
  };
  print("got prompt");
  now = 2_000;
  print("Traceback (most recent call last):");
  const crash = new WorkerError("E_JOB_FAILED", "ComfyUI exited (code 1) while running this job", {
    details: { last_log_lines: ["got prompt", "Traceback (most recent call last):"], comfy_exited_at: 2_500 },
  });
  now = 3_000;
  for (let i = 0; i < 60; i++) print(`Adding extra search path ${i}`);
  now = 3_500;
  const { details } = fail(crash, { startedAt: 1_000 });
  expect(details.last_log_lines).toEqual(["got prompt", "Traceback (most recent call last):"]);
  expect(details.last_log_lines_window).toEqual({
    from: new Date(1_000).toISOString(),
    to: new Date(2_500).toISOString(),
  });
  expect(details).not.toHaveProperty("comfy_exited_at");
});

test("a job that fails before anything is queued carries no earlier job's or start-up lines", async () => {
  const w = track(await startTestWorker());
  const ok = (await (await w.api("/runsync", jsonPost({ input: { workflow: sd15Workflow() } }))).json()) as Json;
  expect(ok.status).toBe("COMPLETED");
  expect(w.comfy.logs(500).length).toBeGreaterThan(0);
  const workflow = { ...sd15Workflow(), "99": { class_type: "NoSuchNode", inputs: {} } };
  const failed = (await (await w.api("/runsync", jsonPost({ input: { workflow } }))).json()) as Json;
  expect(failed.status).toBe("FAILED");
  expect(failed.output.details.code).toBe("E_UNKNOWN_NODE");
  expect(failed.output.details.last_log_lines).toEqual([]);
  const span = failed.output.details.last_log_lines_window as { from: string; to: string };
  expect(Date.parse(span.from)).toBeLessThanOrEqual(Date.parse(span.to));
});
