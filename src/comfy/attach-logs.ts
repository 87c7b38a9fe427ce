/**
 * The output of a ComfyUI we did not start (COMFY_URL), live: ComfyUI's terminal service sends every write to a
 * websocket client subscribed with PATCH /internal/logs/subscribe (what the frontend's log panel uses). The
 * subscription ends with the socket, so a new socket subscribes again. Without it, a failed job on an attached
 * ComfyUI would carry no `last_log_lines` and GET /logs would show nothing.
 */
import { delay } from "../lib/time.ts";

/** Follows ComfyUI's output until `signal` aborts, handing each complete line to `onLine`. Never rejects. */
export async function followComfyOutput(
  url: string,
  signal: AbortSignal,
  onLine: (line: string) => void,
): Promise<void> {
  const clientId = `comfy-worker-logs-${crypto.randomUUID()}`;
  while (!signal.aborted) {
    await _follow(url, clientId, signal, onLine).catch(() => {});
    // closed (ComfyUI restarting, or gone): try again in a moment, as the frontend does
    if (!(await delay(RECONNECT_MS, signal))) return;
  }
}

function _follow(url: string, clientId: string, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    let partial = "";
    const socket = new WebSocket(`${url.replace(/^http/, "ws")}/ws?clientId=${encodeURIComponent(clientId)}`);
    const stop = () => socket.close();
    signal.addEventListener("abort", stop, { once: true });
    socket.addEventListener("open", () => {
      fetch(`${url}/internal/logs/subscribe`, {
        method: "PATCH",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ clientId, enabled: true }),
        signal: AbortSignal.any([signal, AbortSignal.timeout(SUBSCRIBE_TIMEOUT_MS)]),
      }).catch(() => {});
    });
    socket.addEventListener("message", (event) => {
      // most messages are progress; only a `logs` one is parsed
      if (typeof event.data !== "string" || !event.data.includes('"logs"')) return;
      for (const text of _entries(event.data)) {
        const lines = (partial + text).split("\n");
        partial = lines.pop() ?? "";
        for (const line of lines) onLine(line);
      }
    });
    const done = () => {
      signal.removeEventListener("abort", stop);
      resolve();
    };
    socket.addEventListener("close", done);
    socket.addEventListener("error", () => socket.close());
  });
}

// {"type": "logs", "data": {"entries": [{"t": …, "m": text}], "size": …}}
function _entries(text: string): string[] {
  try {
    const message = JSON.parse(text) as { type?: unknown; data?: { entries?: unknown } };
    if (message?.type !== "logs" || !Array.isArray(message.data?.entries)) return [];
    return message.data.entries.flatMap((entry) =>
      typeof (entry as { m?: unknown })?.m === "string" ? [(entry as { m: string }).m] : [],
    );
  } catch {
    return [];
  }
}

const RECONNECT_MS = 2_000;
const SUBSCRIBE_TIMEOUT_MS = 5_000;
