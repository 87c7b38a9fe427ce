// biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI colour codes are what we strip
const ANSI_RE = /\u001b\[[0-9;]*m/g;
// newer releases' app/logger.py prints "[INFO] " / "[WARNING] " (coloured) before each line; a timestamping
// wrapper may put "[2025-01-01 12:00:00.123]" there instead
const PREFIX_RE = /^(?:\[(?:DEBUG|INFO|WARNING|ERROR|CRITICAL)\] |\[\d{4}-\d\d-\d\d[^\]]*\]\s*)/;

/** One line of ComfyUI's output as its logging call wrote the message: colours and level prefix removed. */
export function plainComfyLine(raw: string): string {
  return raw.replace(ANSI_RE, "").replace(PREFIX_RE, "").trimEnd();
}
