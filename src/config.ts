import { readFileSync } from "node:fs";
import { dirname, isAbsolute, resolve } from "node:path";
import { z } from "zod";
import { WorkerError } from "./errors.ts";
import { describeProblem } from "./lib/issues.ts";
import { yaml } from "./lib/lazy-modules.ts";
import { Redactor } from "./lib/redact.ts";
import { badPrivateHostEntries } from "./lib/url-guard.ts";

const port = z.coerce.number().int().min(1).max(65_535);
const positiveInt = z.coerce.number().int().min(1);
const seconds = z.coerce.number().min(0);
// every duration has a maximum (SPEC §3), all well under the 24.8 days a timer can hold (lib/time.ts)
const HOUR_S = 3_600;
const DAY_S = 86_400;
const WEEK_S = 604_800;
// RunPod's heartbeat interval (reference §1.2): under 1 s breaks its own SDK; minutes would look like a dead worker
const PING_MIN_MS = 1_000;
const PING_MAX_MS = 300_000;
const PING_DEFAULT_MS = 10_000;
const bool = z.stringbool();
const list = z.string().transform((value) =>
  value
    .split(",")
    .map((item) => item.trim())
    .filter(Boolean),
);
const url = z.url({ protocol: /^https?$/ });

/** Every setting of SPEC §3 plus the RunPod variables we read; keys are the environment names. */
export const ConfigSchema = z.object({
  COMFY_DIR: z.string().default("/comfyui").describe("ComfyUI checkout (has main.py)"),
  COMFY_PYTHON: z.string().default("python3").describe("interpreter used to start ComfyUI"),
  COMFY_CMD: z.string().optional().describe("full start command, split like a shell; replaces python + main.py"),
  COMFY_ARGS: z.string().optional().describe("extra arguments appended to ComfyUI's command line"),
  COMFY_HOST: z.string().default("127.0.0.1").describe("where the supervised ComfyUI listens"),
  COMFY_PORT: port.default(8188).describe("port of the supervised ComfyUI"),
  COMFY_URL: url.optional().describe("attach to an already running ComfyUI instead of starting one"),
  COMFY_READY_TIMEOUT_S: seconds.max(DAY_S).default(300).describe("time allowed from spawn to /system_stats answering"),
  COMFY_LOG_LINES: positiveInt.default(500).describe("size of the ring buffer of ComfyUI output lines"),
  COMFY_MAX_RESTARTS: z.coerce.number().int().min(0).default(5).describe("restarts allowed within 10 minutes"),
  COMFY_HEALTH_INTERVAL_S: seconds.max(HOUR_S).default(5).describe("how often a running ComfyUI is probed"),
  COMFY_HEALTH_TIMEOUT_S: seconds.max(HOUR_S).default(30).describe("a probe unanswered this long means ComfyUI hangs"),
  COMFY_GPUS: z
    .string()
    .regex(/^\s*(auto|\d+(\s*,\s*\d+)*)\s*$/, "expected auto or a comma-separated list of GPU indexes like 0,1")
    .optional()
    .describe("auto or GPU indexes: one ComfyUI per GPU, jobs dispatched to idle ones"),
  PREVIEWS: z.enum(["off", "on"]).default("off").describe("on: send live previews for every job"),
  SHUTDOWN_GRACE_S: seconds.max(HOUR_S).default(30).describe("time running jobs get to finish on SIGTERM"),
  FAILED_EXIT_GRACE_S: seconds
    .max(HOUR_S)
    .default(30)
    .describe("API mode: how long a worker whose ComfyUI failed for good answers 503 before it exits 6"),
  EXTRA_MODEL_PATHS: list.optional().describe("comma-separated extra_model_paths.yaml files"),
  MODELS_DIR: z.string().optional().describe("where downloads go when a folder has no is_default root"),
  WEIGHTS_MODE: z.enum(["fail", "download", "skip"]).default("fail").describe("what a job does about missing weights"),
  PRELOAD_KIT: list
    .optional()
    .describe("kits (built-in names, or manifest YAML paths) to make present before the worker is ready"),
  PRELOAD_WORKFLOW: list.optional().describe("workflows whose weights to make present before ready"),
  WARMUP_WORKFLOW: z.string().optional().describe("workflow run once after ComfyUI is ready"),
  PREFETCH: z.enum(["off", "auto"]).default("auto").describe("read the weights needed first while ComfyUI starts"),
  PREFETCH_BUDGET_GB: z.coerce
    .number()
    .min(0)
    .max(16_384)
    .optional()
    .describe("most bytes prefetch reads (GB); default: what free memory holds"),
  HF_TOKEN: z.string().optional().describe("Hugging Face token"),
  CIVITAI_TOKEN: z.string().optional().describe("Civitai token"),
  DOWNLOAD_CONCURRENCY: positiveInt.default(4).describe("files downloaded at once"),
  DOWNLOAD_CONNECTIONS: positiveInt.default(8).describe("parallel ranged connections per file"),
  DOWNLOAD_ALLOW_HOSTS: list.default(["huggingface.co", "civitai.com"]).describe("hosts a job input may download from"),
  PRIVATE_HOSTS_ALLOWED: list
    .default([])
    .refine((entries) => badPrivateHostEntries(entries).length === 0, "expected host names, addresses or CIDRs")
    .describe("hosts or CIDRs that job-supplied URLs (input files, webhook, s3Config) may reach although private"),
  SERVE_MODE: z.enum(["auto", "runpod", "api"]).default("auto").describe("runpod queue worker or HTTP API"),
  HOST: z
    .string()
    .trim()
    .min(1)
    .optional()
    .describe("address the HTTP server binds (default 127.0.0.1; 0.0.0.0 on RunPod and in the container image)"),
  PORT: port.default(8000).describe("HTTP port"),
  MAX_BODY_MB: z.coerce.number().positive().max(1024).default(30).describe("largest request body the HTTP API accepts"),
  API_TOKEN: z.string().optional().describe("bearer token required by every route but the health ones"),
  CONCURRENCY: positiveInt.default(1).describe("jobs run at once"),
  JOB_TIMEOUT_S: seconds.max(WEEK_S).default(0).describe("per-job execution limit, 0 = none"),
  REFRESH_WORKER: bool.default(false).describe("ask RunPod to replace the worker after each job"),
  OUTPUT_INLINE_MAX_MB: z.coerce.number().min(0).default(15).describe("largest total output returned inline"),
  BUCKET_ENDPOINT_URL: url.optional().describe("S3-compatible endpoint for outputs"),
  BUCKET_ACCESS_KEY_ID: z.string().optional().describe("bucket access key id"),
  BUCKET_SECRET_ACCESS_KEY: z.string().optional().describe("bucket secret key"),
  BUCKET_NAME: z.string().optional().describe("bucket name"),
  BUCKET_REGION: z.string().optional().describe("bucket region"),
  BUCKET_PREFIX: z.string().optional().describe("key prefix for outputs"),
  RESULT_TTL_S: seconds.max(WEEK_S).default(1800).describe("how long finished job results are kept"),
  LOG_FORMAT: z.enum(["auto", "pretty", "json"]).default("auto").describe("log line format"),
  LOG_LEVEL: z.enum(["error", "warn", "info", "debug", "trace"]).default("info").describe("least severe level logged"),
  RUNPOD_WEBHOOK_GET_JOB: z.string().optional().describe("RunPod job-take URL template"),
  RUNPOD_WEBHOOK_POST_OUTPUT: z.string().optional().describe("RunPod job-done URL template"),
  RUNPOD_WEBHOOK_POST_STREAM: z.string().optional().describe("RunPod stream URL template"),
  RUNPOD_WEBHOOK_PING: z.string().optional().describe("RunPod heartbeat URL template"),
  RUNPOD_AI_API_KEY: z.string().optional().describe("RunPod worker key (raw Authorization)"),
  RUNPOD_POD_ID: z.string().optional().describe("worker id"),
  RUNPOD_POD_HOSTNAME: z.string().optional().describe("worker host name, for error reports"),
  RUNPOD_ENDPOINT_ID: z.string().optional().describe("set on RunPod; turns on JSON logs"),
  RUNPOD_API_KEY: z.string().optional().describe("RunPod API key for the CLI's remote commands"),
  RUNPOD_ENDPOINT_BASE_URL: url
    .default("https://api.runpod.ai/v2")
    .describe("base of RunPod's endpoint API; `run --endpoint ID` calls <base>/ID/run"),
  RUNS_LEDGER: z
    .string()
    .optional()
    .describe("JSON-lines ledger of remote runs (default $XDG_STATE_HOME/comfy-worker/runs.jsonl)"),
  GPU_PRICES: z
    .string()
    .optional()
    .describe("$/s per GPU type for cost estimates, e.g. `A100=0.00076,L4=0.00019` (overrides the built-in table)"),
  RUNPOD_REST_BASE_URL: url
    .default("https://rest.runpod.io/v1")
    .describe("RunPod's REST API (endpoints, network volumes)"),
  RUNPOD_S3_ACCESS_KEY: z.string().optional().describe("network-volume S3 API access key id (user_…)"),
  RUNPOD_S3_SECRET_KEY: z.string().optional().describe("network-volume S3 API secret (rps_…)"),
  AWS_ACCESS_KEY_ID: z.string().optional().describe("S3 access key id, when the RUNPOD_S3_* pair is unset"),
  AWS_SECRET_ACCESS_KEY: z.string().optional().describe("S3 secret key, when the RUNPOD_S3_* pair is unset"),
  HF_ENDPOINT: url
    .default("https://huggingface.co")
    .describe("Hugging Face (or a mirror): `fix` lookups, and where HF_TOKEN is sent"),
  CIVITAI_BASE_URL: url
    .default("https://civitai.com")
    .describe("Civitai (or a stand-in): `fix` lookups, and where CIVITAI_TOKEN is sent"),
  MODEL_LIST_URL: url
    .default("https://raw.githubusercontent.com/Comfy-Org/ComfyUI-Manager/main/model-list.json")
    .describe("ComfyUI-Manager's public model list, for `fix`"),
  NODE_MAP_URL: url
    .default("https://raw.githubusercontent.com/Comfy-Org/ComfyUI-Manager/main/extension-node-map.json")
    .describe("ComfyUI-Manager's node type → node pack map, for `fix`"),
  GITHUB_API_URL: url.default("https://api.github.com").describe("GitHub's API, to pin node packs to a commit"),
  COMFY_REGISTRY_URL: url.default("https://api.comfy.org").describe("the Comfy Registry, for packs named by cnr_id"),
  LOOKUP_TIMEOUT_S: z.coerce.number().positive().max(600).default(20).describe("deadline of one `fix` lookup call"),
  LOOKUP_INTERVAL_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(250)
    .describe("least time between two `fix` lookups to one host"),
  RUNPOD_PING_INTERVAL: z.coerce
    .number()
    .int()
    .min(PING_MIN_MS)
    .max(PING_MAX_MS)
    .default(PING_DEFAULT_MS)
    .describe("heartbeat interval in ms"),
});

