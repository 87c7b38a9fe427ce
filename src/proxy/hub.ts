import type { ServerWebSocket } from "bun";

/** A browser socket on the proxy; `sid` is its clientId (from the URL, or learned from ComfyUI's first status). */
export interface BrowserSocketData {
  sid: string | undefined;
  /** The query string the browser connected with, passed on to ComfyUI unchanged. */
  search: string;
  path: string;
  headers: Record<string, string>;
  upstream?: WebSocket;
  /** Frames the browser sent before the ComfyUI socket was open. */
  backlog: (string | Uint8Array)[];
  /** The client announced `supports_preview_metadata` in its feature_flags: previews go as event 4. */
  previewMetadata?: boolean;
}
export type BrowserSocket = ServerWebSocket<BrowserSocketData>;

/**
 * The browser sockets by clientId, for the events the proxy makes up for remote prompts; routed the way
 * PromptServer.send_sync routes: a sid sends to that client only, no sid broadcasts.
 */
export class BrowserHub {
  #sockets = new Map<string, BrowserSocket>();

  /** Registers (or re-registers under a newly learned sid) a socket; a reconnect replaces the old one. */
  register(ws: BrowserSocket, sid: string): void {
    ws.data.sid = sid;
    this.#sockets.set(sid, ws);
  }

  forget(ws: BrowserSocket): void {
    if (ws.data.sid !== undefined && this.#sockets.get(ws.data.sid) === ws) this.#sockets.delete(ws.data.sid);
  }

  /** `{type, data}` as JSON to `sid`, or to every socket when `sid` is null. */
  send(type: string, data: unknown, sid: string | null): void {
    const text = JSON.stringify({ type, data });
    if (sid === null) for (const ws of this.#sockets.values()) _send(ws, text);
    else {
      const ws = this.#sockets.get(sid);
      if (ws) _send(ws, text);
    }
  }

  /** A binary frame (a preview image) to `sid`'s socket, or every one: `data(withMetadata)` builds each client's form. */
  sendBinary(data: (withMetadata: boolean) => Uint8Array, sid: string | null): void {
    // no sid: every socket, as send_bytes with sid None does
    const sockets = sid === null ? [...this.#sockets.values()] : [this.#sockets.get(sid)];
    for (const ws of sockets) if (ws?.readyState === 1) ws.send(data(ws.data.previewMetadata === true));
  }

  closeAll(): void {
    for (const ws of this.#sockets.values()) ws.close(1001, "proxy shutting down");
    this.#sockets.clear();
  }
}

function _send(ws: BrowserSocket, payload: string): void {
  if (ws.readyState === 1) ws.send(payload);
}
