import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import type { PreviewFrame } from "../previews/frames.ts";
import { cancelPrompt } from "./cancel-prompt.ts";
import { type ComfyClient, transportOf } from "./client.ts";
import type { PromptEvents } from "./prompt-events.ts";
import {
  applyEvent,
  emitSafely,
  entryFromEvents,
  type PromptEvent,
  type PromptResult,
  type PromptState,
  toResult,
} from "./prompt-state.ts";
import type { ApiWorkflow, HistoryEntry, KnownWsMessage } from "./schemas.ts";
import { submitPrompt } from "./submit-prompt.ts";
import type { SocketState } from "./ws.ts";

export { healthOf } from "./prompt-health.ts";
export type { PromptEvent, PromptResult } from "./prompt-state.ts";

/** Knobs for one prompt; every wait is bounded by `signal`, `health` or the liveness rule below. */
export interface RunPromptOptions {
  /** Our own id for the prompt (sent as POST /prompt's `prompt_id`); a fresh UUID by default. */
  promptId?: string;
  extraData?: Record<string, unknown>;
  /** Cancel or timeout: interrupt if running, delete if pending, then reject with `signal.reason`. */
  signal?: AbortSignal;
  onEvent?: (event: PromptEvent) => void;
  /** Live preview frames of this prompt (only sent by ComfyUI when its preview method is on for it). */
  onPreview?: (frame: PreviewFrame) => void;
  /** Returns a reason when ComfyUI is known to be dead; the prompt then rejects at once (E_COMFY_DIED). */
  health?: () => string | undefined;
  /** /history poll period while the websocket is down; default 250 ms. */
  pollIntervalMs?: number;
  /** How long ComfyUI may show no sign of life (no HTTP answer, no ws message) before we call it hung; default 120 s. */
  stallMs?: number;
  log?: Logger;
}

// while the socket is down /history is all we have, and reading one entry is cheap for ComfyUI
const DEFAULT_POLL_INTERVAL_MS = 250;
const DEFAULT_STALL_MS = 120_000;
// the socket should be open before POST /prompt so no early event is missed, but a slow one must not block
const WS_OPEN_WAIT_MS = 5_000;
// even with a healthy socket we poll now and then: it proves liveness and catches events lost in a gap
const WS_UP_POLL_MS = 5_000;
// `executing` with node null (sent after the history entry is written) triggers the read; this is the fallback
// after execution_success/error/interrupted when that frame does not come
const FINISH_POLL_MS = 25;
// history is written right after execution_success; past this we build the entry from the events we saw
const FINISH_GRACE_MS = 5_000;
const HEALTH_TICK_MS = 100;
const REFUSED_STRIKES = 2;
const POLL_ERROR_LIMIT = 5;

interface Run extends PromptState {
  client: ComfyClient;
  events: PromptEvents;
  opts: RunPromptOptions;
  backlog: KnownWsMessage[];
  lastAliveAt: number;
  lastPollAt: number;
  pollNow: boolean;
  /** The socket went down since this prompt was queued; its reopening means events were lost. */
  sawGap: boolean;
  refusals: number;
  pollErrors: number;
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
  const follow = { unsubscribe: _follow(run) };
  try {
    await _submit(run, prompt, follow);
    return await _wait(run);
  } finally {
    stopWatching();
    follow.unsubscribe();
  }
}

async function _submit(run: Run, prompt: ApiWorkflow, follow: { unsubscribe: () => void }): Promise<void> {
  const { signal } = run.stop;
  const stopped = new Promise<void>((done) =>
    signal.aborted ? done() : signal.addEventListener("abort", () => done()),
  );
  if (run.events.state !== "open") {
    const open = await Promise.race([run.events.opened(WS_OPEN_WAIT_MS), stopped.then(() => false)]);
    if (run.stop.signal.aborted) throw run.fatal ?? run.opts.signal?.reason;
    if (!open) run.opts.log?.warn("ComfyUI websocket is not open yet; following the prompt by polling /history");
  }
  const { clientId } = run.events;
  const options = { clientId, promptId: run.promptId, extraData: run.opts.extraData };
  const submit = submitPrompt(run.client, prompt, options, run.opts.log);
  // a fatal condition ends the wait at once; a caller abort waits for the POST so the prompt can be cancelled
  const fatal = stopped.then(() => (run.fatal === undefined ? submit : Promise.reject(run.fatal)));
  const queued = await Promise.race([submit, fatal]);
  // a ComfyUI too old to take our prompt_id picks its own; follow that one (its early events were kept)
  if (queued.promptId !== run.promptId) {
    follow.unsubscribe();
    run.promptId = queued.promptId;
    follow.unsubscribe = _follow(run);
  }
  _markQueued(run, queued);
}

