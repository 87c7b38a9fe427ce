import { formatBytes } from "../lib/bytes.ts";
import type { StdStream } from "../lib/stdio.ts";
import type { EnsureResult } from "../preload/ensure.ts";
import type { PullSummary } from "../preload/pull.ts";
import type { WeightFileState } from "../weights/weight-state.ts";
import { barArea } from "./_bar-area.ts";

/** Where progress goes: a terminal gets redrawn bars, anything else JSON-line events. */
export interface PullProgress {
  onState(state: WeightFileState): void;
  onResult(result: EnsureResult): void;
  /** Clears the bars. */
  done(): void;
}

const BAR_CELLS = 20;
const MARK: Record<EnsureResult["outcome"], string> = {
  present: "ok",
  downloaded: "downloaded",
  to_download: "would download",
  failed: "FAILED",
  no_source: "MISSING (no source)",
  invalid: "INVALID",
};

/**
 * Progress of a pull on `stream` (stderr): on a TTY one bar per active file plus a line per finished
 * one; otherwise `{"event":"download",folder,name,bytes,total,rate,eta}` lines and a `done` per file.
 */
export function createPullProgress(stream: Pick<StdStream, "write">, tty: boolean, dryRun = false): PullProgress {
  if (!tty) {
    const write = (event: object) => stream.write(`${JSON.stringify(event)}\n`);
    return {
      onState: (state) => {
        if (state.state !== "downloading" && state.state !== "verifying") return;
        const { folder, name, bytes, total, rate, eta } = state;
        write({ event: state.state === "downloading" ? "download" : "verify", folder, name, bytes, total, rate, eta });
      },
      onResult: (result) => write({ event: "done", ...result }),
      done: () => {},
    };
  }
  return _bars(stream, dryRun);
}

function _bars(stream: Pick<StdStream, "write">, dryRun: boolean): PullProgress {
  const active = new Map<string, WeightFileState>();
  const area = barArea(stream);
  const redraw = (permanent: string[] = [], force = false) => area([...active.values()].map(_bar), permanent, force);
  return {
    onState: (state) => {
      const key = `${state.folder}/${state.name}`;
      if (state.state === "downloading" || state.state === "verifying") active.set(key, state);
      else active.delete(key);
      redraw();
    },
    onResult: (result) => {
      active.delete(`${result.folder}/${result.name}`);
      // a dry run's summary lists every file it would download, once
      redraw(dryRun && result.outcome === "to_download" ? [] : [formatResult(result)], true);
    },
    done: () => {
      active.clear();
      redraw([], true);
    },
  };
}

function _bar(state: WeightFileState): string {
  const bytes = state.bytes ?? 0;
  const share = state.total ? Math.min(1, bytes / state.total) : 0;
  const filled = Math.round(share * BAR_CELLS);
  const bar = `[${"#".repeat(filled)}${".".repeat(BAR_CELLS - filled)}]`;
  const size = `${formatBytes(bytes)}${state.total ? ` / ${formatBytes(state.total)}` : ""}`;
  const speed = state.rate ? `  ${formatBytes(state.rate)}/s` : "";
  const eta = state.eta !== undefined ? `  eta ${state.eta} s` : "";
  const what = state.state === "verifying" ? "  verifying" : "";
  return `  ${bar} ${Math.round(share * 100)}%  ${state.folder}/${state.name}  ${size}${speed}${eta}${what}`;
}

/** One finished weight as a line: outcome, folder/name, size, where, and why when it went wrong. */
export function formatResult(result: EnsureResult): string {
  const size = result.size !== undefined ? `  ${formatBytes(result.size)}` : "";
  const where = result.path ? `  ${result.path}` : "";
  const why = result.reason ? `\n      ${result.reason}` : "";
  return `${MARK[result.outcome]}  ${result.folder}/${result.name}${size}${where}${why}`;
}

/** The closing summary: counts, bytes and time, then what to do about anything not ready. */
export function formatPullSummary(summary: PullSummary, dryRun: boolean): string {
  const parts = [
    `${summary.present} present`,
    dryRun ? `${summary.to_download} to download` : `${summary.downloaded} downloaded`,
    `${summary.failed} failed`,
    `${summary.no_source} without a source`,
  ];
  if (summary.invalid > 0) parts.push(`${summary.invalid} invalid`);
  const tail = dryRun ? _toDownload(summary.files) : `${formatBytes(summary.bytes)} fetched in ${summary.seconds} s`;
  const lines = [`${parts.join(", ")}; ${tail}`];
  if (dryRun) {
    for (const file of summary.files.filter((f) => f.outcome === "to_download"))
      lines.push(
        `  would download ${file.url} (${file.size ? formatBytes(file.size) : "size unknown"}) to ${file.path}`,
      );
  }
  const noSource = summary.files.filter((f) => f.outcome === "no_source");
  if (noSource.length > 0) {
    lines.push(
      `no known source for ${noSource.map((f) => `${f.folder}/${f.name}`).join(", ")}: add it to a manifest (--manifest) or put the file in place`,
    );
  }
  return `${lines.join("\n")}\n`;
}

/** Token warnings for a pull: gated files to download whose host token is not set (they would fail with 401). */
export function gatedWithoutToken(files: readonly EnsureResult[], tokens: { hf: boolean; civitai: boolean }): string[] {
  const warnings: string[] = [];
  for (const file of files) {
    if (!file.gated || file.outcome !== "to_download" || !file.url) continue;
    const host = new URL(file.url).hostname;
    const token = /(^|\.)civitai\.com$/.test(host)
      ? "CIVITAI_TOKEN"
      : /(^|\.)huggingface\.co$/.test(host)
        ? "HF_TOKEN"
        : undefined;
    if (!token || (token === "HF_TOKEN" ? tokens.hf : tokens.civitai)) continue;
    warnings.push(
      `${file.folder}/${file.name} is gated and ${token} is not set: its download will be refused; accept the licence on the model's page and set ${token}`,
    );
  }
  return warnings;
}

function _toDownload(files: readonly EnsureResult[]): string {
  const pending = files.filter((f) => f.outcome === "to_download");
  const total = pending.reduce((sum, f) => sum + (f.size ?? 0), 0);
  const unknown = pending.filter((f) => f.size === undefined).length;
  return `${formatBytes(total)} to download${unknown > 0 ? ` plus ${unknown} file(s) of unknown size` : ""}, nothing fetched`;
}
