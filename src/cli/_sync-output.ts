import { formatBytes } from "../lib/bytes.ts";
import type { StdStream } from "../lib/stdio.ts";
import type { PlannedFile } from "../sync/plan.ts";
import type { SyncFileResult, SyncProgress, TargetReport } from "../sync/sync.ts";
import { barArea } from "./_bar-area.ts";

/** Where sync's progress goes: bars on a terminal, JSON-line events otherwise (as `pull` does). */
export interface SyncOutput {
  onPlan(volume: string, plan: PlannedFile[]): void;
  onProgress(progress: SyncProgress): void;
  onResult(result: SyncFileResult): void;
  done(): void;
}

const BAR_CELLS = 20;
const MARK: Record<SyncFileResult["outcome"], string> = {
  uploaded: "sent",
  unchanged: "unchanged",
  deleted: "deleted",
  failed: "FAILED",
  would_upload: "would send",
  would_delete: "would delete",
};

/** Counts of a plan, for the plan line and the `plan` event. */
export function planCounts(plan: PlannedFile[]) {
  const count = (action: PlannedFile["action"]) => plan.filter((f) => f.action === action).length;
  const sending = plan.filter((f) => f.action === "new" || f.action === "changed");
  return {
    new: count("new"),
    changed: count("changed"),
    unchanged: count("unchanged"),
    delete: count("delete"),
    to_send: sending.reduce((s, f) => s + f.size, 0),
  };
}

/** Progress on `stream` (stderr). */
export function createSyncOutput(stream: Pick<StdStream, "write">, tty: boolean): SyncOutput {
  if (!tty) {
    const write = (event: object) => stream.write(`${JSON.stringify(event)}\n`);
    return {
      onPlan: (volume, plan) => write({ event: "plan", volume, ...planCounts(plan) }),
      onProgress: (p) => write({ event: "upload", volume: p.volume, name: p.rel, bytes: p.bytes, total: p.total }),
      onResult: (result) => write({ event: "done", ...result }),
      done: () => {},
    };
  }
  const active = new Map<string, SyncProgress>();
  const area = barArea(stream);
  const redraw = (permanent: string[] = [], force = false) => area([...active.values()].map(_bar), permanent, force);
  return {
    onPlan: (volume, plan) => redraw([formatPlanLine(volume, plan)], true),
    onProgress: (p) => {
      active.set(`${p.volume}/${p.rel}`, p);
      redraw();
    },
    onResult: (result) => {
      active.delete(`${result.volume}/${result.rel}`);
      if (result.outcome !== "unchanged") redraw([formatSyncResult(result)], true);
    },
    done: () => {
      active.clear();
      redraw([], true);
    },
  };
}

function _bar(p: SyncProgress): string {
  const share = p.total ? Math.min(1, p.bytes / p.total) : 1;
  const filled = Math.round(share * BAR_CELLS);
  return `  [${"#".repeat(filled)}${".".repeat(BAR_CELLS - filled)}] ${Math.round(share * 100)}%  ${p.rel}  ${formatBytes(p.bytes)} / ${formatBytes(p.total)}`;
}

/** `volume X: 2 new, 1 changed, 3 unchanged, 1 to delete; 1.2 GB to send`. */
export function formatPlanLine(volume: string, plan: PlannedFile[]): string {
  const c = planCounts(plan);
  const parts = [`${c.new} new`, `${c.changed} changed`, `${c.unchanged} unchanged`];
  if (c.delete > 0) parts.push(`${c.delete} to delete`);
  return `volume ${volume}: ${parts.join(", ")}; ${formatBytes(c.to_send)} to send`;
}

/** One finished file as a line. */
export function formatSyncResult(result: SyncFileResult): string {
  const why = result.reason
    ? `\n      ${result.reason}`
    : result.why && result.outcome !== "unchanged"
      ? `  (${result.why})`
      : "";
  const resumed = result.resumed_parts ? `  (resumed, ${result.resumed_parts} parts already there)` : "";
  return `${MARK[result.outcome]}  ${result.key}  ${formatBytes(result.size)}${resumed}${why}`;
}

/** The closing summary per volume; a dry run lists every planned action. */
export function formatSyncSummary(reports: TargetReport[], dryRun: boolean, seconds: number): string {
  const lines: string[] = [];
  for (const report of reports) {
    const count = (outcome: SyncFileResult["outcome"]) => report.files.filter((f) => f.outcome === outcome).length;
    lines.push(`${report.volume}${report.datacenter ? ` (${report.datacenter})` : ""}  ${report.url}`);
    if (report.error) {
      lines.push(`  FAILED: ${report.error}`);
      continue;
    }
    if (dryRun) {
      for (const file of report.files.filter((f) => f.outcome !== "unchanged"))
        lines.push(
          `  ${file.action === "delete" ? "delete " : file.action === "new" ? "new    " : "changed"}  ${file.rel}  ${formatBytes(file.size)}${file.why ? `  (${file.why})` : ""}`,
        );
      lines.push(
        `  ${count("would_upload")} to send (${formatBytes(report.to_send)}), ${count("unchanged")} unchanged, ${count("would_delete")} to delete`,
      );
      for (const file of report.files.filter((f) => f.outcome === "failed"))
        lines.push(`  FAILED ${file.rel}: ${file.reason}`);
    } else {
      lines.push(
        `  ${count("uploaded")} sent (${formatBytes(report.sent)}), ${count("unchanged")} unchanged, ${count("deleted")} deleted, ${report.failed} failed`,
      );
      for (const file of report.files.filter((f) => f.outcome === "failed"))
        lines.push(`  FAILED ${file.rel}: ${file.reason}`);
    }
  }
  lines.push(
    `${dryRun ? "planned" : "done"} in ${seconds} s${reports.some((r) => r.failed > 0) ? "; run sync again to resume what failed" : ""}`,
  );
  return `${lines.join("\n")}\n`;
}