function _createRun(client: ComfyClient, opts: RunPromptOptions): Run {
  const now = Date.now();
  return {
    client,
    events: client.events,
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
    // a socket that is down already has lost events: its reopening must trigger a /history read too
    sawGap: client.events.state === "reconnecting" || client.events.state === "failed",
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
    if (!problem) return;
    run.fatal = problem;
    run.stop.abort(problem);
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
  const silentMs = Date.now() - Math.max(run.lastAliveAt, run.events.lastMessageAt);
  if (silentMs <= (run.opts.stallMs ?? DEFAULT_STALL_MS)) return undefined;
  const message = `ComfyUI at ${run.client.url} has shown no sign of life for ${Math.round(silentMs / 1000)} s; it looks hung`;
  return new WorkerError("E_COMFY_UNAVAILABLE", message, { details: { ...details, transport: "timeout" } });
}

function _markQueued(run: Run, queued: Awaited<ReturnType<ComfyClient["queuePrompt"]>>): void {
  run.promptId = queued.promptId;
  run.nodeErrors = queued.nodeErrors;
  run.queuedAt = Date.now();
  run.phase = "queued";
  _emit(run, { type: "queued", promptId: queued.promptId, nodeErrors: queued.nodeErrors });
  for (const message of run.backlog.splice(0)) _handle(run, message);
}

function _follow(run: Run): () => void {
  return run.events.subscribe(run.promptId, {
    onMessage: (message) => _onMessage(run, message),
    onState: (state) => _onSocketState(run, state),
    ...(run.opts.onPreview ? { onPreview: run.opts.onPreview } : {}),
  });
}

async function _wait(run: Run): Promise<PromptResult> {
  for (;;) {
    if (run.stop.signal.aborted) return _stopped(run);
    const waitMs = _nextPollAt(run) - Date.now();
    if (waitMs > 0) {
      await _nap(run, waitMs);
      continue;
    }
    // events that arrive while the request is in flight set pollNow/phase, which the next turn reads
    const entry = await _poll(run);
    if (entry) return toResult(run, entry);
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

function _nextPollAt(run: Run): number {
  if (run.pollNow) return 0;
  if (run.phase === "finishing") return Math.max(run.lastPollAt, run.finishedAt ?? 0) + FINISH_POLL_MS;
  if (run.events.state !== "open") return run.lastPollAt + (run.opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
  return run.lastPollAt + Math.min(WS_UP_POLL_MS, (run.opts.stallMs ?? DEFAULT_STALL_MS) / 3);
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
      if (run.events.state !== "open" && ++run.refusals >= REFUSED_STRIKES) throw error;
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
  // a gap in events, and its end: what happened in the gap is only in /history, so look there right away
  if (state !== "open" || run.sawGap) run.pollNow = true;
  run.sawGap = state !== "open" && state !== "connecting";
  run.wake();
}

function _onMessage(run: Run, message: KnownWsMessage): void {
  run.lastAliveAt = Date.now();
  if (run.phase === "submitting") run.backlog.push(message);
  else _handle(run, message);
}

function _handle(run: Run, message: KnownWsMessage): void {
  if (!applyEvent(run, message, (event) => _emit(run, event))) return;
  // ComfyUI sends `executing` with node null after it has written the history entry
  if (message.type === "executing" && message.data.node === null) run.pollNow = true;
  run.wake();
}

const _emit = (run: Run, event: PromptEvent) => emitSafely(run.opts.onEvent, run.opts.log, event);
