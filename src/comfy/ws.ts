import type { Logger } from "../log.ts";

/** `open` delivers events; `reconnecting` is a gap (poll /history meanwhile); `failed` and `closed` are final. */
export type SocketState = "connecting" | "open" | "reconnecting" | "failed" | "closed";

/** Where to connect and what to do with each text frame. */
export interface ComfySocketOptions {
  /** ComfyUI's HTTP base URL; the socket goes to `<url>/ws?clientId=…`. */
  url: string;
  clientId: string;
  /** Each JSON text frame as sent; the reader parses only what it needs (most frames are not for it). */
  onText: (text: string) => void;
  /** Binary frames (previews), as they come. */
  onBinary?: (data: Uint8Array) => void;
  /** Sent first on every connection (ComfyUI reads a `feature_flags` message only as the first one). */
  hello?: string;
  onState?: (state: SocketState) => void;
  log?: Logger;
  /** Each connection attempt must open within this; default 10 s. */
  connectTimeoutMs?: number;
  /** Consecutive failed attempts before giving up (state `failed`); default 20. */
  maxAttempts?: number;
}

/** A self-reconnecting ComfyUI event socket. */
export interface ComfySocket {
  readonly state: SocketState;
  /** Resolves true once open; false when the current attempt failed or took longer than `timeoutMs`. */
  opened(timeoutMs: number): Promise<boolean>;
  /** Closes for good; no further events or reconnects. */
  close(): void;
}

const CONNECT_TIMEOUT_MS = 10_000;
const MAX_ATTEMPTS = 20;
// the first attempt after a drop goes out at once (events are being missed); failed attempts back off from here
const RECONNECT_BASE_MS = 50;
const RECONNECT_MAX_MS = 5_000;
// a socket dropped sooner than this after opening counts as a failed attempt, so a flapping server is not hammered
const STABLE_OPEN_MS = 1_000;

interface Link {
  options: ComfySocketOptions;
  wsUrl: string;
  state: SocketState;
  failures: number;
  openedAt: number;
  socket?: { close(): void };
  retryTimer?: ReturnType<typeof setTimeout>;
  waiters: Set<(open: boolean) => void>;
}

/** Opens the socket right away and keeps reopening it (bounded exponential backoff) until closed. */
export function openComfySocket(options: ComfySocketOptions): ComfySocket {
  const base = options.url.replace(/^http/, "ws").replace(/\/+$/, "");
  const wsUrl = `${base}/ws?clientId=${encodeURIComponent(options.clientId)}`;
  const link: Link = { options, wsUrl, state: "connecting", failures: 0, openedAt: 0, waiters: new Set() };
  _connect(link);
  return {
    get state() {
      return link.state;
    },
    opened: (timeoutMs) => _opened(link, timeoutMs),
    close: () => {
      clearTimeout(link.retryTimer);
      _setState(link, "closed");
      link.socket?.close();
      link.socket = undefined;
    },
  };
}

function _connect(link: Link): void {
  link.socket = _dial(link.wsUrl, link.options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, {
    hello: link.options.hello,
    binary: link.options.onBinary,
    open: () => {
      link.openedAt = Date.now();
      _setState(link, "open");
    },
    text: link.options.onText,
    down: (why) => _onDown(link, why),
  });
}

function _setState(link: Link, next: SocketState): void {
  if (link.state === next) return;
  link.state = next;
  // waiters learn the outcome of the current attempt, so a dead ComfyUI doesn't delay the caller
  if (next !== "connecting") for (const wake of link.waiters) wake(next === "open");
  link.options.onState?.(next);
}

function _onDown(link: Link, why: string): void {
  link.socket = undefined;
  if (link.state === "closed") return;
  // a drop of a socket that stayed open a while retries at once; failed attempts and flapping grow the backoff
  const stable = link.state === "open" && Date.now() - link.openedAt >= STABLE_OPEN_MS;
  link.failures = stable ? 0 : link.failures + 1;
  const { log, maxAttempts = MAX_ATTEMPTS } = link.options;
  if (link.failures >= maxAttempts) {
    log?.warn("ComfyUI websocket gave up reconnecting; relying on /history polling", { attempts: link.failures });
    _setState(link, "failed");
    return;
  }
  const delayMs = link.failures === 0 ? 0 : Math.min(RECONNECT_BASE_MS * 2 ** (link.failures - 1), RECONNECT_MAX_MS);
  log?.debug("ComfyUI websocket down; reconnecting", { why, delayMs });
  // a waiter learns that this attempt failed even when the state stays "reconnecting"
  for (const wake of link.waiters) wake(false);
  _setState(link, "reconnecting");
  link.retryTimer = setTimeout(() => _connect(link), delayMs);
}

interface DialHandlers {
  hello: string | undefined;
  binary: ((data: Uint8Array) => void) | undefined;
  open: () => void;
  text: (text: string) => void;
  down: (why: string) => void;
}

function _dial(wsUrl: string, connectTimeoutMs: number, on: DialHandlers): { close(): void } {
  const ws = new WebSocket(wsUrl);
  // previews arrive as binary frames
  ws.binaryType = "arraybuffer";
  let live = true;
  // a socket that never opens is closed, and its close event schedules the next attempt
  const timer = setTimeout(() => ws.close(), connectTimeoutMs);
  ws.onopen = () => {
    clearTimeout(timer);
    if (on.hello) ws.send(on.hello);
    on.open();
  };
  ws.onmessage = (event: MessageEvent) => {
    if (!live) return;
    if (typeof event.data === "string") on.text(event.data);
    else if (on.binary && event.data instanceof ArrayBuffer) on.binary(new Uint8Array(event.data));
  };
  ws.onclose = (event: CloseEvent) => {
    clearTimeout(timer);
    if (!live) return;
    live = false;
    on.down(`close ${event.code}`);
  };
  // an error is always followed by close, which is where we react
  ws.onerror = () => {};
  return {
    // closing on purpose must not look like a drop
    close: () => {
      live = false;
      clearTimeout(timer);
      ws.close();
    },
  };
}

function _opened(link: Link, timeoutMs: number): Promise<boolean> {
  if (link.state === "open") return Promise.resolve(true);
  if (link.state === "failed" || link.state === "closed") return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (open: boolean) => {
      clearTimeout(timer);
      link.waiters.delete(done);
      resolve(open);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    link.waiters.add(done);
  });
}
