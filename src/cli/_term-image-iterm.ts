/**
 * iTerm2's inline image escape (also read by WezTerm): `ESC ] 1337 ; File=inline=1;size=N;… : base64 BEL`.
 * The terminal decodes the file itself (JPEG and PNG alike); `height` in text rows, the width following
 * from the aspect ratio.
 */
export function itermImage(file: Uint8Array, rows: number): string {
  const args = [
    "inline=1",
    `size=${file.length}`,
    "width=auto",
    `height=${Math.max(1, Math.round(rows))}`,
    "preserveAspectRatio=1",
  ];
  return `\x1b]1337;File=${args.join(";")}:${Buffer.from(file).toString("base64")}\x07`;
}
