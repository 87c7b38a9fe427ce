import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { cancelPrompt } from "./cancel-prompt.ts";
import { type ComfyClient, transportOf } from "./client.ts";
import {
  applyEvent,
  entryFromEvents,
  type PromptEvent,
  type PromptResult,
  type PromptState,
  toResult,
} from "./prompt-state.ts";
import type { ApiWorkflow, HistoryEntry, WsMessage } from "./schemas.ts";
import type { ComfyHandle } from "./supervisor.ts";
import { type ComfySocket, openComfySocket, type SocketState } from "./ws.ts";

export type { PromptEvent, PromptResult } from "./prompt-state.ts";

/** Knobs for one prompt; every wait is bounded by `signal`, `health` or the liveness rule below. */
export interface RunPromptOptions {
  clientId?: string;
  promptId?: string;
  extraData?: Record<string, unknown>;
  /** Cancel or timeout: interrupt if running, delete if pending, then reject with `signal.reason`. */
  signal?: AbortSignal;
  onEvent?: (event: PromptEvent) => void;
  /** Returns a reason when ComfyUI is known to be dead; the prompt then rejects at once (E_COMFY_DIED). */
  health?: () => string | undefined;
  /** /history poll period while the websocket is down; default 1 s. */
  pollIntervalMs?: number;
  /** How long ComfyUI may show no sign of life (no HTTP answer, no ws message) before we call it hung; default 120 s. */
  stallMs?: number;
  log?: Logger;
}

const DEFAULT_POLL_INTERVAL_MS = 1_000;
const DEFAULT_STALL_MS = 120_000;
// the socket should be open before POST /prompt so no early event is missed, but a slow one must not block
const WS_OPEN_WAIT_MS = 5_000;
// even with a healthy socket we poll now and then: it proves liveness and catches events lost in a gap
const WS_UP_POLL_MS = 5_000;
const FINISH_POLL_MS = 50;
// history is written right after execution_success; past this we build the entry from the events we saw
const FINISH_GRACE_MS = 5_000;
const HEALTH_TICK_MS = 100;
const REFUSED_STRIKES = 2;
const POLL_ERROR_LIMIT = 5;

interface Run extends PromptState {
  client: ComfyClient;
  opts: RunPromptOptions;
  backlog: WsMessage[];
  lastAliveAt: number;
  lastPollAt: number;
  pollNow: boolean;
  refusals: number;
  pollErrors: number;
  socket?: ComfySocket;
  /** Aborted by the caller's signal or by a fatal condition (`fatal` set). */
  stop: AbortController;
  fatal?: unknown;
  wake: () => void;
}

/**
 * Queues `prompt` and resolves when ComfyUI has finished it (success, error or interrupted).
 *
 * Liveness rule (so a job never hangs on a dead socket or a dead ComfyUI, yet a busy one is left alone):
 * - `health()` returning a reason rejects at once with E_COMFY_DIED.
 * - websocket down and two /history polls in a row refused (nothing listening) rejects with E_COMFY_UNAVAILABLE,
 *   i.e. about one poll interval after the crash.
 * - no sign of life at all (no HTTP answer of any kind and no ws message) for `stallMs` rejects with
 *   E_COMFY_UNAVAILABLE. A busy ComfyUI still answers /history, however slowly (its HTTP server runs apart from the
 *   executor), so only a hung process trips this.
 */
export async function runPrompt(
  client: ComfyClient,
  prompt: ApiWorkflow,
  options: RunPromptOptions = {},
): Promise<PromptResult> {
  options.signal?.throwIfAborted();
  const run = _createRun(client, options);
  const stopWatching = _watchLiveness(run);
  const clientId = options.clientId ?? crypto.randomUUID();
  run.socket = openComfySocket({
    url: client.url,
    clientId,
    ...(options.log ? { log: options.log } : {}),
    onMessage: (message) => _onMessage(run, message),
    onState: (state) => _onSocketState(run, state),
  });
  try {
    const stopped = _whenStopped(run);
    const open = await Promise.race([run.socket.opened(WS_OPEN_WAIT_MS), stopped.then(() => false)]);
    if (run.stop.signal.aborted) throw run.fatal ?? options.signal?.reason;
    if (!open) options.log?.warn("ComfyUI websocket is not open yet; following the prompt by polling /history");
    const submit = client.queuePrompt(prompt, { clientId, promptId: run.promptId, extraData: options.extraData ?? {} });
    // a fatal condition ends the wait at once; a caller abort waits for the POST so the prompt can be cancelled
    const fatal = stopped.then(() => (run.fatal === undefined ? submit : Promise.reject(run.fatal)));
    _markQueued(run, await Promise.race([submit, fatal]));
    return await _wait(run);
  } finally {
    stopWatching();
    run.socket.close();
  }
}

