// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are what we strip
const ANSI_RE = /\u001b\[[0-9;]*m/g;
// newer releases' app/logger.py prints "[INFO] " / "[WARNING] " (coloured) before each line; a timestamping
// wrapper may put "[2025-01-01 12:00:00.123]" there instead
const PREFIX_RE = /^(?:\[(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\] |\[\d{4}-\d\d-\d\d[^\]]*\]\s*)/;

const LEVEL_RE = /^\[(DEBUG|INFO|WARNING|ERROR|CRITICAL)\] /;

/** One line of ComfyUI's output as its logging call wrote the message: colours and level prefix removed. */
export function plainComfyLine(raw: string): string {
  return raw.replace(ANSI_RE, "").replace(PREFIX_RE, "").trimEnd();
}

/**
 * A line without its colour codes: app/logger.py colours its level tag even when writing to a pipe
 * (seen from a real 0.28.2: `ESC[1mESC[33m[WARNING]ESC[0m …`), and such codes have no place in JSON logs or /logs.
 */
export function uncolouredComfyLine(raw: string): string {
  return raw.replace(ANSI_RE, "");
}

/** The level of a line's `[LEVEL] ` tag (newer releases print one); undefined for untagged lines. */
export function comfyLineLevel(raw: string): "debug" | "info" | "warn" | "error" | undefined {
  const tag = LEVEL_RE.exec(raw.replace(ANSI_RE, ""))?.[1];
  if (tag === undefined) return undefined;
  if (tag === "WARNING") return "warn";
  if (tag === "ERROR" || tag === "CRITICAL") return "error";
  return tag === "DEBUG" ? "debug" : "info";
}
