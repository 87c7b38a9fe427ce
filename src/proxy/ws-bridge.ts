import type { Server, WebSocketHandler } from "bun";
import type { BrowserHub, BrowserSocket, BrowserSocketData } from "./hub.ts";

/** What the bridge needs from the proxy: ComfyUI's ws base, queue counts to merge, the reconnect re-send. */
export interface BridgeContext {
  hub: BrowserHub;
  /** ws://host:port of the local ComfyUI. */
  upstreamWs: string;
  /** Prompts of ours not finished yet, added to ComfyUI's `queue_remaining`. */
  remoteRemaining: () => number;
  /** Called with ComfyUI's own queue_remaining each time its status passes through. */
  onLocalRemaining: (remaining: number) => void;
  /** The node a reconnecting client's remote prompt is executing (ComfyUI re-sends `executing`). */
  executingFor: (sid: string) => string | undefined;
}

export const WS_PATHS = new Set(["/ws", "/api/ws"]);
// headers the browser's handshake carries that ComfyUI (or a custom node) may look at
const HANDSHAKE_HEADERS = ["host", "origin", "cookie", "user-agent", "authorization", "comfy-user", "accept-language"];
const STATUS_FRAME_RE = /^\{\s*"type"\s*:\s*"status"/;

/** Upgrades a browser's `/ws` request; the clientId it asked for (if any) is its sid from the start. */
export function upgradeBrowser(req: Request, server: Server<BrowserSocketData>): boolean {
  const url = new URL(req.url);
  const headers: Record<string, string> = {};
  for (const name of HANDSHAKE_HEADERS) {
    const value = req.headers.get(name);
    if (value !== null) headers[name] = value;
  }
  const sid = url.searchParams.get("clientId") || undefined;
  return server.upgrade(req, { data: { sid, search: url.search, path: url.pathname, headers, backlog: [] } });
}

/**
 * One ComfyUI socket per browser socket, frames relayed unchanged both ways (text and binary), except that
 * `status` frames also count the proxy's remote prompts; the browser's sid is learned from ComfyUI's first
 * status when it connected without a clientId.
 */
export function bridgeHandlers(ctx: BridgeContext): WebSocketHandler<BrowserSocketData> {
  return {
    open(ws) {
      if (ws.data.sid) ctx.hub.register(ws, ws.data.sid);
      const upstream = new WebSocket(`${ctx.upstreamWs}${ws.data.path}${ws.data.search}`, {
        headers: ws.data.headers,
      } as unknown as string[]);
      upstream.binaryType = "arraybuffer";
      ws.data.upstream = upstream;
      upstream.addEventListener("open", () => {
        for (const frame of ws.data.backlog.splice(0)) upstream.send(frame);
      });
      upstream.addEventListener("message", (event) => _toBrowser(ctx, ws, event.data));
      upstream.addEventListener("close", (event) => ws.close(_closeCode(event.code), event.reason));
      upstream.addEventListener("error", () => ws.close(1011, "ComfyUI's websocket failed"));
    },
    message(ws, message) {
      const frame = typeof message === "string" ? message : new Uint8Array(message);
      if (typeof frame === "string" && ws.data.previewMetadata === undefined)
        ws.data.previewMetadata = _wantsMetadata(frame);
      const upstream = ws.data.upstream;
      if (upstream?.readyState === WebSocket.OPEN) upstream.send(frame);
      else ws.data.backlog.push(frame);
    },
    close(ws) {
      ctx.hub.forget(ws);
      const upstream = ws.data.upstream;
      if (upstream && upstream.readyState !== WebSocket.CLOSED) upstream.close();
    },
  };
}

function _toBrowser(ctx: BridgeContext, ws: BrowserSocket, data: unknown): void {
  if (ws.readyState !== 1) return;
  if (typeof data !== "string") {
    ws.send(new Uint8Array(data as ArrayBuffer));
    return;
  }
  ws.send(STATUS_FRAME_RE.test(data) ? _status(ctx, ws, data) : data);
}

function _status(ctx: BridgeContext, ws: BrowserSocket, text: string): string {
  let frame: { data?: { status?: { exec_info?: { queue_remaining?: number } }; sid?: string } };
  try {
    frame = JSON.parse(text);
  } catch {
    return text;
  }
  const sid = frame.data?.sid;
  const first = typeof sid === "string" && ws.data.sid !== sid;
  if (first) ctx.hub.register(ws, sid);
  const info = frame.data?.status?.exec_info;
  if (typeof info?.queue_remaining === "number") ctx.onLocalRemaining(info.queue_remaining);
  const extra = ctx.remoteRemaining();
  if (typeof info?.queue_remaining === "number" && extra > 0) info.queue_remaining += extra;
  const out = extra > 0 ? JSON.stringify(frame) : text;
  // ComfyUI re-sends the executing node to a client reconnecting during its prompt; do the same for ours
  const node = typeof sid === "string" ? ctx.executingFor(sid) : undefined;
  if (node) queueMicrotask(() => ctx.hub.send("executing", { node }, sid as string));
  return out;
}

// 1005/1006 are reserved (no status, abnormal): they may not be sent in a close frame
function _closeCode(code: number): number {
  return code === 1005 || code === 1006 || code < 1000 ? 1011 : code;
}

// the frontend's first message: {"type": "feature_flags", "data": {"supports_preview_metadata": true, …}}
function _wantsMetadata(text: string): boolean | undefined {
  try {
    const message = JSON.parse(text) as { type?: unknown; data?: { supports_preview_metadata?: unknown } };
    if (message?.type !== "feature_flags") return undefined;
    return message.data?.supports_preview_metadata === true;
  } catch {
    return undefined;
  }
}