/**
 * The `health` callback for a supervised ComfyUI: a reason once the process that took the prompt is gone
 * (exited, restarting, failed or stopping); a restart loses ComfyUI's queue, so a new generation counts as gone.
 */
export function healthOf(comfy: Pick<ComfyHandle, "state" | "generation" | "lastExit">): () => string | undefined {
  const generation = comfy.generation;
  return () => {
    const alive = comfy.state === "ready" || comfy.state === "starting";
    if (comfy.generation === generation && alive) return undefined;
    const exit = comfy.lastExit;
    const how = exit
      ? ` (last exit: ${[exit.reason, exit.code ?? exit.signal].filter((p) => p !== null).join(" ")})`
      : "";
    return `${comfy.generation === generation ? `ComfyUI is ${comfy.state}` : "ComfyUI restarted"}${how}`;
  };
}

function _createRun(client: ComfyClient, opts: RunPromptOptions): Run {
  const now = Date.now();
  return {
    client,
    opts,
    promptId: opts.promptId ?? crypto.randomUUID(),
    phase: "submitting",
    backlog: [],
    outputs: {},
    nodeErrors: {},
    queuedAt: now,
    lastAliveAt: now,
    lastPollAt: now,
    pollNow: false,
    refusals: 0,
    pollErrors: 0,
    stop: new AbortController(),
    wake: () => {},
  };
}

function _watchLiveness(run: Run): () => void {
  const onAbort = () => run.stop.abort(run.opts.signal?.reason);
  run.opts.signal?.addEventListener("abort", onAbort, { once: true });
  const tick = setInterval(() => {
    const problem = run.stop.signal.aborted ? undefined : _livenessProblem(run);
    if (problem) _fail(run, problem);
  }, HEALTH_TICK_MS);
  return () => {
    clearInterval(tick);
    run.opts.signal?.removeEventListener("abort", onAbort);
  };
}

function _livenessProblem(run: Run): WorkerError | undefined {
  const details = { prompt_id: run.promptId };
  const reason = run.opts.health?.();
  if (reason) {
    const message = `ComfyUI died while running prompt ${run.promptId}: ${reason}`;
    return new WorkerError("E_COMFY_DIED", message, { details: { ...details, reason } });
  }
  const silentMs = Date.now() - run.lastAliveAt;
  if (silentMs <= (run.opts.stallMs ?? DEFAULT_STALL_MS)) return undefined;
  const message = `ComfyUI at ${run.client.url} has shown no sign of life for ${Math.round(silentMs / 1000)} s; it looks hung`;
  return new WorkerError("E_COMFY_UNAVAILABLE", message, { details: { ...details, transport: "timeout" } });
}

function _fail(run: Run, error: unknown): void {
  if (run.stop.signal.aborted) return;
  run.fatal = error;
  run.stop.abort(error);
}

function _whenStopped(run: Run): Promise<void> {
  const { signal } = run.stop;
  return new Promise((resolve) => {
    if (signal.aborted) resolve();
    else signal.addEventListener("abort", () => resolve(), { once: true });
  });
}

function _markQueued(run: Run, queued: Awaited<ReturnType<ComfyClient["queuePrompt"]>>): void {
  run.promptId = queued.promptId;
  run.nodeErrors = queued.nodeErrors;
  run.queuedAt = Date.now();
  run.phase = "queued";
  _emit(run, { type: "queued", promptId: queued.promptId, nodeErrors: queued.nodeErrors });
  for (const message of run.backlog.splice(0)) _handle(run, message);
}

