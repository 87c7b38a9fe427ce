/**
 * One sequence of queue numbers for the prompts the proxy queues on the endpoint and those ComfyUI queues locally.
 * The frontend sorts its queue by `prompt[0]` and only shows a finished prompt whose number is above the last it
 * showed: with two counters a remote result was hidden behind local ones. Numbers continue past ComfyUI's highest,
 * and a local prompt is sent to ComfyUI with its number (POST /prompt takes one), so neither side repeats one.
 */
export class QueueNumbers {
  #next: number | undefined;
  #seeding: Promise<void> | undefined;

  constructor(private readonly comfyUrl: string) {}

  /** The next number; negative for `front` (ComfyUI's own form for "run this first"). */
  async take(front: boolean): Promise<number> {
    await this.#seed();
    const number = this.#next ?? 0;
    this.#next = number + 1;
    return front ? -number : number;
  }

  /** A number a client chose: later ones come after it. */
  saw(number: number): void {
    if (!Number.isFinite(number)) return;
    this.#next = Math.max(this.#next ?? 0, Math.floor(Math.abs(number)) + 1);
  }

  // once, from ComfyUI's queue and newest history entry; a ComfyUI that cannot be asked starts the count at 0
  #seed(): Promise<void> {
    this.#seeding ??= Promise.all([
      _numbers(`${this.comfyUrl}/queue`, (body) => [
        ...((body as { queue_running?: unknown[][] }).queue_running ?? []),
        ...((body as { queue_pending?: unknown[][] }).queue_pending ?? []),
      ]),
      _numbers(`${this.comfyUrl}/history?max_items=1`, (body) =>
        Object.values(body as Record<string, { prompt?: unknown[] }>).map((entry) => entry.prompt ?? []),
      ),
    ]).then((lists) => {
      for (const number of lists.flat()) this.saw(number);
    });
    return this.#seeding;
  }
}

async function _numbers(url: string, items: (body: unknown) => unknown[][]): Promise<number[]> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(SEED_TIMEOUT_MS) });
    const body: unknown = res.ok ? await res.json() : {};
    return items(body ?? {})
      .map((item) => (Array.isArray(item) ? item[0] : undefined))
      .filter((n): n is number => typeof n === "number");
  } catch {
    return [];
  }
}

const SEED_TIMEOUT_MS = 5_000;
