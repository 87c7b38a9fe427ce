/**
 * Strict command lines: citty ignores unknown flags and extra positionals, so `run wf.json --emulat` would
 * start a real ComfyUI. Every command's `args` definition drives this check before the command runs.
 */
import type { ArgsDef } from "citty";

// positional definitions that take every remaining argument (`check a.json b.json`)
const VARIADIC = new WeakSet<object>();

/** Marks a positional argument as taking one or more values; extra positionals are then allowed. */
export function variadic<T extends object>(def: T): T {
  VARIADIC.add(def);
  return def;
}

// flags that take every following word up to the next flag, as argparse's nargs "?" and "+" do (emulate
// mirrors ComfyUI's `--listen [HOST]` and `--extra-model-paths-config A B`)
const GREEDY = new WeakSet<object>();

/** Marks a flag as taking the words after it up to the next flag (argparse nargs "?"/"+"). */
export function greedy<T extends object>(def: T): T {
  GREEDY.add(def);
  return def;
}

interface FlagSpec {
  /** The flag as shown in help (`--emulate`). */
  shown: string;
  takesValue: boolean;
  greedy?: boolean;
}

/**
 * The first thing wrong with `rawArgs` for a command with these `args` (unknown flag, flag without its
 * value, extra argument), as one sentence; undefined when the command line is fine.
 */
export function findUsageProblem(args: ArgsDef, rawArgs: readonly string[]): string | undefined {
  const flags = _flagTable(args);
  const positionals = Object.entries(args).filter(([, def]) => def.type === "positional");
  let given = 0;
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] as string;
    if (arg === "--") {
      given += rawArgs.length - i - 1;
      break;
    }
    if (!arg.startsWith("-") || arg === "-") {
      given++;
      continue;
    }
    const eq = arg.indexOf("=");
    const name = eq > 0 ? arg.slice(0, eq) : arg;
    const spec = flags.get(name);
    if (!spec) return `unknown option ${name}${_suggest(name, flags)}`;
    if (spec.greedy) {
      while (i + 1 < rawArgs.length && !(rawArgs[i + 1] as string).startsWith("-")) i++;
      continue;
    }
    // a switch given a value (`--local-queue=maybe`) would silently count as on
    if (!spec.takesValue && eq > 0 && !["true", "false"].includes(arg.slice(eq + 1)))
      return `${spec.shown} is a switch and takes no value (got ${JSON.stringify(arg.slice(eq + 1))})`;
    if (!spec.takesValue || eq > 0) continue;
    if (rawArgs[i + 1] === undefined) return `${spec.shown} needs a value`;
    i++;
  }
  const last = positionals.at(-1)?.[1];
  if (given > positionals.length && !(last && VARIADIC.has(last))) {
    const extra = _positionals(rawArgs, flags).slice(positionals.length);
    const takes =
      positionals.length === 0 ? "no arguments" : positionals.map(([key]) => `<${key.toUpperCase()}>`).join(" ");
    return `unexpected argument ${JSON.stringify(extra[0])} (takes ${takes})`;
  }
  return undefined;
}

/** " (did you mean X?)" for the closest known name, or "" when none is close. */
export function didYouMean(word: string, known: Iterable<string>): string {
  let best: { name: string; distance: number } | undefined;
  for (const name of known) {
    const distance = editDistance(word, name);
    if (!best || distance < best.distance) best = { name, distance };
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return best && best.distance <= limit ? ` (did you mean ${best.name}?)` : "";
}

/** Levenshtein distance: insertions, deletions and substitutions each cost 1. */
export function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      row.push(Math.min((previous[j] as number) + 1, (row[j - 1] as number) + 1, (previous[j - 1] as number) + cost));
    }
    previous = row;
  }
  return previous[b.length] as number;
}

function _suggest(name: string, flags: Map<string, FlagSpec>): string {
  // suggest only the spellings help shows, never camelCase variants or --no- negations
  const shown = new Set([...flags.values()].map((spec) => spec.shown));
  return didYouMean(name, shown);
}

// every spelling citty accepts: --kebab-name, --camelName, -alias/--alias, --no-name for booleans
function _flagTable(args: ArgsDef): Map<string, FlagSpec> {
  const table = new Map<string, FlagSpec>();
  table.set("--help", { shown: "--help", takesValue: false });
  table.set("-h", { shown: "--help", takesValue: false });
  for (const [key, def] of Object.entries(args)) {
    if (def.type === "positional") continue;
    const spec = {
      shown: `--${key}`,
      takesValue: def.type === "string" || def.type === "enum",
      greedy: GREEDY.has(def),
    };
    const alias = (def as { alias?: string | string[] }).alias;
    const aliases = alias === undefined ? [] : Array.isArray(alias) ? alias : [alias];
    for (const name of new Set([key, _kebab(key), _camel(key), ...aliases])) {
      table.set(name.length === 1 ? `-${name}` : `--${name}`, spec);
    }
    // citty turns any --no-X into X=false; only booleans make sense negated
    if (def.type === "boolean") table.set(`--no-${key}`, { shown: `--no-${key}`, takesValue: false });
  }
  return table;
}

function _positionals(rawArgs: readonly string[], flags: Map<string, FlagSpec>): string[] {
  const out: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] as string;
    if (arg === "--") return [...out, ...rawArgs.slice(i + 1)];
    if (!arg.startsWith("-") || arg === "-") out.push(arg);
    else if (flags.get(arg)?.greedy) while (i + 1 < rawArgs.length && !(rawArgs[i + 1] as string).startsWith("-")) i++;
    else if (!arg.includes("=") && flags.get(arg)?.takesValue) i++;
  }
  return out;
}

function _kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

function _camel(name: string): string {
  return name.replace(/-([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}
