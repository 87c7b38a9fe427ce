import { formatBytes } from "../lib/bytes.ts";
import type { CheckReport, WorkflowReport } from "../weights/check.ts";
import type { WeightReport } from "../weights/locate.ts";

const MARK: Record<WeightReport["status"], string> = {
  present: "ok",
  missing: "MISSING",
  corrupt: "CORRUPT",
  size_mismatch: "BAD SIZE",
  hash_mismatch: "BAD HASH",
};

/** The human-readable `check` report: one table of weights per workflow, then inputs and unknown nodes. */
export function formatCheckReport(report: CheckReport): string {
  const parts = report.workflows.map(_workflow);
  const bad = report.workflows.flatMap((w) => w.weights.filter((x) => x.status !== "present"));
  parts.push(report.ok ? "All weights present." : `${bad.length} weight(s) missing or invalid; exit status 3.`);
  return `${parts.join("\n\n")}\n`;
}

function _workflow(report: WorkflowReport): string {
  const lines = [`${report.file} (${report.format} format)`];
  if (report.weights.length === 0) lines.push("  no model files needed");
  const rows = report.weights.map((w) => [
    MARK[w.status],
    w.folder,
    w.name,
    w.size === undefined ? "" : formatBytes(w.size),
  ]);
  const widths = [0, 1, 2].map((i) => Math.max(0, ...rows.map((row) => (row[i] ?? "").length)));
  report.weights.forEach((weight, i) => {
    const row = rows[i] ?? [];
    const cells = row.slice(0, 3).map((cell, c) => cell.padEnd(widths[c] ?? 0));
    lines.push(`  ${cells.join("  ")}  ${(row[3] ?? "").padStart(9)}  ${weight.path ?? ""}`.trimEnd());
    lines.push(..._details(weight));
  });
  for (const input of report.inputs) {
    const where =
      input.status === "url" ? "(a URL: ComfyUI can't load it; send the file with the job)" : (input.path ?? "");
    lines.push(`  input ${input.status === "present" ? "ok" : input.status}  ${input.name}  ${where}`.trimEnd());
  }
  for (const node of report.unknown_nodes) {
    lines.push(`  unknown node type ${node.class_type}${node.pack ? ` (install node pack ${node.pack})` : ""}`);
  }
  for (const warning of report.warnings ?? []) lines.push(`  note: ${warning}`);
  return lines.join("\n");
}

function _details(weight: WeightReport): string[] {
  const out: string[] = [];
  if (weight.reason) out.push(`      ${weight.reason}`);
  if (weight.searched?.length) out.push(`      searched: ${weight.searched.join(", ")}`);
  for (const candidate of weight.candidates ?? []) {
    out.push(
      `      did you mean ${candidate.folder}/${candidate.name}? (${candidate.reason.replace("_", " ")}: ${candidate.path})`,
    );
  }
  if (weight.source && weight.status !== "present") {
    out.push(`      source: ${weight.source.url}${weight.source.sha256 ? ` (sha256 ${weight.source.sha256})` : ""}`);
  }
  return out;
}