async function _wait(run: Run): Promise<PromptResult> {
  for (;;) {
    if (run.stop.signal.aborted) return _stopped(run);
    if (_pollDue(run)) {
      const entry = await _poll(run);
      if (entry) return toResult(run, entry);
      continue;
    }
    await _nap(run, run.lastPollAt + _pollInterval(run) - Date.now());
  }
}

async function _stopped(run: Run): Promise<never> {
  if (run.fatal !== undefined) throw run.fatal;
  const reason = run.opts.signal?.reason;
  const finished = () => run.phase === "finishing";
  // nothing to take out of ComfyUI before POST /prompt succeeded
  const cancel = run.phase === "submitting" ? Promise.resolve() : cancelPrompt(run.client, run.promptId, { finished });
  await cancel.catch((error: unknown) =>
    run.opts.log?.warn("could not cancel the prompt in ComfyUI", { promptId: run.promptId, error: String(error) }),
  );
  throw reason;
}

function _pollInterval(run: Run): number {
  if (run.phase === "finishing") return FINISH_POLL_MS;
  if (run.socket?.state !== "open") return run.opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS;
  return Math.min(WS_UP_POLL_MS, (run.opts.stallMs ?? DEFAULT_STALL_MS) / 3);
}

function _pollDue(run: Run): boolean {
  return run.pollNow || Date.now() - run.lastPollAt >= _pollInterval(run);
}

async function _poll(run: Run): Promise<HistoryEntry | undefined> {
  run.pollNow = false;
  run.lastPollAt = Date.now();
  try {
    const entry = await run.client.history(run.promptId, run.stop.signal);
    run.lastAliveAt = Date.now();
    run.refusals = 0;
    run.pollErrors = 0;
    return entry ?? _lateEntry(run);
  } catch (error) {
    if (run.stop.signal.aborted) return undefined;
    const transport = transportOf(error);
    // no answer in time: the stall rule decides, since a busy ComfyUI may just be slow
    if (transport === "timeout") return undefined;
    if (transport === "refused") {
      if (run.socket?.state !== "open" && ++run.refusals >= REFUSED_STRIKES) throw error;
      return undefined;
    }
    if (++run.pollErrors >= POLL_ERROR_LIMIT) throw error;
    return undefined;
  }
}

/** Past FINISH_GRACE_MS after a completion event without a history entry, the events stand in for it. */
function _lateEntry(run: Run): HistoryEntry | undefined {
  if (run.phase !== "finishing" || Date.now() - (run.finishedAt ?? Date.now()) < FINISH_GRACE_MS) return undefined;
  run.opts.log?.warn("ComfyUI finished the prompt but wrote no history entry; using websocket outputs", {
    promptId: run.promptId,
  });
  return entryFromEvents(run);
}

function _nap(run: Run, ms: number): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      run.stop.signal.removeEventListener("abort", done);
      run.wake = () => {};
      resolve();
    };
    const timer = setTimeout(done, Math.max(0, ms));
    run.wake = done;
    run.stop.signal.addEventListener("abort", done, { once: true });
  });
}

function _onSocketState(run: Run, state: SocketState): void {
  if (state === "open") run.lastAliveAt = Date.now();
  // a gap in events: look at /history right away rather than trust the socket
  else run.pollNow = true;
  run.wake();
}

function _onMessage(run: Run, message: WsMessage): void {
  run.lastAliveAt = Date.now();
  if (run.phase === "submitting") run.backlog.push(message);
  else _handle(run, message);
}

function _handle(run: Run, message: WsMessage): void {
  if (message.type === "other") return;
  if (applyEvent(run, message, (event) => _emit(run, event))) run.wake();
}

function _emit(run: Run, event: PromptEvent): void {
  try {
    run.opts.onEvent?.(event);
  } catch (error) {
    // a broken progress reporter must not fail the prompt
    run.opts.log?.warn("prompt event handler threw", { event: event.type, error: String(error) });
  }
}
