import { type CommandDef, renderUsage, runCommand } from "citty";
import { isWorkerError, toExitCode, WorkerError } from "../errors.ts";
import { VERSION } from "../version.ts";
import { CLI_REDACTOR } from "./_redactor.ts";
import { root } from "./index.ts";

export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
}

const DEFAULT_IO: CliIO = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
};

/**
 * Runs one command line and returns its exit code. The only place where errors become exit codes;
 * commands report non-error outcomes by setting `process.exitCode`.
 */
export async function runCli(rawArgs: string[], io: CliIO = DEFAULT_IO): Promise<number> {
  if (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) {
    io.out(`${VERSION}\n`);
    return 0;
  }
  const [cmd, parent] = await _resolve(root, rawArgs);
  if (rawArgs.includes("--help") || rawArgs.includes("-h") || (cmd === root && rawArgs.length === 0)) {
    io.out(`${await renderUsage(cmd, parent)}\n`);
    return 0;
  }
  try {
    process.exitCode = 0;
    await runCommand(root, { rawArgs });
    return Number(process.exitCode ?? 0);
  } catch (error) {
    return _report(error, cmd, parent, io);
  }
}

async function _report(error: unknown, cmd: CommandDef, parent: CommandDef | undefined, io: CliIO): Promise<number> {
  const redactor = CLI_REDACTOR;
  // citty's own errors (unknown command, missing argument) are usage errors
  if (error instanceof Error && error.name === "CLIError") {
    io.err(`${await renderUsage(cmd, parent)}\n\nerror: ${redactor.text(error.message)}\n`);
    return 2;
  }
  if (isWorkerError(error)) {
    io.err(`error: ${redactor.text(error.message)}\n`);
    if (error.cause) io.err(`cause: ${redactor.text(String(error.cause))}\n`);
    return toExitCode(error);
  }
  const unexpected = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.err(`unexpected error (a bug; please report it): ${redactor.text(unexpected)}\n`);
  return toExitCode(new WorkerError("E_INTERNAL", "unexpected"));
}

async function _resolve(cmd: CommandDef, rawArgs: string[]): Promise<[CommandDef, CommandDef | undefined]> {
  let current = cmd;
  let parent: CommandDef | undefined;
  for (const arg of rawArgs) {
    if (arg.startsWith("-")) continue;
    const subs = await _value(current.subCommands);
    const next = await _value(subs?.[arg]);
    if (!next) break;
    parent = current;
    current = next;
  }
  return [current, parent];
}

async function _value<T>(input: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof input === "function" ? await (input as () => T | Promise<T>)() : await input;
}
