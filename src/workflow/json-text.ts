import { WorkerError } from "../errors.ts";

const WHITESPACE = new Set([" ", "\t", "\n", "\r"]);
const LITERALS = ["true", "false", "null"];
const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES = new Set(['"', "\\", "/", "b", "f", "n", "r", "t"]);
const HEX4_RE = /^[0-9a-fA-F]{4}$/;
const MAX_DEPTH = 1000;

/**
 * JSON.parse with an error that says where: `file: invalid JSON at line 3, column 9: expected "," or "}"`.
 * JavaScriptCore's own message carries no position, so a failed parse is re-scanned to find it.
 */
export function parseJsonText(text: string, file: string): unknown {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  try {
    return JSON.parse(body);
  } catch (error) {
    const found = _locate(body);
    const where = found ? ` at line ${found.line}, column ${found.column}: ${found.problem}` : "";
    throw new WorkerError("E_INPUT", `${file}: invalid JSON${where}`, { cause: error });
  }
}

/** Line and column (1-based) of a character offset. */
export function lineColumn(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  return { line, column: offset - before.lastIndexOf("\n") };
}

// --- internal ---

class _Stop {
  constructor(
    readonly offset: number,
    readonly problem: string,
  ) {}
}

// a strict JSON scanner that only finds the first error; the values themselves come from JSON.parse
class _Scanner {
  i = 0;
  constructor(readonly text: string) {}

  fail(problem: string): never {
    throw new _Stop(this.i, this.i >= this.text.length ? `${problem}, but the text ends` : problem);
  }

  skip(): void {
    while (this.i < this.text.length && WHITESPACE.has(this.text[this.i] ?? "")) this.i++;
  }

  value(depth: number): void {
    this.skip();
    const c = this.text[this.i];
    if (c === "{") this.list("}", () => this.member(depth), depth + 1);
    else if (c === "[") this.list("]", () => this.value(depth + 1), depth + 1);
    else if (c === '"') this.quoted();
    else this.scalar();
  }

  scalar(): void {
    const literal = LITERALS.find((word) => this.text.startsWith(word, this.i));
    NUMBER_RE.lastIndex = this.i;
    if (literal) this.i += literal.length;
    else if (NUMBER_RE.test(this.text)) this.i = NUMBER_RE.lastIndex;
    else this.fail("expected a value (object, array, string, number, true, false or null)");
  }

  quoted(): void {
    const { text } = this;
    this.i++;
    while (this.i < text.length && text[this.i] !== '"') {
      if (text.charCodeAt(this.i) < 0x20) this.fail("unescaped control character inside a string");
      if (text[this.i] !== "\\") {
        this.i++;
        continue;
      }
      const esc = text[this.i + 1] ?? "";
      const ok = esc === "u" ? HEX4_RE.test(text.slice(this.i + 2, this.i + 6)) : ESCAPES.has(esc);
      if (!ok) this.fail("invalid escape sequence in a string");
      this.i += esc === "u" ? 6 : 2;
    }
    if (this.i >= text.length) this.fail('expected a closing quote (")');
    this.i++;
  }

  list(close: string, item: () => void, depth: number): void {
    if (depth > MAX_DEPTH) this.fail("nesting too deep");
    this.i++;
    this.skip();
    if (this.text[this.i] === close) {
      this.i++;
      return;
    }
    for (;;) {
      item();
      this.skip();
      const c = this.text[this.i];
      if (c !== close && c !== ",") this.fail(`expected "," or "${close}"`);
      this.i++;
      if (c === close) return;
    }
  }

  member(depth: number): void {
    this.skip();
    if (this.text[this.i] !== '"') this.fail("expected a quoted property name");
    this.quoted();
    this.skip();
    if (this.text[this.i] !== ":") this.fail('expected ":"');
    this.i++;
    this.value(depth + 1);
  }
}

function _locate(text: string): { line: number; column: number; problem: string } | undefined {
  const scanner = new _Scanner(text);
  try {
    scanner.value(0);
    scanner.skip();
    if (scanner.i < text.length) scanner.fail("expected the end of the text");
    return undefined;
  } catch (stop) {
    if (!(stop instanceof _Stop)) throw stop;
    return { ...lineColumn(text, stop.offset), problem: stop.problem };
  }
}
