/** One prompt queued for the endpoint: ComfyUI's queue tuple plus what the remote job needs. */
export interface RemotePrompt {
  number: number;
  promptId: string;
  prompt: Record<string, unknown>;
  /** extra_data as /queue and /history show it (client_id added, secrets removed). */
  extraData: Record<string, unknown>;
  outputs: string[];
  clientId: string | null;
  /** The job input sent to the endpoint (`workflow`, `images`, …). */
  input: Record<string, unknown>;
  createdAt: number;
  /** Aborted by /interrupt or /queue delete: the remote job is cancelled. */
  cancel: AbortController;
  jobId?: string;
  startedAt?: number;
}

/** A finished remote prompt as /history shows it. */
export interface HistoryEntry {
  prompt: unknown[];
  outputs: Record<string, Record<string, unknown>>;
  status: { status_str: "success" | "error"; completed: boolean; messages: [string, Record<string, unknown>][] };
  meta: Record<string, unknown>;
}

/** A finished remote prompt, with what /api/jobs needs besides the history entry. */
export interface FinishedPrompt {
  item: RemotePrompt;
  entry: HistoryEntry;
  outcome: "success" | "error" | "interrupted";
  endedAt: number;
  error?: Record<string, unknown>;
}

const MAX_HISTORY_ITEMS = 10_000;

/** The 5-tuple /queue and /history show: `[number, prompt_id, prompt, extra_data, outputs_to_execute]`. */
export function queueTuple(item: RemotePrompt): unknown[] {
  return [item.number, item.promptId, item.prompt, item.extraData, item.outputs];
}

/**
 * The proxy's queue of remote prompts, run one at a time like ComfyUI's own (the UI's progress and node
 * highlighting assume one running prompt); lowest number first; `onChange` on every change /queue shows.
 */
export class RemoteQueue {
  #items: RemotePrompt[] = [];
  #running: RemotePrompt | undefined;
  #waiter: ((item: RemotePrompt | undefined) => void) | undefined;
  #closed = false;
  readonly history = new Map<string, FinishedPrompt>();

  constructor(private readonly onChange: () => void) {}

  put(item: RemotePrompt): void {
    this.#items.push(item);
    this.onChange();
    if (this.#waiter && !this.#running) {
      const resolve = this.#waiter;
      this.#waiter = undefined;
      resolve(this.#next());
    }
  }

  /** The next prompt to run (now running), or undefined once closed. */
  take(): Promise<RemotePrompt | undefined> {
    if (this.#closed) return Promise.resolve(undefined);
    if (this.#items.length > 0) return Promise.resolve(this.#next());
    return new Promise((resolve) => {
      this.#waiter = resolve;
    });
  }

  done(finished: FinishedPrompt): void {
    if (this.history.size >= MAX_HISTORY_ITEMS) this.history.delete(this.history.keys().next().value ?? "");
    this.history.set(finished.item.promptId, finished);
    this.#running = undefined;
    this.onChange();
  }

  running(): RemotePrompt | undefined {
    return this.#running;
  }

  pending(): RemotePrompt[] {
    return [...this.#items];
  }

  remaining(): number {
    return this.#items.length + (this.#running ? 1 : 0);
  }

  has(promptId: string): boolean {
    return this.#running?.promptId === promptId || this.#items.some((item) => item.promptId === promptId);
  }

  /** Removes a pending prompt; true when it was one of ours. */
  delete(promptId: string): boolean {
    const index = this.#items.findIndex((item) => item.promptId === promptId);
    if (index < 0) return false;
    this.#items.splice(index, 1);
    this.onChange();
    return true;
  }

  wipe(): void {
    if (this.#items.length === 0) return;
    this.#items.length = 0;
    this.onChange();
  }

  close(): void {
    this.#closed = true;
    this.#waiter?.(undefined);
    this.#waiter = undefined;
  }

  #next(): RemotePrompt | undefined {
    let best = 0;
    // stable: equal numbers keep arrival order, as the heap's tuple order does in practice
    for (let i = 1; i < this.#items.length; i++)
      if ((this.#items[i]?.number ?? 0) < (this.#items[best]?.number ?? 0)) best = i;
    this.#running = this.#items.splice(best, 1)[0];
    this.onChange();
    return this.#running;
  }
}
