import { WorkerError } from "../errors.ts";
import { RingBuffer } from "../lib/ring-buffer.ts";
import { delay } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import { describeExit, diedError, startError } from "./_exit-report.ts";
import { HandleBase, stoppedError } from "./_handle.ts";
import { PidFile } from "./_pidfile.ts";
import { claimPort, urlEndpoint } from "./_port.ts";
import { Waker, waitForReady, watchHealth } from "./_probe.ts";
import { type GroupRun, killGroup, spawnGroup, terminateGroup } from "./_process.ts";
import { RestartPolicy } from "./_restart-policy.ts";
import { programName } from "./command.ts";
import { comfyLineLevel, plainComfyLine, uncolouredComfyLine } from "./log-line.ts";

export { attachComfy } from "./attach.ts";

import type { ComfyExit, ComfyHandle } from "./handle-types.ts";

export type { ComfyExit, ComfyHandle, ComfyState } from "./handle-types.ts";

export interface SupervisorOptions {
  /** Program and arguments, never run through a shell (see buildComfyCommand). */
  argv: string[];
  cwd?: string;
  /** Merged over process.env. */
  env?: Record<string, string>;
  url: string;
  logLines: number;
  /** ≤ 0 means no limit. */
  readyTimeoutMs: number;
  /** ≤ 0 turns hang detection off (crashes are still noticed at once). */
  healthIntervalMs: number;
  healthTimeoutMs: number;
  maxRestarts: number;
  restartWindowMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  log: Logger;
}

// ComfyUI prints this once its socket listens (reference A3); only a hint, /system_stats decides
const GUI_LINE = "To see the GUI go to:";
const WARN_LINE_RE = /Traceback|Error|IMPORT FAILED/;
const LAST_LINES_COUNT = 50;
const RESTART_WINDOW_MS = 10 * 60_000;
const BACKOFF_INITIAL_MS = 1000;
const BACKOFF_MAX_MS = 30_000;
const STOP_GRACE_MS = 10_000;
const PROBE_TIMEOUT_MS = 10_000;
const PORT_CHECK_TIMEOUT_MS = 1000;

type LaunchOutcome = "ready" | "stopped" | ComfyExit;

/** A supervisor for a local ComfyUI process group; nothing runs until start(). */
export function createSupervisor(options: SupervisorOptions): ComfyHandle {
  return new Supervisor(options);
}

