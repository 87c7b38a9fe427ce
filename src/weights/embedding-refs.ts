/**
 * `embedding:name` references read the way ComfyUI's CLIP tokenizer reads them (comfy/sd1_clip.py,
 * SDTokenizer.tokenize_with_weights): weights in parentheses are split off first (token_weights), then each
 * segment is split at "embedding:" preceded by whitespace (or at its very start), the name ends at the first
 * whitespace (newlines count as spaces: str.split()) or at "<" / "[", and a name ending or starting with commas
 * is tried as written first, then without them (_try_get_embedding).
 */

/** One reference: the name to look for, and how it was written when ComfyUI tries that spelling first. */
export interface EmbeddingRef {
  /** Without leading/trailing commas: what ComfyUI loads when no file is named with the commas. */
  name: string;
  /** As written ("bad-hands-5,"), present only when it differs from `name`: ComfyUI tries this file first. */
  written?: string;
}

const IDENTIFIER = "embedding:";
const SPLIT_RE = /(?<=\s)embedding:/;
const CUT_RE = /[<[]/;
const FLOAT_RE =
  /^\s*[+-]?(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d+)?\s*$|^\s*[+-]?(?:inf(?:inity)?|nan)\s*$/i;

/** Every embedding reference in a prompt, in order, each name once. */
export function embeddingRefs(text: string): EmbeddingRef[] {
  const out = new Map<string, EmbeddingRef>();
  // escape_important: \( and \) are literal brackets, not weights
  const escaped = text.replaceAll("\\)", "\u0000\u0001").replaceAll("\\(", "\u0000\u0002");
  for (const segment of tokenWeights(escaped)) {
    const plain = segment.replaceAll("\u0000\u0001", ")").replaceAll("\u0000\u0002", "(");
    const [first = "", ...rest] = plain.split(SPLIT_RE);
    for (const word of [first, ...rest.map((part) => IDENTIFIER + part)]) {
      if (!word.startsWith(IDENTIFIER)) continue;
      const ref = _ref(word.slice(IDENTIFIER.length));
      if (ref && !out.has(ref.written ?? ref.name)) out.set(ref.written ?? ref.name, ref);
    }
  }
  return [...out.values()];
}

/** sd1_clip.token_weights without the weights: the text segments, parentheses and ":weight" removed. */
export function tokenWeights(text: string): string[] {
  const out: string[] = [];
  for (let item of _parseParentheses(text)) {
    if (item.length >= 2 && item.startsWith("(") && item.endsWith(")")) {
      item = item.slice(1, -1);
      const colon = item.lastIndexOf(":");
      if (colon > 0 && FLOAT_RE.test(item.slice(colon + 1))) item = item.slice(0, colon);
      out.push(...tokenWeights(item));
    } else out.push(item);
  }
  return out;
}

function _parseParentheses(text: string): string[] {
  const result: string[] = [];
  let current = "";
  let nesting = 0;
  for (const char of text) {
    if (char === "(") {
      if (nesting === 0) {
        if (current) result.push(current);
        current = "(";
      } else current += char;
      nesting += 1;
    } else if (char === ")") {
      nesting -= 1;
      if (nesting === 0) {
        result.push(`${current})`);
        current = "";
      } else current += char;
    } else current += char;
  }
  if (current) result.push(current);
  return result;
}

function _ref(rest: string): EmbeddingRef | undefined {
  // word[len(identifier):].strip('\n'), then .split(): the first whitespace-separated piece is the name
  let written =
    rest
      .replace(/^\n+|\n+$/g, "")
      .trim()
      .split(/\s+/)[0] ?? "";
  const cut = CUT_RE.exec(written);
  if (cut) written = written.slice(0, cut.index);
  const name = written.replace(/^,+|,+$/g, "");
  if (!name) return undefined;
  return name === written ? { name } : { name, written };
}
