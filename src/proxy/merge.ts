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
  const entries: [string, unknown, number][] = Object.entries(local).map(([id, entry]) => [id, entry, _time(entry)]);
  for (const [id, finished] of queue.history) entries.push([id, finished.entry, finished.item.createdAt]);
  // insertion order is finishing order in ComfyUI; interleave both sides by when each prompt was created
  entries.sort((a, b) => a[2] - b[2]);
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

function _time(entry: unknown): number {
  const extra = (entry as { prompt?: unknown[] })?.prompt?.[3] as { create_time?: unknown } | undefined;
  return typeof extra?.create_time === "number" ? extra.create_time : 0;
}

function _int(value: string | null): number | undefined {
  if (value === null || value === "") return undefined;
  const n = Number.parseInt(value, 10);
  return Number.isFinite(n) ? n : undefined;
}
