import type { PromptEvent } from "../comfy/prompt-state.ts";
import type { ApiWorkflow } from "../workflow/api.ts";
import type { FinishedNode, JobProgress, ProgressFile } from "./progress.ts";

/**
 * Turns one prompt's ComfyUI events into progress chunks (SPEC §6): a chunk when a node starts (no steps yet),
 * one per step it reports, and one when a node that wrote files finishes. Every chunk names the running node
 * by id, class type and title, and carries every finished node so far with its files (cumulative, so the
 * latest chunk alone is enough).
 */
export function createProgressTracker(
  workflow: ApiWorkflow,
  emit: ((progress: JobProgress) => void) | undefined,
): (event: PromptEvent) => void {
  const finished: FinishedNode[] = [];
  let current: JobProgress | undefined;
  const send = (chunk: JobProgress) => {
    current = chunk;
    emit?.(finished.length > 0 ? { ...chunk, finished: [...finished] } : chunk);
  };
  return (event) => {
    if (!emit) return;
    if (event.type === "executing") send({ ..._describe(workflow, event.node), value: 0, max: 0, percent: 0 });
    else if (event.type === "progress")
      send({ ..._describe(workflow, event.node), value: event.value, max: event.max, percent: event.percent });
    else if (event.type === "executed") {
      const files = outputFiles(event.output);
      if (files.length === 0 || finished.some((node) => node.node === event.node)) return;
      finished.push({ ..._describe(workflow, event.node), files });
      send(current ?? { ..._describe(workflow, event.node), value: 0, max: 0, percent: 0 });
    }
  };
}

/** The files in one node's `executed` output (`images`, `gifs`, `audio`, … entries that carry a filename). */
export function outputFiles(output: unknown): ProgressFile[] {
  if (output === null || typeof output !== "object") return [];
  const files: ProgressFile[] = [];
  for (const value of Object.values(output as Record<string, unknown>)) {
    if (!Array.isArray(value)) continue;
    for (const item of value) {
      const file = item as { filename?: unknown; subfolder?: unknown; type?: unknown };
      if (typeof file?.filename !== "string") continue;
      files.push({
        filename: file.filename,
        subfolder: typeof file.subfolder === "string" ? file.subfolder : "",
        type: typeof file.type === "string" ? file.type : "output",
      });
    }
  }
  return files;
}

function _describe(workflow: ApiWorkflow, node: string): Pick<JobProgress, "node" | "class_type" | "title"> {
  // subgraph nodes run under ids like "12:5"; their class is in the expanded workflow under the same id
  const entry = workflow[node];
  const described: Pick<JobProgress, "node" | "class_type" | "title"> = { node };
  if (entry?.class_type) described.class_type = entry.class_type;
  const title = entry?._meta?.title;
  if (title) described.title = title;
  return described;
}