/** Validated configuration; pass it down, never read it from a global. */
export type Config = Omit<z.infer<typeof ConfigSchema>, "HOST"> & {
  /** Always set: the default depends on whether RunPod's variables are present. */
  readonly HOST: string;
  /** Platform-set values that were clamped or defaulted; the command logs them as warnings. */
  readonly warnings: readonly string[];
  readonly redactor: Redactor;
  /** The environment the settings were read from; ComfyUI expands `$VARS` in model paths from the same one. */
  readonly env: Readonly<Record<string, string | undefined>>;
};
export type ConfigKey = keyof z.infer<typeof ConfigSchema>;

/** Values given as command-line flags, already mapped to config keys. */
export type ConfigFlags = Partial<Record<ConfigKey, string | number | boolean | undefined>>;

export interface LoadConfigOptions {
  env?: Record<string, string | undefined>;
  flags?: ConfigFlags;
  /** `--config FILE`: a YAML mapping of config keys (upper or lower case). */
  file?: string;
}

const KEYS = new Set(Object.keys(ConfigSchema.shape));
const ALIASES: Record<string, ConfigKey> = {
  HUGGING_FACE_HUB_TOKEN: "HF_TOKEN",
  HF_API_TOKEN: "HF_TOKEN",
  CIVITAI_API_TOKEN: "CIVITAI_TOKEN",
};

