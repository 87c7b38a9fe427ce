import type { ServerWebSocket } from "bun";
import { MAX_UPLOAD_BYTES } from "./options.ts";

/** Per-socket state; `sid` is the clientId the socket registered under. */
export interface SocketData {
  sid: string;
  first: boolean;
  flags: Record<string, unknown>;
}
export type Socket = ServerWebSocket<SocketData>;

/** The flags ComfyUI answers the handshake with (also GET /features), as a real 0.28.2 sends them. */
export const SERVER_FEATURES = {
  supports_preview_metadata: true,
  supports_model_type_tags: true,
  max_upload_size: MAX_UPLOAD_BYTES,
  extension: { manager: { supports_v4: true } },
  node_replacements: true,
  assets: false,
};

/** The server side of `/ws`: one socket per clientId, sends routed the way PromptServer.send_sync routes. */
export interface WsHub {
  open(ws: Socket): void;
  message(ws: Socket, text: string): void;
  close(ws: Socket): void;
  /** `sid` null/undefined broadcasts; a sid sends to that client only (dropped when it is not connected). */
  send(type: string, data: unknown, sid?: string | null): void;
  sendBinary(bytes: Uint8Array, sid?: string | null): void;
  /** Whether the client negotiated `supports_preview_metadata` in its feature_flags handshake. */
  supportsPreviewMetadata(sid: string | null): boolean;
  /** Whether a socket is connected under `sid` (terminal_service drops subscriptions of gone clients). */
  has(sid: string): boolean;
  /** Drops every socket without a close handshake (the drop-ws knob). */
  dropAll(): void;
  closeAll(): void;
  /** While muted (the hang knob) nothing is sent at all. */
  mute(): void;
}

/** A WsHub; `onConnect` supplies the first `status` payload and the executing re-send for reconnects. */
export function createWsHub(onConnect: (sid: string) => { queueRemaining: number; executingNode?: string }): WsHub {
  const sockets = new Map<string, Socket>();
  let muted = false;
  const sendTo = (ws: Socket, payload: string | Uint8Array) => {
    if (!muted && ws.readyState === 1) ws.send(payload);
  };
  const route = (payload: string | Uint8Array, sid?: string | null) => {
    if (sid === null || sid === undefined) for (const ws of sockets.values()) sendTo(ws, payload);
    else {
      const ws = sockets.get(sid);
      if (ws) sendTo(ws, payload);
    }
  };
  return {
    open(ws) {
      sockets.set(ws.data.sid, ws);
      const state = onConnect(ws.data.sid);
      const status = { status: { exec_info: { queue_remaining: state.queueRemaining } }, sid: ws.data.sid };
      sendTo(ws, JSON.stringify({ type: "status", data: status }));
      if (state.executingNode) sendTo(ws, JSON.stringify({ type: "executing", data: { node: state.executingNode } }));
    },
    message(ws, text) {
      const first = ws.data.first;
      ws.data.first = false;
      if (!first) return;
      const parsed = _json(text);
      if (parsed?.type !== "feature_flags") return;
      ws.data.flags =
        typeof parsed.data === "object" && parsed.data !== null ? (parsed.data as Record<string, unknown>) : {};
      sendTo(ws, JSON.stringify({ type: "feature_flags", data: SERVER_FEATURES }));
    },
    close(ws) {
      // only forget the socket if a reconnect under the same id has not replaced it already
      if (sockets.get(ws.data.sid) === ws) sockets.delete(ws.data.sid);
    },
    send: (type, data, sid) => route(JSON.stringify({ type, data }), sid),
    sendBinary: (bytes, sid) => route(bytes, sid),
    supportsPreviewMetadata: (sid) => (sid ? sockets.get(sid)?.data.flags.supports_preview_metadata === true : false),
    has: (sid) => sockets.has(sid),
    dropAll() {
      for (const ws of sockets.values()) ws.terminate();
      sockets.clear();
    },
    closeAll() {
      for (const ws of sockets.values()) ws.close(1001, "server shutting down");
      sockets.clear();
    },
    mute() {
      muted = true;
    },
  };
}

function _json(text: string): { type?: unknown; data?: unknown } | undefined {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null ? value : undefined;
  } catch {
    return undefined;
  }
}
