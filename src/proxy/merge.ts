/** ComfyUI's /queue and /history answers with the proxy's remote prompts added, so the queue panel shows them. */
import { queueTuple, type RemoteQueue } from "./queue.ts";

/** `{queue_running, queue_pending}` of ComfyUI plus the remote prompt running and those waiting. */
export function mergeQueue(local: unknown, queue: RemoteQueue): unknown {
  const body = local as { queue_running?: unknown[]; queue_pending?: unknown[] };
  if (!Array.isArray(body?.queue_running) || !Array.isArray(body.queue_pending)) return local;
  const running = queue.running();
  return {
    ...body,
    queue_running: [...body.queue_running, ...(running ? [queueTuple(running)] : [])],
    queue_pending: [...body.queue_pending, ...queue.pending().map(queueTuple)],
  };
}

/** ComfyUI's history dict plus finished remote prompts, honouring `max_items` (the last N) and `offset`. */
export function mergeHistory(local: unknown, queue: RemoteQueue, query: URLSearchParams): unknown {
  if (typeof local !== "object" || local === null || Array.isArray(local)) return local;
  // ComfyUI's history is in finishing order: its entries keep theirs, and ours go in by when each finished
  let last = 0;
  const locals = Object.entries(local).map(([id, entry]): [string, unknown, number] => {
    last = Math.max(last, _finishedAt(entry));
    return [id, entry, last];
  });
  const ours = [...queue.history]
    .map(([id, finished]): [string, unknown, number] => [id, finished.entry, finished.endedAt])
    .sort((a, b) => a[2] - b[2]);
  const entries: [string, unknown, number][] = [];
  while (locals.length > 0 || ours.length > 0) {
    const next =
      ours.length === 0 || (locals[0] && (locals[0][2] as number) <= (ours[0]?.[2] as number)) ? locals : ours;
    entries.push(next.shift() as [string, unknown, number]);
  }
  const maxItems = _int(query.get("max_items"));
  const offset = _int(query.get("offset")) ?? -1;
  const start = offset < 0 && maxItems !== undefined ? Math.max(0, entries.length - maxItems) : Math.max(0, offset);
  const end = maxItems !== undefined ? start + maxItems : entries.length;
  return Object.fromEntries(entries.slice(start, end).map(([id, entry]) => [id, entry]));
}

/**
 * The query for ComfyUI's part of a merged /history: with an offset, its entries from the start up to the merged
 * page's end, since the page is cut from the merged list once; without one, its newest `max_items` already hold
 * every local entry of the merged newest `max_items`.
 */
export function localHistoryQuery(query: URLSearchParams): URLSearchParams {
  const offset = _int(query.get("offset"));
  const maxItems = _int(query.get("max_items"));
  if (offset === undefined || offset < 0 || (query.has("max_items") && maxItems === undefined)) return query;
  const local = new URLSearchParams(query);
  // from the oldest: without an offset ComfyUI would answer its newest max_items
  local.set("offset", "0");
  if (maxItems === undefined) local.delete("max_items");
  else local.set("max_items", String(offset + maxItems));
  return local;
}

// the newest timestamp of its status messages (execution_success or _error), else when it was created
function _finishedAt(entry: unknown): number {
  const messages = (entry as { status?: { messages?: unknown[] } })?.status?.messages ?? [];
  const times = messages.map((message) =>
    Array.isArray(message) ? (message[1] as { timestamp?: unknown })?.timestamp : 0,
  );
  const finished = Math.max(0, ...times.filter((t): t is number => typeof t === "number"));
  if (finished > 0) return finished;
  const extra = (entry as { prompt?: unknown[] })?.prompt?.[3] as { create_time?: unknown } | undefined;
  return typeof extra?.create_time === "number" ? extra.create_time : 0;
}

function _int(value: string | null): number | undefined {
  if (value === null || value === "") return undefined;
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : undefined;
}
