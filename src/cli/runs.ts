import { defineCommand } from "citty";
import { WorkerError } from "../errors.ts";
import { stdout } from "../lib/stdio.ts";
import { type LedgerEntry, ledgerPath, ledgerTotals, readRuns } from "../remote/ledger.ts";
import { commonArgs, jsonArgs } from "./_args.ts";
import { createCommandContext } from "./_context.ts";

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export default defineCommand({
  meta: { name: "runs", description: "The ledger of remote runs (run --endpoint): recent runs, billed time and cost" },
  args: {
    ...commonArgs,
    ...jsonArgs,
    since: { type: "string", description: "only runs this recent: 90s, 30m, 12h, 7d, 2w", valueHint: "DURATION" },
  },
  async run({ args }) {
    // a duration reaching before 1970 means every run
    const sinceMs = args.since === undefined ? 0 : Math.max(0, Date.now() - parseDuration(args.since));
    const { config, log } = createCommandContext({ args });
    const path = ledgerPath(config);
    const { runs, skipped } = await readRuns(path, sinceMs);
    if (skipped > 0) log.warn(`${skipped} line(s) of ${path} are not runs and were skipped`);
    const totals = ledgerTotals(runs);
    if (args.json) {
      stdout.write(
        `${JSON.stringify({ ledger: path, since: sinceMs ? new Date(sinceMs).toISOString() : null, runs, totals })}\n`,
      );
      return;
    }
    if (runs.length === 0) {
      stdout.write(`no remote runs${args.since ? ` in the last ${args.since}` : ""} (ledger: ${path})\n`);
      return;
    }
    stdout.write(`${_table(runs)}\n`);
    const statuses = Object.entries(totals.by_status)
      .map(([status, n]) => `${n} ${status}`)
      .join(", ");
    const unpriced = totals.unpriced > 0 ? ` (${totals.unpriced} run(s) without a price)` : "";
    stdout.write(
      `total: ${totals.runs} run(s) (${statuses}), billed ${totals.billed_s} s, cost ≈ $${totals.cost.toFixed(4)}${unpriced}\n`,
    );
  },
});

/** `90s`, `30m`, `12h`, `7d`, `2w` → ms; E_USAGE otherwise. */
export function parseDuration(text: string): number {
  const match = text.trim().match(/^(\d+(?:\.\d+)?)\s*([smhdw])$/i);
  if (!match)
    throw new WorkerError(
      "E_USAGE",
      `--since "${text}" is not a duration; use a number and a unit: 90s, 30m, 12h, 7d, 2w`,
    );
  return Number(match[1]) * (UNIT_MS[(match[2] as string).toLowerCase()] as number);
}

function _table(runs: LedgerEntry[]): string {
  const rows = runs.map((run) => [
    run.time.replace("T", " ").slice(0, 19),
    run.endpoint,
    run.job_id,
    run.workflow,
    run.status,
    _s(run.delay_ms),
    _s(run.execution_ms),
    run.billed_s === null ? "?" : `${run.billed_s} s`,
    run.cost === null ? "-" : `$${run.cost.toFixed(4)}`,
  ]);
  const header = ["TIME (UTC)", "ENDPOINT", "JOB", "WORKFLOW", "STATUS", "DELAY", "EXECUTION", "BILLED", "COST"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] as string).length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i] as number))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

function _s(ms: number | null): string {
  return ms === null ? "?" : `${(ms / 1000).toFixed(1)} s`;
}
