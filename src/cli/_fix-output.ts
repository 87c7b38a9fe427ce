import type { FixReport, FixWeight } from "../fix/fix.ts";
import type { Candidate } from "../fix/sources/types.ts";
import { formatBytes } from "../lib/bytes.ts";

const MARK: Record<FixWeight["status"], string> = {
  downloaded: "downloaded",
  would_download: "would download",
  not_downloaded: "not downloaded",
  needs_confirmation: "NEEDS A CHOICE",
  needs_token: "NEEDS HF_TOKEN",
  not_found: "NOT FOUND",
  failed: "FAILED",
};

/** One candidate: source, confidence, where, size. */
export function formatCandidate(candidate: Candidate): string {
  const size = candidate.size !== undefined ? `, ${formatBytes(candidate.size)}` : "";
  const ref = candidate.ref ? ` (${candidate.ref})` : "";
  const name = candidate.confidence === "close" ? ` as ${candidate.name}` : "";
  return `[${candidate.source}, ${candidate.confidence}${size}]${ref}${name} ${candidate.url}`;
}

/** One weight as it resolved: a line, its chosen source or its candidates, and why when not fetched. */
export function formatFixWeight(weight: FixWeight): string {
  const lines = [`${MARK[weight.status]}  ${weight.folder}/${weight.name}`];
  if (weight.chosen) lines.push(`    from ${formatCandidate(weight.chosen)}`);
  else for (const candidate of weight.candidates) lines.push(`    candidate ${formatCandidate(candidate)}`);
  if (weight.path) lines.push(`    → ${weight.path}`);
  if (weight.reason) lines.push(`    ${weight.reason}`);
  return lines.join("\n");
}

/** The readable report: weights, node packs (custom-nodes.txt lines and install commands), the summary. */
export function formatFixReport(report: FixReport): string {
  const out: string[] = [];
  out.push(
    `${report.workflows.length} workflow(s) scanned${report.skipped_files.length ? `, ${report.skipped_files.length} file(s) skipped (not workflows)` : ""}`,
  );
  if (report.weights.length > 0) out.push("", ...report.weights.map(formatFixWeight));
  if (report.nodes.length > 0) {
    out.push("", "Missing node types → node packs:");
    for (const pack of report.nodes)
      out.push(
        `  ${pack.node_types.join(", ")}: ${pack.repo ?? pack.cnr_id ?? "unknown pack"}${pack.note ? ` (${pack.note})` : ""}`,
      );
    const lines = report.nodes.flatMap((pack) => (pack.line ? [pack.line] : []));
    if (lines.length) out.push("", "Add to docker/custom-nodes.txt:", ...lines.map((l) => `  ${l}`));
    const installs = report.nodes.flatMap((pack) => (pack.install ? [pack.install] : []));
    if (installs.length) out.push("", "Or install locally:", ...installs.map((l) => `  ${l}`));
  }
  const s = report.summary;
  out.push(
    "",
    `${s.missing} missing: ${s.found} found, ${s.downloaded} downloaded, ${s.not_found} not found, ${s.failed} failed, ${s.needs_confirmation} need a choice${report.dry_run ? " (dry run: nothing downloaded)" : ""}`,
  );
  return `${out.join("\n")}\n`;
}
