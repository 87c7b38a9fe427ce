import type { Manifest } from "../kits/manifest.ts";
import { formatBytes } from "../lib/bytes.ts";

/** Total bytes of a kit's files and whether every file's size is known. */
export function kitSize(kit: Manifest): { bytes: number; complete: boolean } {
  const bytes = kit.files.reduce((sum, file) => sum + (file.size ?? 0), 0);
  return { bytes, complete: kit.files.every((file) => file.size !== undefined) };
}

/** The `kits` listing: one row per kit with file count, total size and a gated marker. */
export function formatKitList(kits: Manifest[]): string {
  const rows = kits.map((kit) => [
    kit.name,
    String(kit.files.length),
    _total(kit),
    kit.files.some((file) => file.gated) ? "gated" : "",
    kit.description,
  ]);
  const lines = _table(["KIT", "FILES", "SIZE", "", "DESCRIPTION"], rows, [false, true, true, false, false]);
  lines.push(
    "",
    "Show one kit's files with `comfy-worker kits NAME`; download them with `comfy-worker pull --kit NAME`.",
  );
  if (kits.some((kit) => kit.files.some((file) => file.gated))) {
    lines.push("Gated kits need HF_TOKEN from an account that accepted the model's licence.");
  }
  return `${lines.join("\n")}\n`;
}

/** One kit: a header, then one row per file (folder, name, size, sha256 known?, gated, url). */
export function formatKit(kit: Manifest): string {
  const lines = [`${kit.name}: ${kit.description}`];
  if (kit.homepage) lines.push(`homepage: ${kit.homepage}`);
  if (kit.license) lines.push(`license:  ${kit.license}`);
  lines.push("");
  const rows = kit.files.map((file) => [
    file.folder,
    file.name,
    file.size === undefined ? "?" : formatBytes(file.size),
    file.sha256 ? "yes" : "no",
    file.gated ? "gated" : "",
    file.url,
  ]);
  lines.push(
    ..._table(["FOLDER", "NAME", "SIZE", "SHA256", "", "URL"], rows, [false, false, true, false, false, false]),
  );
  lines.push("", `total ${_total(kit)} in ${kit.files.length} file(s)`);
  const gated = kit.files.filter((file) => file.gated).length;
  if (gated > 0) {
    lines.push(
      `${gated} gated file(s): accept the licence at ${kit.homepage ?? "the model's page"} and set HF_TOKEN before pulling`,
    );
  }
  return `${lines.join("\n")}\n`;
}

// --- internal ---

function _total(kit: Manifest): string {
  const { bytes, complete } = kitSize(kit);
  if (complete) return formatBytes(bytes);
  return bytes > 0 ? `≥ ${formatBytes(bytes)}` : "?";
}

function _table(header: string[], rows: string[][], rightAligned: boolean[]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((row) => (row[c] ?? "").length)));
  return all.map((row) =>
    row
      .map((cell, c) => (rightAligned[c] ? cell.padStart(widths[c] ?? 0) : cell.padEnd(widths[c] ?? 0)))
      .join("  ")
      .trimEnd(),
  );
}
