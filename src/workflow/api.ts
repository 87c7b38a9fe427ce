import { z } from "zod";
import { WorkerError } from "../errors.ts";
import { describeProblem } from "../lib/issues.ts";

/** One node of an API-format workflow: inputs are literals or `[sourceNodeId, outputIndex]` links. */
export const ApiNode = z.looseObject({
  class_type: z.string().min(1),
  inputs: z.record(z.string(), z.unknown()).default({}),
  _meta: z.looseObject({ title: z.string().optional() }).optional(),
});
export type ApiNode = z.infer<typeof ApiNode>;

/** An API-format workflow ("prompt"): node id → node. */
export type ApiWorkflow = Record<string, ApiNode>;

/** True when `value` looks like the editor's UI format (nodes + links) rather than API format. */
export function isUiWorkflow(value: unknown): boolean {
  return typeof value === "object" && value !== null && Array.isArray((value as { nodes?: unknown }).nodes);
}

/** The node types an API workflow names, read defensively: it may not have been validated yet. */
export function apiNodeTypes(workflow: object): string[] {
  return Object.values(workflow).flatMap((node) => {
    const type = (node as { class_type?: unknown } | null)?.class_type;
    return typeof type === "string" ? [type] : [];
  });
}

/** True for an input value that is a link to another node's output. */
export function isLink(value: unknown): value is [string, number] {
  return (
    Array.isArray(value) &&
    value.length === 2 &&
    typeof value[1] === "number" &&
    ["string", "number"].includes(typeof value[0])
  );
}

/**
 * Validates an API-format workflow and returns a deep copy; throws E_INPUT naming the first bad node.
 * `where` names the source in messages ("job input", a file path).
 */
export function parseApiWorkflow(value: unknown, where = "workflow"): ApiWorkflow {
  if (isUiWorkflow(value)) {
    throw new WorkerError(
      "E_INPUT",
      `${where} is in ComfyUI's UI format; export it with "Export (API)" (Workflow menu) and send that instead`,
    );
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw new WorkerError("E_INPUT", `${where} must be an object of nodes ({"3": {"class_type": …, "inputs": {…}}})`);
  }
  const entries = Object.entries(value as Record<string, unknown>);
  if (entries.length === 0) throw new WorkerError("E_INPUT", `${where} has no nodes`);
  const out: ApiWorkflow = {};
  for (const [id, node] of entries) {
    const parsed = ApiNode.safeParse(node);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const path = issue?.path.length ? `.${issue.path.join(".")}` : "";
      const problem = issue ? describeProblem(issue, node) : "is not valid";
      throw new WorkerError("E_INPUT", `${where}: node "${id}"${path} ${problem}`);
    }
    out[id] = structuredClone(parsed.data);
  }
  for (const [id, node] of Object.entries(out)) {
    for (const [input, linked] of Object.entries(node.inputs)) {
      if (isLink(linked) && !(String(linked[0]) in out)) {
        throw new WorkerError(
          "E_INPUT",
          `${where}: node "${id}" input "${input}" links to missing node "${linked[0]}"`,
        );
      }
    }
  }
  return out;
}
