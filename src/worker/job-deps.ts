import type { ComfyClient } from "../comfy/client.ts";
import { comfyFileDirs } from "../comfy/file-dirs.ts";
import type { ComfyHandle } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import { InputNames } from "../jobs/input-names.ts";
import type { JobDeps } from "../jobs/pipeline.ts";
import { primeJobRun } from "../jobs/prime.ts";
import type { Logger } from "../log.ts";
import { checkedFolders } from "../weights/job-check.ts";
import { loaderFolders } from "../weights/loaders.ts";
import type { ComfyModels } from "../weights/serve-weights.ts";
import { ColdStart } from "./cold-start.ts";
import { createWorkerWeights, type WorkerWeights } from "./weights.ts";

/** A ComfyUI's job dependencies plus the worker's weights and cold-start bookkeeping. */
export type WorkerJobDeps = JobDeps & { weights: WorkerWeights; coldStart: ColdStart };

/** Extras for createJobDeps beyond the config. */
export interface JobDepsOptions {
  /** Bytes fetched by weight downloads (/metrics). */
  onFetched?: (bytes: number) => void;
  /** Tests only: job weight URLs may be plain http to loopback. */
  allowPrivateDownloads?: boolean | undefined;
  /**
   * Only these node types' /object_info entries are fetched: a one-shot `run` of an API workflow needs no more,
   * and the full answer takes a real ComfyUI a few hundred ms.
   */
  nodeTypes?: readonly string[] | undefined;
  /** One job and out (`run`): nothing is readied for later jobs. */
  oneShot?: boolean;
  /**
   * How many times the warm-up job runs while ComfyUI starts (default WARM_UPS). The JIT's work is per process,
   * so a second and later GPU instance needs one run.
   */
  warmUps?: number;
}

/**
 * The job pipeline's dependencies for one ComfyUI; /object_info is fetched once per ComfyUI (re)start.
 * With `models` (where that ComfyUI keeps its weights) jobs are checked per WEIGHTS_MODE; `weights` is
 * the /health state that check keeps current, plus preloads and the transfers behind both.
 */
export function createJobDeps(
  config: Config,
  log: Logger,
  comfy: ComfyHandle,
  client: ComfyClient,
  models?: ComfyModels,
  { nodeTypes, oneShot, warmUps = WARM_UPS, ...options }: JobDepsOptions = {},
): WorkerJobDeps {
  let cached: { generation: number; info: Promise<Awaited<ReturnType<ComfyClient["objectInfo"]>>> } | undefined;
  const objectInfo = () => {
    if (!cached || cached.generation !== comfy.generation) {
      const info = client.objectInfo(nodeTypes);
      cached = { generation: comfy.generation, info };
      info.catch(() => (cached = undefined));
    }
    return cached.info;
  };
  // ComfyUI, our child, expands $VARS in extra_model_paths.yaml from the environment it inherits from us
  let coldStart: ColdStart | undefined;
  const onPresent = (used: readonly { folder: string; name: string }[]) => coldStart?.recordUsage(used);
  const weights = createWorkerWeights({ config, log, client, models, objectInfo, onPresent, ...options });
  coldStart = new ColdStart({ config, log, local: weights.local });
  coldStart.follow(comfy);
  const checkWeights = weights.check;
  // an attached ComfyUI's folder listings are read while starting, beside /object_info: every folder for serve,
  // the folders the check of a `run` looks in, from the workflow's known loaders
  const runFolders = () => checkedFolders(loaderFolders(nodeTypes ?? []));
  const listFolders = async () => weights.prime?.(oneShot ? runFolders() : undefined);
  // the check's first run (index, locate) is paid while starting, on a workflow that needs no weights (a one-shot
  // `run` checks its real workflow next, so this would only delay it)
  const primeWeights = async () => {
    if (!oneShot) await checkWeights?.(PRIME_WORKFLOW, AbortSignal.timeout(WARM_SOCKET_WAIT_MS));
  };
  const check = checkWeights ? { checkWeights } : {};
  // a supervised ComfyUI (or the emulator) writes where we can read; an attached one is only reached over HTTP
  const localFiles = models?.baseDir ? comfyFileDirs(config, models.baseDir, models.comfyDir) : undefined;
  const files = localFiles ? { localFiles } : {};
  const deps: WorkerJobDeps = {
    client,
    comfy,
    config,
    log,
    objectInfo,
    ...files,
    ...check,
    weights,
    coldStart,
    inputNames: new InputNames(),
  };
  // the warm-up job runs against a stand-in ComfyUI while the real one boots; a one-shot `run` has no later job
  const primed = oneShot ? Promise.resolve() : warmUp(() => primeJobRun(deps), warmUps).then(() => {});
  deps.warmed = warmComfy(comfy, client, { objectInfo, listFolders, primeWeights }, primed);
  return deps;
}

/**
 * Whenever ComfyUI turns ready, fetch /object_info, read the folder listings beside it and open the event socket,
 * so no job waits for any of them (nor for the warm-up job); the socket is closed once ComfyUI is stopped for good.
 */
function warmComfy(
  comfy: ComfyHandle,
  client: ComfyClient,
  steps: {
    objectInfo: () => Promise<unknown>;
    listFolders: () => Promise<void>;
    primeWeights: () => Promise<void>;
  },
  primed: Promise<void>,
): () => Promise<void> {
  let current = Promise.resolve();
  const warm = () => {
    const info = Promise.all([steps.objectInfo(), steps.listFolders()])
      .then(steps.primeWeights)
      .catch(() => {});
    current = Promise.all([info, client.events.opened(WARM_SOCKET_WAIT_MS), primed]).then(() => {});
  };
  if (comfy.state === "ready") warm();
  comfy.onState((state) => {
    if (state === "ready") warm();
    if (state === "stopped") client.close();
  });
  return () => current;
}

/**
 * The warm-up job `runs` times, or until it fails (it never throws). The JIT compiles a function only after it ran
 * a number of times, so after one run the first real job still runs interpreted code: in bench/job-overhead.ts's
 * first-job phase it was 1–2 ms slower than the next ones after one run, within 0.5 ms after eight. Resolves how
 * many ran.
 */
export async function warmUp(prime: () => Promise<boolean>, runs: number): Promise<number> {
  for (let run = 1; run <= runs; run++) if (!(await prime())) return run;
  return runs;
}

// about 4 ms each on the stand-in, paid while ComfyUI boots (an attached ComfyUI's start waits ~30 ms for them)
const WARM_UPS = 8;
const PRIME_WORKFLOW = { "1": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } } };
// jobs wait at most this for the socket at start; a socket not open by then keeps reconnecting on its own
const WARM_SOCKET_WAIT_MS = 10_000;
