import type { ArgsDef } from "citty";

/** Flags every command takes (SPEC §4). */
export const commonArgs = {
  config: {
    type: "string",
    description: "YAML file of settings, keyed like the environment variables",
    valueHint: "FILE",
  },
  "log-level": {
    type: "enum",
    options: ["error", "warn", "info", "debug", "trace"],
    description: "least severe log level shown (env LOG_LEVEL)",
  },
} as const satisfies ArgsDef;

/** `--json` for commands that print a result. */
export const jsonArgs = {
  json: { type: "boolean", description: "print the result as JSON" },
} as const satisfies ArgsDef;

/** Every value of a repeatable flag (`--kit a --kit b`, `--kit=a`): citty keeps only the last one. */
export function repeatedFlag(rawArgs: readonly string[], flag: string): string[] {
  const values: string[] = [];
  rawArgs.forEach((arg, i) => {
    if (arg === flag && rawArgs[i + 1] !== undefined) values.push(rawArgs[i + 1] as string);
    else if (arg.startsWith(`${flag}=`)) values.push(arg.slice(flag.length + 1));
  });
  return values;
}
