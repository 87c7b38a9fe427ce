import type { StdStream } from "../lib/stdio.ts";

const REDRAW_INTERVAL_MS = 200;

/**
 * Progress bars kept at the bottom of a terminal: permanent lines print above them and the bars are drawn
 * again in place, at most every 200 ms unless a permanent line comes or `force` is set. Returns `redraw`.
 */
export function barArea(
  stream: Pick<StdStream, "write">,
): (bars: string[], permanent?: string[], force?: boolean) => void {
  let drawn = 0;
  let last = 0;
  return (bars, permanent = [], force = false) => {
    const now = performance.now();
    if (!force && permanent.length === 0 && now - last < REDRAW_INTERVAL_MS) return;
    last = now;
    // back to the first bar line, clear to the end of the screen, then print everything again
    const up = drawn > 0 ? `\x1b[${drawn}F\x1b[J` : "";
    stream.write(up + [...permanent, ...bars].map((line) => `${line}\n`).join(""));
    drawn = bars.length;
  };
}
