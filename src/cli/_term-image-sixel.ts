import type { Pixels } from "../previews/png-decode.ts";

// a fixed 6×6×6 colour cube: no per-frame palette search, and 216 registers fit every sixel terminal's 256
const LEVELS = 6;
const EMPTY = "?";

/**
 * RGBA pixels as a DEC sixel image: `ESC P q`, raster attributes (1:1 aspect, width, height), the palette
 * registers the image uses (`#n;2;r;g;b`, in percent), then one band per 6 pixel rows: for each colour in
 * the band, a run of sixel characters (63 + the 6-bit column mask, `!n` for repeats), colours separated by
 * `$` (back to the band's start), bands by `-`; `ESC \` ends it. Alpha is ignored (previews are opaque).
 */
export function sixelImage(pixels: Pixels): string {
  const { width, height } = pixels;
  const colors = _quantize(pixels);
  const used = [...new Set(colors)].sort((a, b) => a - b);
  const parts = [`\x1bPq"1;1;${width};${height}`, ...used.map(_register)];
  const bands: string[] = [];
  for (let top = 0; top < height; top += 6) bands.push(_band(colors, width, height, top));
  parts.push(bands.join("-"), "\x1b\\");
  return parts.join("");
}

/** The palette register of each pixel. */
function _quantize(pixels: Pixels): Uint8Array {
  const out = new Uint8Array(pixels.width * pixels.height);
  const level = (v: number | undefined) => Math.round(((v ?? 0) * (LEVELS - 1)) / 255);
  for (let i = 0; i < out.length; i++) {
    const p = i * 4;
    out[i] = level(pixels.data[p]) * LEVELS * LEVELS + level(pixels.data[p + 1]) * LEVELS + level(pixels.data[p + 2]);
  }
  return out;
}

function _register(color: number): string {
  const percent = (level: number) => Math.round((level * 100) / (LEVELS - 1));
  const r = Math.floor(color / (LEVELS * LEVELS));
  const g = Math.floor(color / LEVELS) % LEVELS;
  const b = color % LEVELS;
  return `#${color};2;${percent(r)};${percent(g)};${percent(b)}`;
}

// one band of 6 rows: a run per colour present in it
function _band(colors: Uint8Array, width: number, height: number, top: number): string {
  const rows = Math.min(6, height - top);
  const masks = new Map<number, Uint8Array>();
  for (let dy = 0; dy < rows; dy++) {
    for (let x = 0; x < width; x++) {
      const color = colors[(top + dy) * width + x] ?? 0;
      const mask = masks.get(color) ?? new Uint8Array(width);
      masks.set(color, mask);
      mask[x] = (mask[x] ?? 0) | (1 << dy);
    }
  }
  return [...masks].map(([color, mask]) => `#${color}${_runs(mask)}`).join("$");
}

// sixel characters with repeats as `!n`; trailing empty columns are left out (nothing to draw there)
function _runs(mask: Uint8Array): string {
  let end = mask.length;
  while (end > 0 && mask[end - 1] === 0) end--;
  let out = "";
  for (let x = 0; x < end; ) {
    const value = mask[x] ?? 0;
    let n = 1;
    while (x + n < end && mask[x + n] === value) n++;
    const char = String.fromCharCode(63 + value);
    out += n > 3 ? `!${n}${char}` : char.repeat(n);
    x += n;
  }
  return out || EMPTY;
}
