/**
 * The ComfyUI side of a `serve` worker: one ComfyUI, or with COMFY_GPUS one per GPU (its own port,
 * temp/output folders and CUDA_VISIBLE_DEVICES), supervised each on its own. Jobs run through `run`, which
 * gives each an idle instance; everything that watches the whole worker sees `comfy` (the instance, or the
 * pool that is ready while any instance is and failed only when all are).
 */
import { join } from "node:path";
import { type ComfyClient, createComfyClient } from "../comfy/client.ts";
import type { ComfyHandle } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import { type Gpu, resolveGpus } from "../gpus/discover.ts";
import { Dispatcher } from "../gpus/dispatcher.ts";
import { InstancePool } from "../gpus/pool.ts";
import type { Logger } from "../log.ts";
import { LOADERS } from "../weights/loaders.ts";
import { createComfy, type StartComfyOptions } from "./comfy.ts";
import { createJobDeps, type JobDepsOptions, type WorkerJobDeps } from "./job-deps.ts";

/** One instance as /health lists it. */
export interface InstanceHealth {
  gpu: number;
  name?: string;
  url: string;
  state: string;
  pid: number | null;
  restarts: number;
  busy: boolean;
}

export interface WorkerRuntime {
  comfy: ComfyHandle;
  /** The first instance's client and job dependencies: bring-up, preloads, the cold-start timeline. */
  client: ComfyClient;
  deps: WorkerJobDeps;
  /** Every instance's dependencies (the warmup runs on each). */
  all: readonly WorkerJobDeps[];
  /** Runs a job on an instance: the only one, or an idle GPU's (the one with its models loaded first). */
  run<T>(input: unknown, signal: AbortSignal, job: (deps: WorkerJobDeps) => Promise<T>): Promise<T>;
  /** Jobs at once: CONCURRENCY for one ComfyUI, the instances not failed for good with COMFY_GPUS. */
  concurrency(): number;
  /** /health `instances`; undefined for a single ComfyUI. */
  instances(): InstanceHealth[] | undefined;
  dispose(): Promise<void>;
}

/** Builds the runtime (nothing is started yet). */
export async function createRuntime(
  config: Config,
  log: Logger,
  options: StartComfyOptions & JobDepsOptions = {},
): Promise<WorkerRuntime> {
  const gpus =
    config.COMFY_URL && !options.emulate ? undefined : await resolveGpus(config.COMFY_GPUS, { env: config.env });
  if (!gpus || gpus.length < 2) return _single(config, log, options, gpus?.[0]);
  log.info(`COMFY_GPUS=${config.COMFY_GPUS}: one ComfyUI per GPU on ${gpus.map((gpu) => gpu.index).join(", ")}`);
  const parts = await Promise.all(gpus.map((gpu, slot) => _instance(config, log, options, gpu, slot)));
  const pool = new InstancePool(parts.map(({ comfy, gpu }, slot) => ({ comfy, gpu, slot })));
  const dispatcher = new Dispatcher(pool);
  const primary = parts[0] as (typeof parts)[number];
  return {
    comfy: pool,
    client: primary.client,
    deps: primary.deps,
    all: parts.map((part) => part.deps),
    run: async (input, signal, job) => {
      const models = loaderModels(input);
      const instance = await dispatcher.acquire(models, signal);
      try {
        return await job(parts[instance.slot]?.deps ?? primary.deps);
      } finally {
        dispatcher.release(instance, models);
      }
    },
    concurrency: () => dispatcher.capacity(),
    instances: () =>
      pool.instances.map(({ comfy, gpu }, slot) => ({
        gpu: gpu.index,
        ...(gpu.name ? { name: gpu.name } : {}),
        url: comfy.url,
        state: comfy.state,
        pid: comfy.pid ?? null,
        restarts: comfy.restarts,
        busy: dispatcher.busy(pool.instances[slot] as (typeof pool.instances)[number]),
      })),
    dispose: async () => {
      for (const part of parts) await part.dispose();
    },
  };
}

async function _single(
  config: Config,
  log: Logger,
  options: StartComfyOptions & JobDepsOptions,
  gpu: Gpu | undefined,
): Promise<WorkerRuntime> {
  const env = gpu ? { CUDA_VISIBLE_DEVICES: String(gpu.index) } : undefined;
  const { comfy, dispose, models } = await createComfy(config, log.child({ tag: "comfy" }), { ...options, env });
  const client = createComfyClient({ url: comfy.url, log });
  const deps = createJobDeps(config, log, comfy, client, models, options);
  return {
    comfy,
    client,
    deps,
    all: [deps],
    run: (_input, _signal, job) => job(deps),
    concurrency: () => config.CONCURRENCY,
    instances: () => undefined,
    dispose,
  };
}

// each GPU's ComfyUI: the next port, its own output and temp folders (ComfyUI empties its temp folder at
// start, so a shared one would lose another instance's files), and only its GPU visible
async function _instance(
  config: Config,
  log: Logger,
  options: StartComfyOptions & JobDepsOptions,
  gpu: Gpu,
  slot: number,
) {
  const dirs = options.emulate
    ? ""
    : `--output-directory ${join(config.COMFY_DIR, "output", `gpu${gpu.index}`)} --temp-directory ${join(config.COMFY_DIR, "temp", `gpu${gpu.index}`)}`;
  const own: Config = {
    ...config,
    COMFY_PORT: config.COMFY_PORT + slot,
    COMFY_ARGS: [config.COMFY_ARGS, dirs].filter(Boolean).join(" ") || undefined,
  };
  const tagged = log.child({ tag: `comfy gpu${gpu.index}` });
  const env = { CUDA_VISIBLE_DEVICES: String(gpu.index) };
  const { comfy, dispose, models } = await createComfy(own, tagged, { ...options, env });
  const client = createComfyClient({ url: comfy.url, log: tagged });
  // the first instance's warm-up runs have readied the process's code for all of them
  const deps = createJobDeps(own, log, comfy, client, models, slot === 0 ? options : { ...options, warmUps: 1 });
  return { gpu, comfy, client, deps, dispose };
}

/** `folder/name` of every model file a workflow's loader nodes name (which instance has them loaded). */
export function loaderModels(input: unknown): string[] {
  const workflow = (input as { workflow?: unknown } | undefined)?.workflow;
  if (!workflow || typeof workflow !== "object") return [];
  const models: string[] = [];
  for (const node of Object.values(workflow as Record<string, unknown>)) {
    const { class_type, inputs } = (node ?? {}) as { class_type?: unknown; inputs?: Record<string, unknown> };
    const table = typeof class_type === "string" ? LOADERS[class_type] : undefined;
    for (const [name, folder] of Object.entries(table ?? {})) {
      const value = inputs?.[name];
      if (typeof value === "string") models.push(`${folder}/${value}`);
    }
  }
  return models;
}
