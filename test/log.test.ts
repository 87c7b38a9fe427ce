import { expect, test } from "bun:test";
import { Writable } from "node:stream";
import { Redactor } from "../src/lib/redact.ts";
import { createLogger, resolveLogFormat } from "../src/log.ts";

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  return { lines, stream };
}

test("writes RunPod-shaped JSON lines with tag, request id and fields, secrets redacted", () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: "info", format: "json", redactor: new Redactor(["tok-123456"]), stream });
  log.info("started tok-123456", { port: 8000, HF_TOKEN: "tok-123456" });
  log.child({ tag: "comfy", requestId: "job-1" }).warn("slow");
  log.debug("hidden at info");
  expect(lines.map((line) => JSON.parse(line))).toEqual([
    { requestId: null, message: "started ***", level: "INFO", port: 8000, HF_TOKEN: "***" },
    { requestId: "job-1", message: "slow", level: "WARN", tag: "comfy" },
  ]);
});

test("keeps identical consecutive lines (no throttling)", () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: "info", format: "json", redactor: new Redactor(), stream });
  for (let i = 0; i < 5; i++) log.info("same line");
  expect(lines).toHaveLength(5);
});

test("truncates very long messages in the middle", () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: "info", format: "json", redactor: new Redactor(), stream });
  log.info(`start${"x".repeat(10_000)}end`);
  const message = JSON.parse(lines[0] as string).message as string;
  expect(message.length).toBeLessThanOrEqual(4096);
  expect(message.startsWith("start")).toBe(true);
  expect(message.endsWith("end")).toBe(true);
});

test("pretty format redacts too", () => {
  const { lines, stream } = capture();
  const log = createLogger({ level: "debug", format: "pretty", redactor: new Redactor(["pw-abcdef"]), stream });
  log.child({ tag: "http" }).info("login pw-abcdef");
  expect(lines.join("\n")).toContain("login ***");
  expect(lines.join("\n")).not.toContain("pw-abcdef");
});

test("auto log format is JSON off a TTY and on RunPod", () => {
  expect(resolveLogFormat("auto", { isTTY: true, onRunPod: false })).toBe("pretty");
  expect(resolveLogFormat("auto", { isTTY: false, onRunPod: false })).toBe("json");
  expect(resolveLogFormat("auto", { isTTY: true, onRunPod: true })).toBe("json");
  expect(resolveLogFormat("pretty", { isTTY: false, onRunPod: true })).toBe("pretty");
});
