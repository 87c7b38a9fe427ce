import { basename, resolve } from "node:path";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";

/** What to spawn for ComfyUI: an argv (never run through a shell), where, and extra environment. */
export interface ComfyCommand {
  argv: string[];
  cwd?: string;
  env?: Record<string, string>;
}

export interface BuildComfyCommandOptions {
  /** Supervise the built-in emulator (`serve --emulate`) with this base directory instead of ComfyUI. */
  emulate?: { baseDir: string };
}

type CommandConfig = Pick<
  Config,
  "COMFY_DIR" | "COMFY_PYTHON" | "COMFY_CMD" | "COMFY_ARGS" | "COMFY_HOST" | "COMFY_PORT" | "EXTRA_MODEL_PATHS"
> & { PREVIEWS?: Config["PREVIEWS"] };

// python block-buffers a piped stdout; custom nodes print() there and we want those lines as they happen
const CHILD_ENV = { PYTHONUNBUFFERED: "1" };

/**
 * The command that starts ComfyUI: the emulator when asked, else `COMFY_CMD` as given, else
 * `COMFY_PYTHON COMFY_DIR/main.py --listen --port --disable-auto-launch`; the emulator and the default command
 * get `--extra-model-paths-config F` per EXTRA_MODEL_PATHS file, and `COMFY_ARGS` is appended in every case. Throws E_CONFIG when COMFY_CMD or COMFY_ARGS has unbalanced quotes.
 */
export function buildComfyCommand(config: CommandConfig, options: BuildComfyCommandOptions = {}): ComfyCommand {
  const extra = config.COMFY_ARGS ? splitArgs(config.COMFY_ARGS, "COMFY_ARGS") : [];
  const modelPaths = (config.EXTRA_MODEL_PATHS ?? []).flatMap((file) => ["--extra-model-paths-config", resolve(file)]);
  // PREVIEWS=on: ComfyUIs too old to read a prompt's own preview_method need previews on from the start
  const previews = config.PREVIEWS === "on" ? ["--preview-method", "auto"] : [];
  if (options.emulate) {
    const listen = ["--listen", config.COMFY_HOST, "--port", String(config.COMFY_PORT)];
    return {
      argv: [
        ...selfCommand(),
        "emulate",
        ...listen,
        "--base",
        options.emulate.baseDir,
        ...modelPaths,
        ...previews,
        ...extra,
      ],
    };
  }
  if (config.COMFY_CMD) {
    // a full command owns its --listen/--port; COMFY_HOST/COMFY_PORT must say where it listens
    const argv = splitArgs(config.COMFY_CMD, "COMFY_CMD");
    if (argv.length === 0) throw new WorkerError("E_CONFIG", "COMFY_CMD is set but empty; unset it or give a command");
    return { argv: [...argv, ...extra], env: CHILD_ENV };
  }
  const argv = [config.COMFY_PYTHON, resolve(config.COMFY_DIR, "main.py")];
  argv.push("--listen", config.COMFY_HOST, "--port", String(config.COMFY_PORT), "--disable-auto-launch");
  // ComfyUI runs in COMFY_DIR, so relative YAML paths are resolved against our working directory first
  argv.push(...modelPaths, ...previews);
  return { argv: [...argv, ...extra], cwd: config.COMFY_DIR, env: CHILD_ENV };
}

/**
 * Base URL where a local ComfyUI listening on COMFY_HOST:COMFY_PORT answers (or COMFY_URL when attaching).
 * Wildcard and multi-address `--listen` values are probed on loopback.
 */
export function resolveComfyUrl(config: Pick<Config, "COMFY_URL" | "COMFY_HOST" | "COMFY_PORT">): string {
  if (config.COMFY_URL) return config.COMFY_URL.replace(/\/+$/, "");
  const first = config.COMFY_HOST.split(",")[0]?.trim() ?? "";
  const host = first === "" || first === "0.0.0.0" ? "127.0.0.1" : first === "::" ? "::1" : first;
  return `http://${host.includes(":") ? `[${host}]` : host}:${config.COMFY_PORT}`;
}

/**
 * True when running as a `bun build --compile` binary. Bun sets `isStandaloneExecutable`, and compiled
 * modules live under the virtual `/$bunfs/` root; `process.execPath`'s name is no guide (the npm `bun`
 * package runs as `bun.exe` even on Linux).
 */
export function isCompiledBinary(): boolean {
  return Bun.isStandaloneExecutable || import.meta.path.includes("$bunfs");
}

/** argv prefix that runs this program again: the binary itself, or bun plus `src/main.ts` from source. */
export function selfCommand(): string[] {
  if (isCompiledBinary()) return [process.execPath];
  return [process.execPath, resolve(import.meta.dir, "..", "main.ts")];
}

/** Program name for messages: `python3`, not `/usr/bin/python3`. */
export function programName(argv: readonly string[]): string {
  return basename(argv[0] ?? "?");
}

/**
 * Splits a command line the way a POSIX shell would, without running one: whitespace separates words,
 * 'single quotes' are literal, "double quotes" honour \\ \" \$ \` escapes, a backslash outside quotes
 * escapes the next character. No expansion of variables, globs or `~`. Throws E_CONFIG on an unclosed
 * quote or a trailing backslash.
 */
export function splitArgs(text: string, what = "command line"): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let i = 0;
  while (i < text.length) {
    const ch = text[i] as string;
    if (WHITESPACE_RE.test(ch) || (ch === "\\" && text[i + 1] === "\n")) {
      // a backslash-newline joins lines, as in sh
      if (ch !== "\\" && word !== undefined) {
        words.push(word);
        word = undefined;
      }
      i += ch === "\\" ? 2 : 1;
      continue;
    }
    const [part, next] = _readWordPart(text, i, what);
    word = (word ?? "") + part;
    i = next;
  }
  if (word !== undefined) words.push(word);
  return words;
}

const WHITESPACE_RE = /\s/;
const DOUBLE_QUOTE_ESCAPES = new Set(["\\", '"', "$", "`"]);

// one quoted string, escaped character or plain character starting at `i`, and the index after it
function _readWordPart(text: string, i: number, what: string): [string, number] {
  const ch = text[i] as string;
  if (ch === "'") {
    const end = text.indexOf("'", i + 1);
    if (end === -1) _unbalanced(what, `an unclosed single quote at character ${i + 1}`);
    return [text.slice(i + 1, end), end + 1];
  }
  if (ch === '"')
    return _readDoubleQuoted(text, i + 1) ?? _unbalanced(what, `an unclosed double quote at character ${i + 1}`);
  if (ch === "\\") {
    const next = text[i + 1];
    if (next === undefined) _unbalanced(what, "a trailing backslash");
    return [next, i + 2];
  }
  return [ch, i + 1];
}

// the text itself stays out of the message: a command line may carry a secret
function _unbalanced(what: string, problem: string): never {
  throw new WorkerError("E_CONFIG", `${what} has ${problem}; quote it as a shell would`, { details: { key: what } });
}

// returns the unquoted text and the index after the closing quote, or undefined when it never closes
function _readDoubleQuoted(text: string, start: number): [string, number] | undefined {
  let out = "";
  for (let i = start; i < text.length; i++) {
    const ch = text[i] as string;
    if (ch === '"') return [out, i + 1];
    const next = text[i + 1];
    if (ch === "\\" && next !== undefined && DOUBLE_QUOTE_ESCAPES.has(next)) {
      out += next;
      i++;
    } else if (ch === "\\" && next === "\n") {
      i++; // line continuation, as in sh
    } else {
      out += ch;
    }
  }
  return undefined;
}
