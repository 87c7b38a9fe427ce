import { readdir, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { ObjectInfo } from "../comfy/object-info.ts";
import { isWorkerError, WorkerError } from "../errors.ts";
import { checkLoadedWorkflow, type WorkflowReport } from "../weights/check.ts";
import type { ModelSnapshot } from "../weights/model-index.ts";
import { type LoadedWorkflow, loadWorkflowFile } from "../workflow/load.ts";

const WORKFLOW_FILE_RE = /\.(json|png|webp)$/i;

/** The workflows found, the files skipped (in folders) and each workflow's check report. */
export interface ScanResult {
  reports: WorkflowReport[];
  skipped: Array<{ file: string; reason: string }>;
}

/** Files named on the command line, folders walked recursively for .json/.png/.webp. */
export async function workflowFiles(paths: readonly string[]): Promise<Array<{ file: string; explicit: boolean }>> {
  const out: Array<{ file: string; explicit: boolean }> = [];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      if (entry.name.startsWith(".") || entry.name === "node_modules") continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (WORKFLOW_FILE_RE.test(entry.name)) out.push({ file: path, explicit: false });
    }
  };
  for (const path of paths) {
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new WorkerError("E_NOT_FOUND", `${path}: no such file or folder`);
    if (info.isDirectory()) await walk(resolve(path));
    else out.push({ file: path, explicit: true });
  }
  return out;
}

/**
 * Loads and checks every workflow with the `check` engine (presence only). A file inside a folder that is not a
 * workflow (a config, a plain image) is skipped with the reason; a named file that is not one is an error.
 */
export async function scanWorkflows(
  paths: readonly string[],
  snapshot: ModelSnapshot,
  objectInfo: ObjectInfo,
  dirs: { input: string; output: string; temp: string },
): Promise<ScanResult> {
  const reports: WorkflowReport[] = [];
  const skipped: ScanResult["skipped"] = [];
  for (const { file, explicit } of await workflowFiles(paths)) {
    let loaded: LoadedWorkflow;
    try {
      loaded = await loadWorkflowFile(file);
    } catch (error) {
      if (explicit || !isWorkerError(error)) throw error;
      skipped.push({ file, reason: error.message });
      continue;
    }
    reports.push(await checkLoadedWorkflow(loaded, snapshot, { objectInfo, live: false, level: "exists", dirs }));
  }
  return { reports, skipped };
}