class Supervisor extends HandleBase implements ComfyHandle {
  readonly url: string;
  readonly supervised = true;
  readonly #options: SupervisorOptions;
  readonly #ring: RingBuffer<string>;
  readonly #output: Logger;
  readonly #policy: RestartPolicy;
  readonly #pidFile: PidFile;
  #run: GroupRun | undefined;
  #restarts = 0;
  #generation = 0;
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: SupervisorOptions) {
    super(options.log);
    this.#options = options;
    this.url = options.url.replace(/\/+$/, "");
    this.#ring = new RingBuffer(Math.max(1, options.logLines));
    this.#output = options.log.child({ tag: "comfy" });
    this.#pidFile = new PidFile(urlEndpoint(this.url).port);
    this.#policy = new RestartPolicy({
      maxRestarts: options.maxRestarts,
      windowMs: options.restartWindowMs ?? RESTART_WINDOW_MS,
      initialMs: options.backoffInitialMs ?? BACKOFF_INITIAL_MS,
      maxMs: options.backoffMaxMs ?? BACKOFF_MAX_MS,
    });
  }

  get pid(): number | undefined {
    return this.#run && !this.#run.result() ? this.#run.pid : undefined;
  }

  get restarts(): number {
    return this.#restarts;
  }

  get generation(): number {
    return this.#generation;
  }

  logs(lines?: number): string[] {
    return this.#ring.last(lines ?? this.#ring.size);
  }

  start(): Promise<void> {
    this.#starting ??= this.#firstStart();
    return this.#starting;
  }

  stop(graceMs = STOP_GRACE_MS): Promise<void> {
    this.#stopping ??= this.#stop(graceMs);
    return this.#stopping;
  }

  async #firstStart(): Promise<void> {
    let outcome: LaunchOutcome;
    try {
      outcome = await this.#launch();
    } catch (error) {
      this.fail(error as WorkerError);
      throw error;
    }
    if (outcome === "stopped") throw stoppedError();
    if (outcome !== "ready") {
      const error = startError(outcome, this.#options.readyTimeoutMs);
      this.fail(error);
      throw error;
    }
    void this.#supervise();
  }

  /** Spawns one generation and waits until it is ready; on failure the group is gone and its exit reported. */
  async #launch(): Promise<LaunchOutcome> {
    const waker = new Waker();
    const run = await this.#spawn(waker);
    if (run === "stopped") return "stopped";
    const started = Date.now();
    const { readyTimeoutMs, healthTimeoutMs } = this.#options;
    const outcome = await waitForReady({
      url: this.url,
      timeoutMs: readyTimeoutMs > 0 ? readyTimeoutMs : Number.POSITIVE_INFINITY,
      probeTimeoutMs: healthTimeoutMs > 0 ? healthTimeoutMs : PROBE_TIMEOUT_MS,
      ended: run.ended,
      waker,
      signal: this.life.signal,
    });
    if (outcome === "aborted" || this.life.signal.aborted) return "stopped";
    if (outcome === "ready") {
      this.log.info(`ComfyUI is ready at ${this.url} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
      this.setState("ready");
      return "ready";
    }
    return this.#ended(run, outcome === "timeout" ? "ready-timeout" : "exit");
  }

  async #spawn(waker: Waker): Promise<GroupRun | "stopped"> {
    const stopLeftover = () => this.#pidFile.stopLeftover(this.log);
    await claimPort(this.url, { timeoutMs: PORT_CHECK_TIMEOUT_MS, signal: this.life.signal, stopLeftover });
    if (this.life.signal.aborted) return "stopped";
    const { argv, cwd, env } = this.#options;
    const run = spawnGroup({ argv, cwd, env, onLine: (line) => this.#onLine(line, waker) });
    this.#run = run;
    this.#generation++;
    this.#pidFile.record(run.pid, argv);
    this.emitSpawn(run.pid);
    this.log.info(`started ComfyUI: ${programName(argv)}, pid ${run.pid}`, { generation: this.#generation });
    this.log.debug("ComfyUI command line", { argv, cwd });
    return run;
  }

  // kills what is left of the group (leftovers would hold the port or GPU memory), then reports the exit
  async #ended(run: GroupRun, reason: ComfyExit["reason"]): Promise<ComfyExit> {
    const end = await killGroup(run);
    this.#pidFile.clear(run.pid);
    const exit: ComfyExit = { reason, ...end, lastLines: this.logs(LAST_LINES_COUNT) };
    if (!this.life.signal.aborted) {
      this.log.warn(`ComfyUI went away: ${describeExit(exit)}`, { pid: run.pid, generation: this.#generation });
      this.emitExit(exit);
    }
    return exit;
  }

  async #supervise(): Promise<void> {
    try {
      while ((await this.#watch()) && (await this.#restart())) {
        // ready again: keep watching
      }
    } catch (error) {
      // a bug in this loop must not become an unhandled rejection; it ends supervision visibly
      const message = `ComfyUI supervision stopped on an internal error: ${(error as Error)?.message ?? error}`;
      this.log.error(message);
      this.fail(new WorkerError("E_COMFY_DIED", message, { cause: error }));
    }
  }

  // true when ComfyUI crashed or hung (and is now dead); false when stop() was called
  async #watch(): Promise<boolean> {
    const run = this.#run as GroupRun;
    const { healthIntervalMs: intervalMs, healthTimeoutMs: timeoutMs } = this.#options;
    const watch = { url: this.url, intervalMs, timeoutMs, ended: run.ended, signal: this.life.signal };
    const outcome = await watchHealth(watch);
    if (outcome === "aborted" || this.life.signal.aborted) return false;
    // not "ready" from this moment: whoever hears onExit must not see a ready ComfyUI
    this.setState("restarting");
    if (outcome === "hang") this.log.error(`ComfyUI stopped answering /system_stats; killing its process group`);
    await this.#ended(run, outcome === "hang" ? "hang" : "exit");
    return !this.life.signal.aborted;
  }

  // restarts with backoff until ready again (true), the restart limit is reached or stop() is called (false)
  async #restart(): Promise<boolean> {
    for (;;) {
      const wait = this.#policy.next();
      if (wait === undefined) {
        this.#giveUp();
        return false;
      }
      this.setState("restarting");
      this.log.warn(`restarting ComfyUI in ${wait} ms`, { restarts: this.#restarts });
      if (!(await delay(wait, this.life.signal))) return false;
      this.#policy.record();
      this.#restarts++;
      const outcome = await this.#launch().catch((error: unknown) => this.#spawnFailed(error));
      if (outcome === "ready") return true;
      if (outcome === "stopped") return false;
    }
  }

  #spawnFailed(error: unknown): ComfyExit {
    const message = (error as Error)?.message ?? String(error);
    this.#ring.push(`[comfy-worker] ${message}`);
    const exit: ComfyExit = { reason: "exit", code: null, signal: null, lastLines: this.logs(LAST_LINES_COUNT) };
    this.log.error(message);
    this.emitExit(exit);
    return exit;
  }

  #giveUp(): void {
    const windowMs = this.#options.restartWindowMs ?? RESTART_WINDOW_MS;
    const lines = this.lastExit?.lastLines ?? this.logs(LAST_LINES_COUNT);
    const facts = { maxRestarts: this.#options.maxRestarts, windowMs, restarts: this.#restarts, lines };
    const error = diedError(this.lastExit, facts);
    this.log.error(error.message, { code: error.code });
    this.fail(error);
  }

  async #stop(graceMs: number): Promise<void> {
    this.life.abort();
    this.setState("stopping");
    const run = this.#run;
    if (run) await terminateGroup(run, graceMs);
    if (run) this.#pidFile.clear(run.pid);
    this.setState("stopped");
  }

  #onLine(raw: string, waker: Waker): void {
    const line = uncolouredComfyLine(raw);
    if (line.trim() === "") return;
    this.#ring.push(line);
    this.emitLine(line);
    if (line.includes(GUI_LINE)) waker.wake();
    // a tagged line is relayed at its own level, without the tag; untagged ones (tracebacks, print()) by their text
    const level = comfyLineLevel(line) ?? (WARN_LINE_RE.test(line) ? "warn" : "info");
    const message = plainComfyLine(line);
    if (message) this.#output[level](message);
  }
}
