import { type ArgsDef, type CommandDef, renderUsage, runCommand } from "citty";
import { isWorkerError, toExitCode, WorkerError } from "../errors.ts";
import { stderr, stdout } from "../lib/stdio.ts";
import { VERSION } from "../version.ts";
import { CLI_REDACTOR } from "./_redactor.ts";
import { didYouMean, findUsageProblem } from "./_strict-args.ts";
import { root } from "./index.ts";

export interface CliIO {
  out: (text: string) => void;
  err: (text: string) => void;
  /** True when stdout/stderr are terminals: only then may help and errors carry colour codes. */
  tty?: { out: boolean; err: boolean };
}

const DEFAULT_IO: CliIO = {
  out: (text) => stdout.write(text),
  err: (text) => stderr.write(text),
  // asked only for help and errors
  get tty() {
    return { out: stdout.isTTY, err: stderr.isTTY };
  },
};

interface Resolved {
  cmd: CommandDef;
  parent: CommandDef | undefined;
  /** The words that name the command (`run`, `kits`), for "see comfy-worker run --help". */
  path: string[];
  /** The arguments the resolved command itself receives. */
  rest: string[];
  /** Flags given before a command's name (`comfy-worker -x serve`), with the options of the command they precede. */
  leading: Array<{ args: ArgsDef; flags: string[] }>;
}

/**
 * Runs one command line and returns its exit code. The only place where errors become exit codes;
 * commands report non-error outcomes by setting `process.exitCode`.
 */
export async function runCli(rawArgs: string[], io: CliIO = DEFAULT_IO): Promise<number> {
  if (rawArgs.length === 1 && (rawArgs[0] === "--version" || rawArgs[0] === "-v")) {
    io.out(`${VERSION}\n`);
    return 0;
  }
  const resolved = await _resolve(root, rawArgs);
  const { cmd, parent } = resolved;
  if (rawArgs.includes("--help") || rawArgs.includes("-h") || (cmd === root && rawArgs.length === 0)) {
    io.out(`${plainText(await renderUsage(cmd, parent), io.tty?.out === true)}\n`);
    return 0;
  }
  const problem = await _usageProblem(resolved);
  if (problem) return _usage(problem, resolved, io);
  // the code is returned, not left behind: an in-process caller (the tests) keeps its own exit status
  const callersExitCode = process.exitCode;
  try {
    process.exitCode = 0;
    await runCommand(root, { rawArgs });
    return Number(process.exitCode ?? 0);
  } catch (error) {
    return _report(error, resolved, io);
  } finally {
    // Bun ignores `process.exitCode = undefined`, so "unset" goes back as 0
    process.exitCode = callersExitCode ?? 0;
  }
}

/** Help and messages as they should reach a pipe or file: no colour codes, no padding at line ends. */
export function plainText(text: string, tty: boolean): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching ANSI escape sequences is the point
  const uncoloured = tty ? text : text.replace(/\x1b\[[0-9;]*m/g, "");
  return uncoloured.replace(/[ \t]+$/gm, "");
}

function _report(error: unknown, resolved: Resolved, io: CliIO): number {
  const redactor = CLI_REDACTOR;
  // citty's own errors (missing argument, bad enum value) are usage errors
  if (error instanceof Error && error.name === "CLIError") return _usage(error.message, resolved, io);
  if (isWorkerError(error) && error.code === "E_USAGE") return _usage(error.message, resolved, io);
  if (isWorkerError(error)) {
    io.err(`error: ${redactor.text(error.message)}\n`);
    // "no such file" already says what ENOENT would
    if (error.cause && error.code !== "E_NOT_FOUND") io.err(`cause: ${redactor.text(String(error.cause))}\n`);
    return toExitCode(error);
  }
  const unexpected = error instanceof Error ? (error.stack ?? error.message) : String(error);
  io.err(`unexpected error (a bug; please report it): ${redactor.text(unexpected)}\n`);
  return toExitCode(new WorkerError("E_INTERNAL", "unexpected"));
}

// usage errors are one line and a pointer to the command's help, never the whole help
function _usage(message: string, resolved: Resolved, io: CliIO): number {
  const help = ["comfy-worker", ...resolved.path, "--help"].join(" ");
  const text = plainText(CLI_REDACTOR.text(message), io.tty?.err === true).replace(/\.$/, "");
  io.err(`error: ${text}; see \`${help}\`\n`);
  return toExitCode(new WorkerError("E_USAGE", message));
}

async function _usageProblem({ cmd, rest, leading }: Resolved): Promise<string | undefined> {
  // citty drops what comes before a command's name: an unknown flag there would be ignored without a word
  for (const level of leading) {
    const problem = findUsageProblem(level.args, level.flags);
    if (problem) return problem;
  }
  const subs = await _value(cmd.subCommands);
  if (subs && Object.keys(subs).length > 0) {
    // a command with subcommands: the first word that isn't a flag must name one
    const word = rest.find((arg) => !arg.startsWith("-"));
    if (word !== undefined) return `unknown command "${word}"${didYouMean(word, Object.keys(subs))}`;
    // flags but no command (`comfy-worker --nope`): an unknown flag is named before "no command"
    if (!cmd.run) return findUsageProblem(((await _value(cmd.args)) ?? {}) as ArgsDef, rest);
  }
  return findUsageProblem(((await _value(cmd.args)) ?? {}) as ArgsDef, rest);
}

// the same walk as citty's runCommand: the first word that isn't a flag (or a flag's value) names a subcommand
async function _resolve(start: CommandDef, rawArgs: string[]): Promise<Resolved> {
  let resolved: Resolved = { cmd: start, parent: undefined, path: [], rest: rawArgs, leading: [] };
  for (;;) {
    const subs = await _value(resolved.cmd.subCommands);
    if (!subs) return resolved;
    const args = ((await _value(resolved.cmd.args)) ?? {}) as ArgsDef;
    const index = _firstWord(resolved.rest, args);
    const name = index < 0 ? undefined : resolved.rest[index];
    const next = name === undefined ? undefined : await _value(subs[name]);
    if (!next || name === undefined) return resolved;
    resolved = {
      cmd: next,
      parent: resolved.cmd,
      path: [...resolved.path, name],
      rest: resolved.rest.slice(index + 1),
      leading: index > 0 ? [...resolved.leading, { args, flags: resolved.rest.slice(0, index) }] : resolved.leading,
    };
  }
}

function _firstWord(rawArgs: readonly string[], args: ArgsDef): number {
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] as string;
    if (arg === "--") return -1;
    if (!arg.startsWith("-")) return i;
    const def = args[arg.replace(/^-{1,2}/, "")];
    if (!arg.includes("=") && (def?.type === "string" || def?.type === "enum")) i++;
  }
  return -1;
}

async function _value<T>(input: T | Promise<T> | (() => T | Promise<T>) | undefined): Promise<T | undefined> {
  return typeof input === "function" ? await (input as () => T | Promise<T>)() : await input;
}
