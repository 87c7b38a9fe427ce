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

/** Names that would reach an object's prototype instead of a node or an input: never a node id or input name. */
export const RESERVED_KEYS: ReadonlySet<string> = new Set(["__proto__", "constructor", "prototype"]);

/**
 * A node id a workflow object may not use, from its own keys: JSON.parse keeps `"__proto__"` as a key, but zod and
 * plain assignment drop it or set the prototype instead, so the node would vanish without a word.
 */
export function reservedNodeId(workflow: object): string | undefined {
  return Object.keys(workflow).find((id) => RESERVED_KEYS.has(id));
}

/** E_INPUT for a node id that is a reserved name. */
export function reservedNodeIdError(where: string, id: string): WorkerError {
  return new WorkerError("E_INPUT", `${where}: node id "${id}" is a reserved name; give that node another id`);
}

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
  const reserved = reservedNodeId(value);
  if (reserved !== undefined) throw reservedNodeIdError(where, reserved);
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
      if (isLink(linked) && !Object.hasOwn(out, String(linked[0]))) {
        throw new WorkerError(
          "E_INPUT",
          `${where}: node "${id}" input "${input}" links to missing node "${linked[0]}"`,
        );
      }
    }
  }
  return out;
}
