import { type Config, type ConfigFlags, loadConfig } from "../config.ts";
import { stderr } from "../lib/stdio.ts";
import { createLogger, type Logger, resolveLogFormat } from "../log.ts";
import { CLI_REDACTOR } from "./_redactor.ts";

export interface CommandContextOptions {
  /** Parsed `--config` and `--log-level`. */
  args: { config?: string; "log-level"?: string };
  /** Command flags that override settings, already keyed by setting name. */
  flags?: ConfigFlags;
  /** Logs go to stdout for `serve` (RunPod reads it) and to stderr for commands that print results. */
  stream?: "stdout" | "stderr";
  env?: Record<string, string | undefined>;
}

/** Loads configuration and creates the logger for one command run. */
export function createCommandContext(options: CommandContextOptions): { config: Config; log: Logger } {
  const config = loadConfig({
    env: options.env ?? process.env,
    file: options.args.config,
    flags: { LOG_LEVEL: options.args["log-level"], ...options.flags },
  });
  CLI_REDACTOR.merge(config.redactor);
  // serve logs through process.stdout: a long-running process, whose writes must never wait for the reader
  const stream = options.stream === "stdout" ? process.stdout : stderr;
  const format = resolveLogFormat(config.LOG_FORMAT, {
    isTTY: Boolean(stream.isTTY),
    onRunPod: Boolean(config.RUNPOD_ENDPOINT_ID),
  });
  // no-color.org: NO_COLOR set to anything but "" turns colour off
  const color = !config.env.NO_COLOR;
  const log = createLogger({ level: config.LOG_LEVEL, format, redactor: config.redactor, stream, color });
  for (const warning of config.warnings) log.warn(warning);
  return { config, log };
}
