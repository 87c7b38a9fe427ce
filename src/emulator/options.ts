import { z } from "zod";
import { WorkerError } from "../errors.ts";
import { describeProblem } from "../lib/issues.ts";
import { parseFailNodes } from "./failures.ts";
import { PROFILE_HELP, resolveProfile } from "./profile.ts";

/** The version the emulator reports wherever ComfyUI reports its own. */
export const EMULATOR_VERSION = "0.0.0-emulator";
export const DEFAULT_PORT = 8188;
export const DEFAULT_HOST = "127.0.0.1";
/** Time each executed node takes unless `--node-ms` says otherwise. */
export const NODE_TIME_MS = 20;
/** Samplers report `progress` up to this many steps, whatever their `steps` input says. */
export const MAX_PROGRESS_STEPS = 100;
/** ComfyUI's `--max-upload-size` default (100 MB). */
export const MAX_UPLOAD_BYTES = 100 * 1024 * 1024;
/** ComfyUI's MAXIMUM_HISTORY_SIZE. */
export const MAX_HISTORY_ITEMS = 10_000;

const count = z.coerce.number().int().min(0);

/** Everything `runEmulator` accepts; the knobs rehearse failures of a real ComfyUI. */
export const EmulatorOptions = z.object({
  baseDir: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65_535).default(DEFAULT_PORT),
  host: z.string().min(1).default(DEFAULT_HOST),
  extraModelPaths: z.array(z.string()).default([]),
  /** Wait this long before listening (startup lines are still printed). */
  startupDelayMs: count.default(0),
  /** Die with a Python traceback and exit code 1 while executing the Nth queued prompt (0 = never). */
  exitAfter: count.default(0),
  /** Stop answering HTTP and websockets while executing the Nth queued prompt (0 = never). */
  hangAfter: count.default(0),
  /** Node types whose execution raises an exception. */
  failNodes: z
    .array(z.string())
    .default([])
    .superRefine((values, ctx) => {
      const parsed = parseFailNodes(values);
      if (typeof parsed === "string") ctx.addIssue({ code: "custom", message: parsed });
    }),
  /** Drop every websocket this long into each prompt (0 = never). */
  dropWsMs: count.default(0),
  /** Time each executed node takes. */
  nodeMs: count.default(NODE_TIME_MS),
  /** Extra log lines printed at startup and for every prompt. */
  logBurst: count.default(0),
  /** Loader nodes read the model file they name before they "load" (see model-load.ts). */
  readModels: z.boolean().default(false),
  /** With readModels: read at most this many MB/s (0 = as fast as the disk goes). */
  readMbps: count.default(0),
  /** Send binary preview frames while samplers run. */
  previews: z.boolean().default(false),
  /** Which ComfyUI to behave like (`--comfyui-version`): "old", "new" or a release number. */
  comfyuiVersion: z
    .string()
    .optional()
    .transform((value, ctx) => {
      const profile = resolveProfile(value);
      if (!profile) ctx.addIssue({ code: "custom", message: `must be ${PROFILE_HELP}` });
      return profile ?? z.NEVER;
    }),
  /** Custom node packs that fail to import at start-up (`Pack` or `Pack:missing_module`), logged as ComfyUI does. */
  failedPacks: z.array(z.string().min(1)).default([]),
});
export type EmulatorOptions = z.input<typeof EmulatorOptions>;
export type EmulatorSettings = z.infer<typeof EmulatorOptions>;

/** Where the emulator writes its log and how it dies; injectable so tests can run it in-process. */
export interface EmulatorIO {
  /** Receives whole lines (with the newline), like ComfyUI's stderr. */
  write: (text: string) => void;
  /** Called only by the `exitAfter` knob. */
  exit: (code: number) => void;
  /** For `$VAR` in extra_model_paths.yaml `base_path`. */
  env?: Record<string, string | undefined>;
}

/** Validates options; throws E_USAGE naming every bad one. */
export function resolveEmulatorOptions(input: EmulatorOptions): EmulatorSettings {
  const result = EmulatorOptions.safeParse(input);
  if (!result.success) {
    // option keys are the flags' camelCase; say the flag and the problem in our words
    const flag = (key: PropertyKey) =>
      key === "baseDir" ? "--base" : `--${String(key).replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    const problems = result.error.issues.map(
      (issue) => `${flag(issue.path[0] ?? "?")} ${describeProblem(issue, input)}`,
    );
    throw new WorkerError("E_USAGE", problems.join("; "));
  }
  return result.data;
}
