/** A fixed-capacity FIFO that keeps only the newest `capacity` items (oldest dropped first). */
export class RingBuffer<T> {
  readonly capacity: number;
  readonly #items: (T | undefined)[];
  #next = 0;
  #size = 0;

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be ≥ 1, got ${capacity}`);
    this.capacity = capacity;
    this.#items = new Array<T | undefined>(capacity);
  }

  /** Number of items held, at most `capacity`. */
  get size(): number {
    return this.#size;
  }

  /** Appends an item, evicting the oldest when full. */
  push(item: T): void {
    this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
    this.#size = Math.min(this.#size + 1, this.capacity);
  }

  /** The newest `count` items (all by default), oldest first. */
  last(count = this.#size): T[] {
    const n = Math.max(0, Math.min(Math.floor(count), this.#size));
    const out: T[] = [];
    for (let i = n; i > 0; i--) out.push(this.#items[(this.#next - i + this.capacity) % this.capacity] as T);
    return out;
  }

  /** Drops every item. */
  clear(): void {
    this.#items.fill(undefined);
    this.#next = 0;
    this.#size = 0;
  }
}
