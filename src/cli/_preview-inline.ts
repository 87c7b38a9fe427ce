import type { JobPreview } from "../jobs/previews.ts";
import { type ImageProtocol, terminalImage } from "./_term-image.ts";
import { kittyDelete } from "./_term-image-kitty.ts";

export type TerminalStream = Pick<NodeJS.WriteStream, "write"> & { isTTY?: boolean; columns?: number; rows?: number };
type Write = NodeJS.WriteStream["write"];

/** A terminal's size when it does not say (a pseudo-terminal may report 0). */
const DEFAULT_SIZE = { columns: 80, rows: 24 };

/**
 * Draws the newest preview in a box of text rows right above the progress line, redrawn in place while
 * nothing else was printed since; once a log line or note went out, the next preview opens a new box below
 * it (the old image stays in the scrollback). Every write goes through the stream's `write` as it is when
 * this starts (the progress renderer's), so the live line is wiped and redrawn around the image.
 */
export class InlinePreview {
  readonly #stream: TerminalStream;
  readonly #protocol: ImageProtocol;
  readonly #below: Write;
  readonly #mine: Write;
  // the box is right above the cursor's line, nothing printed since it was drawn
  #anchored = false;
  #rows = 0;
  #id = 0;

  constructor(stream: TerminalStream, protocol: ImageProtocol) {
    this.#stream = stream;
    this.#protocol = protocol;
    this.#below = stream.write;
    // anyone else's write (a log line) lands between the box and the live line
    this.#mine = ((...args: unknown[]) => {
      this.#anchored = false;
      return (this.#below as (...a: unknown[]) => boolean).apply(stream, args);
    }) as Write;
    stream.write = this.#mine;
  }

  /** A line was printed above the live line some other way (a note): the box has moved up. */
  moved(): void {
    this.#anchored = false;
  }

  draw(preview: JobPreview): void {
    const rows = boxRows(this.#stream.rows || DEFAULT_SIZE.rows);
    if (rows === 0) return;
    const fresh = !this.#anchored || rows !== this.#rows;
    const id = fresh ? this.#id + 1 : this.#id;
    const columns = this.#stream.columns || DEFAULT_SIZE.columns;
    const image = terminalImage(preview, this.#protocol, { rows, columns, id });
    if (!image) return;
    // a new box: scroll `rows` empty lines into view first, so drawing the image never scrolls the screen
    const reserve = fresh ? `${"\n".repeat(rows)}\r` : this.#protocol === "kitty" ? kittyDelete(id) : "";
    // save the cursor on the live line, draw from the box's top-left, come back
    (this.#below as (chunk: string) => boolean).call(this.#stream, `${reserve}\x1b7\x1b[${rows}A\r${image}\x1b8`);
    this.#id = id;
    this.#rows = rows;
    this.#anchored = true;
  }

  /** Gives the stream's `write` back. */
  done(): void {
    if (this.#stream.write === this.#mine) this.#stream.write = this.#below;
  }
}

/** Rows of the preview box: 40% of the terminal, 4 to 20, leaving room for the live line and one more. */
export function boxRows(terminalRows: number): number {
  const rows = Math.min(20, Math.max(4, Math.floor(terminalRows * 0.4)), terminalRows - 2);
  return rows >= 4 ? rows : 0;
}
