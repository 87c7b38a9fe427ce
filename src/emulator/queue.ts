import type { Prompt } from "./graph.ts";
import { MAX_HISTORY_ITEMS } from "./options.ts";

/** One queued prompt: ComfyUI's `(number, prompt_id, prompt, extra_data, outputs_to_execute, sensitive)`. */
export interface QueueItem {
  number: number;
  promptId: string;
  prompt: Prompt;
  extraData: Record<string, unknown>;
  outputs: string[];
  sensitive: Record<string, unknown>;
  /** 1 for the first prompt this process accepted; the exit/hang knobs count with it. */
  ordinal: number;
}

/** The 5-tuple /queue and /history show (the sensitive slot is never exposed). */
export function queueTuple(item: QueueItem): unknown[] {
  return [item.number, item.promptId, item.prompt, item.extraData, item.outputs];
}

/** ComfyUI's PromptQueue: lowest number first, one running item, `onChange` on every put/get/done/delete. */
export interface PromptQueue {
  put(item: QueueItem): void;
  /** Resolves with the next item (now running), or undefined once the queue is closed. */
  take(): Promise<QueueItem | undefined>;
  done(): void;
  running(): QueueItem | undefined;
  pending(): QueueItem[];
  remaining(): number;
  delete(promptId: string): boolean;
  wipe(): void;
  close(): void;
}

/** A PromptQueue calling `onChange` whenever what /queue reports changes. */
export function createPromptQueue(onChange: () => void): PromptQueue {
  const items: QueueItem[] = [];
  let current: QueueItem | undefined;
  let waiter: ((item: QueueItem | undefined) => void) | undefined;
  let closed = false;
  const next = () => {
    // stable: equal numbers keep arrival order
    let best = 0;
    for (let i = 1; i < items.length; i++) if ((items[i]?.number ?? 0) < (items[best]?.number ?? 0)) best = i;
    current = items.splice(best, 1)[0];
    onChange();
    return current;
  };
  return {
    put(item) {
      items.push(item);
      onChange();
      if (waiter && !current) {
        const resolve = waiter;
        waiter = undefined;
        resolve(next());
      }
    },
    take: () => {
      if (closed) return Promise.resolve(undefined);
      if (items.length > 0) return Promise.resolve(next());
      return new Promise((resolve) => {
        waiter = resolve;
      });
    },
    done() {
      current = undefined;
      onChange();
    },
    running: () => current,
    pending: () => [...items],
    remaining: () => items.length + (current ? 1 : 0),
    delete(promptId) {
      const index = items.findIndex((item) => item.promptId === promptId);
      if (index < 0) return false;
      items.splice(index, 1);
      onChange();
      return true;
    },
    wipe() {
      items.length = 0;
      onChange();
    },
    close() {
      closed = true;
      waiter?.(undefined);
      waiter = undefined;
    },
  };
}

/** A finished prompt as /history reports it. */
export interface HistoryEntry {
  prompt: unknown[];
  outputs: Record<string, unknown>;
  status: { status_str: "success" | "error"; completed: boolean; messages: [string, Record<string, unknown>][] };
  meta: Record<string, unknown>;
}

/** ComfyUI's history: insertion-ordered, capped at MAXIMUM_HISTORY_SIZE. */
export interface History {
  put(promptId: string, entry: HistoryEntry): void;
  get(promptId: string): Record<string, HistoryEntry>;
  list(maxItems?: number, offset?: number): Record<string, HistoryEntry>;
  delete(promptId: string): void;
  clear(): void;
}

/** An empty History. */
export function createHistory(): History {
  const entries = new Map<string, HistoryEntry>();
  return {
    put(promptId, entry) {
      if (entries.size >= MAX_HISTORY_ITEMS) entries.delete(entries.keys().next().value ?? "");
      entries.set(promptId, entry);
    },
    get: (promptId) => {
      const entry = entries.get(promptId);
      return entry ? { [promptId]: structuredClone(entry) } : {};
    },
    list(maxItems, offset = -1) {
      // get_history: a negative offset with max_items means "the last N"
      const start = offset < 0 && maxItems !== undefined ? entries.size - maxItems : offset;
      const out: Record<string, HistoryEntry> = {};
      let i = 0;
      for (const [id, entry] of entries) {
        if (i++ < start) continue;
        out[id] = entry;
        if (maxItems !== undefined && Object.keys(out).length >= maxItems) break;
      }
      return out;
    },
    delete: (promptId) => void entries.delete(promptId),
    clear: () => entries.clear(),
  };
}
