import { z } from "zod";
import { WorkerError } from "../errors.ts";
import { RingBuffer } from "../lib/ring-buffer.ts";
import type { Logger } from "../log.ts";
import { HandleBase, NEVER, stoppedError } from "./_handle.ts";
import { Waker, waitForReady, watchHealth } from "./_probe.ts";
import { followComfyOutput } from "./attach-logs.ts";
import { uncolouredComfyLine } from "./log-line.ts";
import type { ComfyHandle } from "./supervisor.ts";

export interface AttachOptions {
  url: string;
  healthIntervalMs: number;
  healthTimeoutMs: number;
  /** How long start() waits for the first answer (default 300 s, COMFY_READY_TIMEOUT_S's default). */
  readyTimeoutMs?: number;
  /** Output lines kept for logs() (COMFY_LOG_LINES; default 500). */
  logLines?: number;
  log: Logger;
}

const READY_TIMEOUT_MS = 300_000;
const LOG_READ_TIMEOUT_MS = 5_000;
// app/logger.py's buffer of its last 300 output writes, as GET /internal/logs/raw answers it
const RawLogs = z.looseObject({ entries: z.array(z.looseObject({ m: z.string() })) });

/**
 * A handle on a ComfyUI someone else runs (COMFY_URL): no process, no restarts, no logs. Its state follows
 * the health probe: "ready" while it answers, "restarting" while it does not (it is probably being
 * restarted by its owner); onExit fires when a ready ComfyUI stops answering.
 */
export function attachComfy(options: AttachOptions): ComfyHandle {
  return new Attached(options);
}

class Attached extends HandleBase implements ComfyHandle {
  readonly url: string;
  readonly supervised = false;
  readonly pid = undefined;
  readonly restarts = 0;
  readonly #options: AttachOptions;
  #generation = 0;
  #starting: Promise<void> | undefined;
  readonly #lines: RingBuffer<string>;

  constructor(options: AttachOptions) {
    super(options.log);
    this.#options = options;
    this.url = options.url.replace(/\/+$/, "");
    this.#lines = new RingBuffer(Math.max(1, options.logLines ?? 500));
  }

  /** Bumped each time the remote comes back, so a job can tell its prompt may be gone. */
  get generation(): number {
    return this.#generation;
  }

  /** Its output as it came over the log subscription (attach-logs.ts), or a note when it never did. */
  logs(lines?: number): string[] {
    if (lines === 0) return [];
    const kept = this.#lines.last();
    if (kept.length > 0) return lines === undefined ? kept : kept.slice(-lines);
    return [`ComfyUI at ${this.url} is not supervised by comfy-worker (COMFY_URL); its output is not captured here`];
  }

  start(): Promise<void> {
    this.#starting ??= this.#start();
    return this.#starting;
  }

  stop(): Promise<void> {
    // never touches the remote ComfyUI: it is not ours
    if (!this.life.signal.aborted) {
      this.life.abort();
      this.setState("stopping");
      this.setState("stopped");
    }
    return Promise.resolve();
  }

  async #start(): Promise<void> {
    const timeoutMs = this.#options.readyTimeoutMs ?? READY_TIMEOUT_MS;
    // asked at once, so it comes back while /system_stats is answered; read again if ComfyUI was not up yet
    const early = this.#readBufferedOutput();
    const outcome = await this.#untilAnswering(timeoutMs, undefined);
    if (outcome === "aborted") throw stoppedError();
    if (outcome !== "ready") {
      const message =
        `ComfyUI at ${this.url} did not answer GET /system_stats within ${Math.round(timeoutMs / 1000)} s; ` +
        "check COMFY_URL and that ComfyUI is running and reachable from here (COMFY_READY_TIMEOUT_S sets the wait)";
      const error = new WorkerError("E_COMFY_START", message, { details: { url: this.url } });
      this.fail(error);
      throw error;
    }
    this.#replay((await early) ?? (await this.#readBufferedOutput()));
    // from here on its output arrives as it is written, for failed jobs' last lines and GET /logs
    void followComfyOutput(this.url, this.life.signal, (raw) => this.#line(raw));
    void this.#follow().catch((error: unknown) => {
      // never expected (probes do not throw); keep it visible rather than an unhandled rejection
      this.log.error(`watching ComfyUI at ${this.url} stopped: ${(error as Error)?.message ?? error}`);
    });
  }

  /**
   * We never saw an attached ComfyUI's output, but it keeps its last 300 writes (start-up included, unless many
   * lines followed): replaying them as lines lets the same readers find the custom node import table and the
   * packs that failed to import. Best effort: a ComfyUI without the route (older releases) just has none.
   */
  async #readBufferedOutput(): Promise<string | undefined> {
    try {
      const signal = AbortSignal.any([this.life.signal, AbortSignal.timeout(LOG_READ_TIMEOUT_MS)]);
      const response = await fetch(`${this.url}/internal/logs/raw`, { signal });
      const parsed = response.ok ? RawLogs.safeParse(await response.json()) : undefined;
      return parsed?.success ? parsed.data.entries.map((entry) => entry.m).join("") : undefined;
    } catch (error) {
      this.log.debug(`could not read ComfyUI's buffered output at ${this.url}: ${(error as Error)?.message ?? error}`);
      return undefined;
    }
  }

  #replay(text: string | undefined): void {
    for (const raw of text?.split(/\r?\n/) ?? []) this.#line(raw);
  }

  // one output line, replayed or live: kept for logs() and handed to the line listeners
  #line(raw: string): void {
    const line = uncolouredComfyLine(raw);
    if (line.trim() === "") return;
    this.#lines.push(line);
    this.emitLine(line);
  }

  // while ready: watch; when it stops answering, report it and wait for it to come back
  async #follow(): Promise<void> {
    const { healthIntervalMs: intervalMs, healthTimeoutMs: timeoutMs } = this.#options;
    if (intervalMs <= 0 || timeoutMs <= 0) return;
    for (;;) {
      const outcome = await watchHealth({
        url: this.url,
        intervalMs,
        timeoutMs,
        ended: NEVER,
        signal: this.life.signal,
      });
      if (outcome !== "hang" || this.life.signal.aborted) return;
      this.log.warn(`ComfyUI at ${this.url} stopped answering /system_stats`);
      this.setState("restarting");
      this.emitExit({ reason: "hang", code: null, signal: null, lastLines: [] });
      // a gone remote is polled at the health interval, not hammered
      if ((await this.#untilAnswering(Number.POSITIVE_INFINITY, intervalMs)) !== "ready") return;
      this.log.info(`ComfyUI at ${this.url} answers again`);
    }
  }

  async #untilAnswering(timeoutMs: number, pollMs: number | undefined): Promise<"ready" | "timeout" | "aborted"> {
    const { healthTimeoutMs } = this.#options;
    const outcome = await waitForReady({
      url: this.url,
      timeoutMs,
      probeTimeoutMs: healthTimeoutMs > 0 ? healthTimeoutMs : 10_000,
      pollMs,
      ended: NEVER,
      waker: new Waker(),
      signal: this.life.signal,
    });
    if (outcome === "ready" && !this.life.signal.aborted) {
      this.#generation++;
      this.setState("ready");
    }
    if (this.life.signal.aborted) return "aborted";
    return outcome === "ended" ? "aborted" : outcome;
  }
}
