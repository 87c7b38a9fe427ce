import type { CommandDef } from "citty";
import { VERSION } from "../version.ts";

// lazy so `--version` and `--help` never load hono, zod schemas or the emulator
const commands = {
  serve: () => import("./serve.ts").then((m) => m.default),
  run: () => import("./run.ts").then((m) => m.default),
  runs: () => import("./runs.ts").then((m) => m.default),
  emulate: () => import("./emulate.ts").then((m) => m.default),
  check: () => import("./check.ts").then((m) => m.default),
  convert: () => import("./convert.ts").then((m) => m.default),
  kits: () => import("./kits.ts").then((m) => m.default),
  pull: () => import("./pull.ts").then((m) => m.default),
  sync: () => import("./sync.ts").then((m) => m.default),
  fix: () => import("./fix.ts").then((m) => m.default),
  proxy: () => import("./proxy.ts").then((m) => m.default),
  // biome-ignore lint/suspicious/noExplicitAny: each command has its own args type
} satisfies Record<string, () => Promise<CommandDef<any>>>;

export type CommandName = keyof typeof commands;
export const COMMAND_NAMES = Object.keys(commands) as CommandName[];

/** The root command: its subcommands are the product's commands (SPEC §4). */
export const root: CommandDef = {
  meta: {
    name: "comfy-worker",
    version: VERSION,
    description: "Turn a ComfyUI install into a dependable serverless worker",
  },
  subCommands: commands,
};
