// Deterministic file contents for the fake weight host: any size, no memory, every offset checkable.

const PATTERN_BYTES = 65_521; // prime, so a shifted offset never lines up with the pattern again

/** The generated content of a seed at `[offset, offset + length)`. */
export function contentAt(seed: number, offset: number, length: number): Uint8Array {
  const pattern = _pattern(seed);
  const out = new Uint8Array(length);
  let filled = 0;
  while (filled < length) {
    const from = (offset + filled) % PATTERN_BYTES;
    const take = Math.min(length - filled, PATTERN_BYTES - from);
    out.set(pattern.subarray(from, from + take), filled);
    filled += take;
  }
  return out;
}

/** sha256 of the generated content of `size` bytes. */
export function contentSha256(seed: number, size: number): string {
  const hasher = new Bun.CryptoHasher("sha256");
  for (let offset = 0; offset < size; offset += 1 << 20)
    hasher.update(contentAt(seed, offset, Math.min(1 << 20, size - offset)));
  return hasher.digest("hex");
}

const patterns = new Map<number, Uint8Array>();
function _pattern(seed: number): Uint8Array {
  let pattern = patterns.get(seed);
  if (pattern) return pattern;
  pattern = new Uint8Array(PATTERN_BYTES);
  let x = seed * 2_654_435_761 + 1;
  for (let i = 0; i < PATTERN_BYTES; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    pattern[i] = x & 0xff;
  }
  patterns.set(seed, pattern);
  return pattern;
}
