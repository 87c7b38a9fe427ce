import type { Logger } from "../log.ts";
import { type PreviewFrame, parsePreviewFrame } from "../previews/frames.ts";
import { KnownWsMessage } from "./schemas.ts";
import { type ComfySocket, openComfySocket, type SocketState } from "./ws.ts";

/** What one prompt's follower hears from the shared socket. */
export interface PromptListener {
  /** An event carrying this prompt's id (events that arrived before `subscribe` are replayed first). */
  onMessage: (message: KnownWsMessage) => void;
  /** Every change of the shared socket's state (a gap means events may have been lost). */
  onState: (state: SocketState) => void;
  /** A live preview frame of this prompt (ComfyUI sends them only when the prompt's preview method is on). */
  onPreview?: (frame: PreviewFrame) => void;
}

/**
 * One websocket per ComfyUI for every prompt this process queues. ComfyUI sends a prompt's events only to the
 * socket whose clientId queued it, so every POST /prompt must carry `clientId`; events are routed here by their
 * `prompt_id`. Keeping the socket open saves a connect per job and lets a reconnect serve all prompts at once.
 */
export interface PromptEvents {
  readonly clientId: string;
  readonly state: SocketState;
  /** Epoch ms of the last frame of any kind (any frame proves ComfyUI is alive); 0 before the first. */
  readonly lastMessageAt: number;
  /** Opens the socket if needed; true once open, false when the attempt failed or took longer than `timeoutMs`. */
  opened(timeoutMs: number): Promise<boolean>;
  /** Follows one prompt until the returned function is called. */
  subscribe(promptId: string, listener: PromptListener): () => void;
  /** Closes the socket for good (the worker is stopping). */
  close(): void;
}

// events for a prompt nobody follows yet (a ComfyUI that ignored our prompt_id announces its own before the POST
// answers) are kept briefly, within these bounds, for the subscriber that is about to come
const MAX_UNCLAIMED_PROMPTS = 16;
const MAX_UNCLAIMED_EVENTS = 512;
// the events a prompt's follower acts on; the rest (`progress_state` snapshots of the whole graph on every node
// change, `status`, custom nodes' own) are never validated, which is most of a prompt's frames
const ROUTED_TYPES: ReadonlySet<string> = new Set([
  "execution_start",
  "execution_cached",
  "executing",
  "progress",
  "executed",
  "execution_success",
  "execution_error",
  "execution_interrupted",
]);

interface Hub {
  url: string;
  clientId: string;
  log?: Logger;
  socket?: ComfySocket;
  closed: boolean;
  lastMessageAt: number;
  listeners: Map<string, PromptListener>;
  unclaimed: Map<string, KnownWsMessage[]>;
  /** The prompt ComfyUI executes now: previews without metadata belong to it (ComfyUI runs one at a time). */
  running?: string;
}

// ComfyUI reads feature flags from a client's first message only; with this one its previews carry the
// prompt and node they belong to (PREVIEW_IMAGE_WITH_METADATA); older servers ignore it
const HELLO = JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } });
const RUN_END: ReadonlySet<string> = new Set(["execution_success", "execution_error", "execution_interrupted"]);

/** Creates the shared event socket for ComfyUI at `url`; it connects on first use. */
export function createPromptEvents(options: { url: string; clientId?: string; log?: Logger }): PromptEvents {
  const hub: Hub = {
    url: options.url,
    clientId: options.clientId ?? `comfy-worker-${crypto.randomUUID()}`,
    ...(options.log ? { log: options.log } : {}),
    closed: false,
    lastMessageAt: 0,
    listeners: new Map(),
    unclaimed: new Map(),
  };
  return {
    clientId: hub.clientId,
    get state() {
      return hub.socket?.state ?? "closed";
    },
    get lastMessageAt() {
      return hub.lastMessageAt;
    },
    opened: (timeoutMs) => _ensure(hub).opened(timeoutMs),
    subscribe: (promptId, listener) => _subscribe(hub, promptId, listener),
    close: () => {
      hub.closed = true;
      hub.socket?.close();
    },
  };
}

function _ensure(hub: Hub): ComfySocket {
  const state = hub.socket?.state;
  // a socket that gave up (ComfyUI was down for long) is replaced when someone needs it again
  if (hub.socket && state !== "failed" && state !== "closed") return hub.socket;
  if (hub.closed) return hub.socket ?? _closedSocket();
  hub.socket = openComfySocket({
    url: hub.url,
    clientId: hub.clientId,
    ...(hub.log ? { log: hub.log } : {}),
    onText: (text) => _route(hub, text),
    onBinary: (data) => _preview(hub, data),
    hello: HELLO,
    onState: (next) => {
      for (const listener of [...hub.listeners.values()]) listener.onState(next);
    },
  });
  return hub.socket;
}

function _subscribe(hub: Hub, promptId: string, listener: PromptListener): () => void {
  hub.listeners.set(promptId, listener);
  _ensure(hub);
  const early = hub.unclaimed.get(promptId);
  hub.unclaimed.delete(promptId);
  for (const message of early ?? []) listener.onMessage(message);
  return () => {
    if (hub.listeners.get(promptId) === listener) hub.listeners.delete(promptId);
  };
}

function _route(hub: Hub, text: string): void {
  hub.lastMessageAt = Date.now();
  const frame = _frame(text);
  // id-less frames (`status`, the `executing` hint re-sent on reconnect) belong to no prompt in particular;
  // the reconnect itself makes every follower read /history
  if (!frame) return;
  const parsed = KnownWsMessage.safeParse(frame.json);
  if (!parsed.success) return;
  if (!RUN_END.has(parsed.data.type)) hub.running = frame.promptId;
  else if (hub.running === frame.promptId) hub.running = undefined;
  const listener = hub.listeners.get(frame.promptId);
  if (listener) listener.onMessage(parsed.data);
  else _keepUnclaimed(hub, frame.promptId, parsed.data);
}

/** A frame of a routed type with a prompt id, found without validating it; anything else is undefined. */
function _frame(text: string): { json: unknown; promptId: string } | undefined {
  let json: { type?: unknown; data?: { prompt_id?: unknown } } | null;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof json?.type !== "string" || !ROUTED_TYPES.has(json.type)) return undefined;
  const promptId = json.data?.prompt_id;
  return typeof promptId === "string" ? { json, promptId } : undefined;
}

function _preview(hub: Hub, data: Uint8Array): void {
  hub.lastMessageAt = Date.now();
  const frame = parsePreviewFrame(data);
  const promptId = frame?.promptId ?? hub.running;
  if (frame && promptId) hub.listeners.get(promptId)?.onPreview?.(frame);
}

function _keepUnclaimed(hub: Hub, promptId: string, message: KnownWsMessage): void {
  let kept = hub.unclaimed.get(promptId);
  if (!kept) {
    if (hub.unclaimed.size >= MAX_UNCLAIMED_PROMPTS) hub.unclaimed.delete(hub.unclaimed.keys().next().value ?? "");
    kept = [];
    hub.unclaimed.set(promptId, kept);
  }
  if (kept.length < MAX_UNCLAIMED_EVENTS) kept.push(message);
}

function _closedSocket(): ComfySocket {
  return { state: "closed", opened: async () => false, close: () => {} };
}
