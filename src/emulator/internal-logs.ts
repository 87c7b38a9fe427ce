import { Hono } from "hono";

/** One write to stdout/stderr as app/logger.py's LogInterceptor keeps it: local time without zone, text. */
export interface OutputEntry {
  t: string;
  m: string;
}

/** The buffer of ComfyUI's last writes (setup_logger's deque, capacity 300). */
export interface OutputBuffer {
  push(text: string): void;
  entries(): OutputEntry[];
}

const CAPACITY = 300;
// what terminal_service reports for a server without a terminal
const SIZE = { cols: 80, rows: 24 };

export function createOutputBuffer(now: () => Date = () => new Date()): OutputBuffer {
  const entries: OutputEntry[] = [];
  return {
    push(text) {
      const time = now();
      const local = new Date(time.getTime() - time.getTimezoneOffset() * 60_000).toISOString().replace("Z", "");
      entries.push({ t: local, m: text });
      if (entries.length > CAPACITY) entries.shift();
    },
    entries: () => [...entries],
  };
}

/** api_server/routes/internal: GET /internal/logs (each write as "t - m", joined) and GET /internal/logs/raw. */
export function internalRoutes(buffer: OutputBuffer): Hono {
  const app = new Hono();
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