/**
 * Reads configuration once: flag > env > `--config` YAML > default. Throws one E_CONFIG error that names
 * every bad key, where its value came from and what it accepts.
 */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const problems: string[] = [];
  const sources = new Map<string, string>();
  const raw: Record<string, string> = {};
  const put = (key: string, value: unknown, source: string) => {
    if (value === undefined || value === null || value === "") return;
    raw[key] = Array.isArray(value) ? value.join(",") : String(value);
    sources.set(key, source);
  };

  if (options.file) {
    for (const [key, value] of Object.entries(_readYaml(options.file, problems))) {
      const name = ALIASES[key.toUpperCase()] ?? key.toUpperCase();
      if (KEYS.has(name)) put(name, _fromFileDir(name, value, options.file), `--config ${options.file}`);
      else problems.push(`${key} (in ${options.file}): unknown setting`);
    }
  }
  const env = options.env ?? process.env;
  for (const [alias, key] of Object.entries(ALIASES)) put(key, env[alias], `env ${alias}`);
  for (const key of KEYS) put(key, env[key], "env");
  for (const [key, value] of Object.entries(options.flags ?? {})) put(key, value, "flag");
  const warnings = _clampPlatformValues(raw);

  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const key = String(issue.path[0] ?? "?");
      problems.push(`${key} (${sources.get(key) ?? "default"}) ${describeProblem(issue, raw)}`);
    }
  }
  if (problems.length > 0 || !result.success) {
    throw new WorkerError("E_CONFIG", `Invalid configuration:\n  - ${problems.join("\n  - ")}`, {
      details: { problems },
    });
  }
  const secrets = Object.entries(result.data)
    .filter(([key]) => /TOKEN|KEY|SECRET/.test(key))
    .map(([, value]) => (typeof value === "string" ? value : undefined));
  const HOST = result.data.HOST ?? _defaultHost(result.data);
  return { ...result.data, HOST, warnings, redactor: new Redactor(secrets), env };
}

