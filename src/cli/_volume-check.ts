import { join, resolve } from "node:path";
import type { ArgsDef } from "citty";
import type { Config } from "../config.ts";
import { EXIT_CODES, WorkerError } from "../errors.ts";
import { stdout } from "../lib/stdio.ts";
import { resolveTargets } from "../sync/targets.ts";
import { checkVolumes, type VolumeCheckReport } from "../volume/check.ts";
import { formatCheckReport } from "./_check-table.ts";

/** `check`'s flags for checking against a network volume instead of a local models folder. */
export const volumeCheckArgs = {
  volume: {
    type: "string",
    description: "check against this network volume's files (S3 API) instead of local folders",
    valueHint: "ID",
  },
  datacenter: { type: "string", description: "the volume's datacenter, e.g. EU-RO-1", valueHint: "DC" },
  endpoint: {
    type: "string",
    description: "a RunPod endpoint: its network volumes, and the node types its workers published there",
    valueHint: "ID",
  },
  "endpoint-url": {
    type: "string",
    description: "with --volume: any other S3-compatible server (the volume is the bucket)",
    valueHint: "URL",
  },
} as const satisfies ArgsDef;

/** True when the command line asks for a volume check. */
export function wantsVolumeCheck(args: { volume?: string; endpoint?: string }): boolean {
  return Boolean(args.volume || args.endpoint);
}

/** Runs `check … --volume/--endpoint`, prints the report and sets the exit code (3 weights, 5 unknown node types). */
export async function runVolumeCheck(
  files: string[],
  args: {
    volume?: string;
    datacenter?: string;
    endpoint?: string;
    "endpoint-url"?: string;
    json?: boolean;
    download?: boolean;
  },
  config: Config,
  signal?: AbortSignal,
): Promise<void> {
  if (args.download)
    throw new WorkerError(
      "E_USAGE",
      "--download fetches to a local folder; to fill a volume, download locally and run `sync`",
    );
  const targets = await resolveTargets(
    { volume: args.volume, datacenter: args.datacenter, endpoint: args.endpoint, endpointUrl: args["endpoint-url"] },
    config,
    signal,
  );
  const base = resolve(config.COMFY_DIR);
  const dirs = { input: join(base, "input"), output: join(base, "output"), temp: join(base, "temp") };
  const report = await checkVolumes(files, targets, {
    inventory: Boolean(args.endpoint),
    dirs,
    ...(signal ? { signal } : {}),
  });
  stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : report.volumes.map(formatVolumeReport).join("\n"));
  const weightsBad = report.volumes.some((v) => v.workflows.some((w) => w.weights.some((x) => x.status !== "present")));
  if (weightsBad) process.exitCode = EXIT_CODES.E_WEIGHTS_MISSING;
  else if (!report.ok) process.exitCode = EXIT_CODES.E_UNKNOWN_NODE;
}

/** One volume's header (where, how many files, which inventory) and the usual check table. */
export function formatVolumeReport(report: VolumeCheckReport): string {
  const where = `volume ${report.volume}${report.datacenter ? ` (${report.datacenter})` : ""}: ${report.url}, ${report.files} files`;
  const inventory =
    report.inventory === undefined
      ? ""
      : report.inventory === null
        ? "\nno worker inventory on this volume yet (workers write one at start-up): node types checked against ComfyUI's core nodes only"
        : `\nnode types from worker ${report.inventory.worker_id} (${report.inventory.written_at}, ComfyUI ${report.inventory.comfyui_version ?? "?"}, ${report.inventory.node_types} node types${report.inventory.failed_imports.length ? `; IMPORT FAILED: ${report.inventory.failed_imports.join(", ")}` : ""})`;
  const unknown = report.inventory ? report.workflows.flatMap((w) => w.unknown_nodes.map((n) => n.class_type)) : [];
  const nodes = unknown.length ? `\nnode types the workers lack: ${[...new Set(unknown)].join(", ")}` : "";
  return `${where}${inventory}\n\n${formatCheckReport(report)}${nodes}\n`;
}
