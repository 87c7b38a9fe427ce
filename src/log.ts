import { type ConsolaInstance, type ConsolaOptions, createConsola, type LogObject } from "consola/core";
import { consolaFull } from "./lib/lazy-modules.ts";
import type { Redactor } from "./lib/redact.ts";

export type LogLevelName = "error" | "warn" | "info" | "debug" | "trace";
export type LogFormat = "pretty" | "json";
export type LogFields = Record<string, unknown>;

/** A tagged logger whose every line passes through the redactor first. */
export interface Logger {
  error(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  debug(message: string, fields?: LogFields): void;
  trace(message: string, fields?: LogFields): void;
  /** A logger whose lines carry this tag and/or RunPod request id. */
  child(bindings: { tag?: string; requestId?: string }): Logger;
}

/** Where log lines are written: process.stdout, or the CLI's stderr (lib/stdio.ts). */
export interface LogStream {
  write(text: string): unknown;
}

export interface LoggerOptions {
  level: LogLevelName;
  format: LogFormat;
  redactor: Redactor;
  /** Where lines go: stdout for `serve` (RunPod reads it), stderr for CLI commands that print results. */
  stream?: LogStream;
  /** false (NO_COLOR is set): pretty lines without colour codes or badges. */
  color?: boolean;
}

const CONSOLA_LEVELS: Record<LogLevelName, number> = { error: 0, warn: 1, info: 3, debug: 4, trace: 5 };
// RunPod's console truncates long lines in the middle; we do it ourselves so both ends survive
const MAX_MESSAGE_CHARS = 4096;

/** `auto` means JSON lines when stdout is not a terminal or when running on RunPod (SPEC §3 LOG_FORMAT). */
export function resolveLogFormat(setting: "auto" | LogFormat, env: { isTTY: boolean; onRunPod: boolean }): LogFormat {
  if (setting !== "auto") return setting;
  return env.isTTY && !env.onRunPod ? "pretty" : "json";
}

/** Builds the process logger over consola: pretty on a TTY, RunPod-shaped JSON lines otherwise. */
export function createLogger(options: LoggerOptions): Logger {
  const stream = options.stream ?? process.stdout;
  const common = {
    level: CONSOLA_LEVELS[options.level],
    // identical lines (ComfyUI progress, retries) must all be kept
    throttle: 0,
    stdout: stream as unknown as NodeJS.WriteStream,
    stderr: stream as unknown as NodeJS.WriteStream,
  };
  const consola =
    options.format === "json"
      ? createConsola({ ...common, reporters: [{ log: (obj: LogObject) => _writeJson(stream, obj) }] })
      : // consola's fancy reporter colours whenever its own detection says so (CI forces it); plain honours NO_COLOR
        _prettyConsola({ ...common, fancy: options.color !== false });
  return _bind(consola, options.redactor, {});
}

// consola's full entry (its reporters, terminal string widths) costs about 8 ms at import, mostly building an
// Intl.Segmenter; JSON lines need only its core, so the full entry is loaded when pretty lines are asked for
function _prettyConsola(options: Partial<ConsolaOptions> & { fancy: boolean }): ConsolaInstance {
  return consolaFull().createConsola(options);
}

function _bind(consola: ConsolaInstance, redactor: Redactor, bindings: { tag?: string; requestId?: string }): Logger {
  const tagged = bindings.tag ? consola.withTag(bindings.tag) : consola;
  const emit = (level: LogLevelName) => (message: string, fields?: LogFields) => {
    const text = redactor.text(message);
    const extra = { ...(bindings.requestId ? { requestId: bindings.requestId } : {}), ...fields };
    if (Object.keys(extra).length === 0) tagged[level](text);
    else tagged[level](text, redactor.value(extra));
  };
  return {
    error: emit("error"),
    warn: emit("warn"),
    info: emit("info"),
    debug: emit("debug"),
    trace: emit("trace"),
    child: (more) => _bind(consola, redactor, { ...bindings, ...more }),
  };
}

function _writeJson(stream: LogStream, obj: LogObject): void {
  const [message, fields] = obj.args as [unknown, LogFields | undefined];
  const { requestId = null, ...rest } = fields ?? {};
  const line = {
    requestId,
    message: _truncate(String(message)),
    level: obj.type === "log" ? "INFO" : obj.type.toUpperCase(),
    ...(obj.tag ? { tag: obj.tag } : {}),
    ...rest,
  };
  stream.write(`${JSON.stringify(line)}\n`);
}

function _truncate(message: string): string {
  if (message.length <= MAX_MESSAGE_CHARS) return message;
  const half = Math.floor((MAX_MESSAGE_CHARS - 5) / 2);
  return `${message.slice(0, half)} ... ${message.slice(-half)}`;
}