// RunPod sets these, not the user: a value out of range is clamped and junk defaulted, with a warning (SPEC §3)
const PLATFORM_NUMBERS: Partial<Record<ConfigKey, { min: number; max: number; fallback: number }>> = {
  RUNPOD_PING_INTERVAL: { min: PING_MIN_MS, max: PING_MAX_MS, fallback: PING_DEFAULT_MS },
};

function _clampPlatformValues(raw: Record<string, string>): string[] {
  const warnings: string[] = [];
  for (const [key, range] of Object.entries(PLATFORM_NUMBERS)) {
    const given = raw[key];
    if (given === undefined || !range) continue;
    const number = Number(given.trim());
    const value = Number.isFinite(number)
      ? Math.min(range.max, Math.max(range.min, Math.round(number)))
      : range.fallback;
    if (String(value) === given.trim()) continue;
    raw[key] = String(value);
    const why = Number.isFinite(number) ? `outside ${range.min}–${range.max}` : "not a number";
    warnings.push(`${key}=${JSON.stringify(given)} is ${why}; using ${value}`);
  }
  return warnings;
}

// loopback unless on RunPod, where the platform's proxy and health checks reach the worker from outside
function _defaultHost(data: { RUNPOD_POD_ID?: string; RUNPOD_ENDPOINT_ID?: string; RUNPOD_WEBHOOK_GET_JOB?: string }) {
  return data.RUNPOD_POD_ID || data.RUNPOD_ENDPOINT_ID || data.RUNPOD_WEBHOOK_GET_JOB ? "0.0.0.0" : "127.0.0.1";
}

// settings that name files or folders; a relative one in a --config file means "next to that file" (SPEC §3)
const PATH_KEYS = new Set(["COMFY_DIR", "COMFY_PYTHON", "EXTRA_MODEL_PATHS", "MODELS_DIR", "PRELOAD_KIT"]);
const PATH_OR_URL_KEYS = new Set(["PRELOAD_WORKFLOW", "WARMUP_WORKFLOW", "RUNS_LEDGER"]);

function _fromFileDir(key: string, value: unknown, file: string): unknown {
  if (!PATH_KEYS.has(key) && !PATH_OR_URL_KEYS.has(key)) return value;
  const items = Array.isArray(value) ? value : typeof value === "string" ? value.split(",") : undefined;
  if (!items) return value;
  return items.map((item) => _relativeTo(key, String(item).trim(), dirname(resolve(file)))).join(",");
}

function _relativeTo(key: string, item: string, dir: string): string {
  if (item === "" || isAbsolute(item) || item.startsWith("~") || item.startsWith("$")) return item;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(item)) return item;
  // a bare program name (python3) or kit name (sd15) is looked up, not a path
  if ((key === "COMFY_PYTHON" || key === "PRELOAD_KIT") && !/[/\\]|\.ya?ml$/i.test(item)) return item;
  return resolve(dir, item);
}

function _readYaml(file: string, problems: string[]): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    problems.push(`--config ${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? error})`);
    return {};
  }
  try {
    const doc: unknown = yaml().parse(text);
    if (doc === null || doc === undefined) return {};
    if (typeof doc === "object" && !Array.isArray(doc)) return doc as Record<string, unknown>;
    problems.push(
      `--config ${file}: expected a mapping of settings, got ${Array.isArray(doc) ? "a list" : typeof doc}`,
    );
  } catch (error) {
    problems.push(`--config ${file}: invalid YAML (${(error as Error).message.split("\n")[0]})`);
  }
  return {};
}
