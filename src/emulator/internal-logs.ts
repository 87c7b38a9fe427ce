import { Hono } from "hono";
import type { WsHub } from "./ws-hub.ts";

/** One write to stdout/stderr as app/logger.py's LogInterceptor keeps it: local time without zone, text. */
export interface OutputEntry {
  t: string;
  m: string;
}

/** The buffer of ComfyUI's last writes (setup_logger's deque, capacity 300). */
export interface OutputBuffer {
  push(text: string): void;
  entries(): OutputEntry[];
  /** app/logger.py's on_flush: `listener` gets each new write as it is kept. */
  onFlush(listener: (entries: OutputEntry[]) => void): void;
}

const CAPACITY = 300;
// what terminal_service reports for a server without a terminal
const SIZE = { cols: 80, rows: 24 };

export function createOutputBuffer(now: () => Date = () => new Date()): OutputBuffer {
  const entries: OutputEntry[] = [];
  const listeners: Array<(entries: OutputEntry[]) => void> = [];
  return {
    push(text) {
      const time = now();
      const local = new Date(time.getTime() - time.getTimezoneOffset() * 60_000).toISOString().replace("Z", "");
      const entry = { t: local, m: text };
      entries.push(entry);
      if (entries.length > CAPACITY) entries.shift();
      for (const listener of listeners) listener([entry]);
    },
    entries: () => [...entries],
    onFlush: (listener) => void listeners.push(listener),
  };
}

/**
 * terminal_service: clients subscribed with PATCH /internal/logs/subscribe get every write as a `logs` event on
 * their socket; a client whose socket is gone is unsubscribed.
 */
export function logSubscriptions(buffer: OutputBuffer, hub: Pick<WsHub, "send" | "has">): Set<string> {
  const subscribed = new Set<string>();
  buffer.onFlush((entries) => {
    for (const sid of [...subscribed]) {
      if (!hub.has(sid)) subscribed.delete(sid);
      else hub.send("logs", { entries, size: null }, sid);
    }
  });
  return subscribed;
}

/**
 * api_server/routes/internal: GET /internal/logs (each write as "t - m", joined), GET /internal/logs/raw and PATCH
 * /internal/logs/subscribe `{clientId, enabled}`.
 */
export function internalRoutes(buffer: OutputBuffer, subscribed: Set<string>): Hono {
  const app = new Hono();
  app.patch("/logs/subscribe", async (c) => {
    const body = (await c.req.json()) as { clientId: string; enabled: boolean };
    if (body.enabled) subscribed.add(body.clientId);
    else subscribed.delete(body.clientId);
    return c.body(null, 200);
  });
  app.get("/logs", (c) =>
    c.json(
      buffer
        .entries()
        .map((entry) => `${entry.t} - ${entry.m}`)
        .join(""),
    ),
  );
  app.get("/logs/raw", (c) => c.json({ entries: buffer.entries(), size: SIZE }));
  return app;
}
