import { WorkerError } from "../errors.ts";
import type { PromptErrorBody } from "./schemas.ts";

const MAX_DESCRIBED_NODE_ERRORS = 5;
const MAX_DETAIL_CHARS = 300;
const UNKNOWN_NODE_RE = /Cannot execute because node (.+?) does not exist/;

/** POST /prompt's 400 body as our error: an unknown node type by name, else the first node errors in one line. */
export function promptRejected(body: PromptErrorBody): WorkerError {
  const { error, node_errors } = body;
  const details = { comfy_error: error, node_errors };
  const missing = _missingNodeType(error);
  if (missing) {
    const message = `The workflow uses node type "${missing}", which this ComfyUI does not have; install the custom node that provides it`;
    return new WorkerError("E_UNKNOWN_NODE", message, { details: { ...details, node_type: missing } });
  }
  // one reason shared by several nodes (every node of a dependency loop gets the same one) is said once
  const nodesByReason = new Map<string, string[]>();
  for (const [id, node] of Object.entries(node_errors).slice(0, MAX_DESCRIBED_NODE_ERRORS)) {
    for (const reason of node.errors) {
      const text = _reasonText(reason);
      nodesByReason.set(text, [...(nodesByReason.get(text) ?? []), `node ${id} (${node.class_type ?? "?"})`]);
    }
  }
  const lines = [...nodesByReason].map(([text, nodes]) => `${nodes.join(" and ")}: ${text}`);
  const summary = lines.length > 0 ? lines.join("; ") : _reasonText(error);
  return new WorkerError("E_WORKFLOW_REJECTED", `ComfyUI rejected the workflow: ${summary}`, { details });
}

// the 0.3 line: invalid_prompt "Cannot execute because node X does not exist."; 0.28: missing_node_type, the
// class in extra_info (null when the node has no class_type at all, which is no missing custom node)
function _missingNodeType(error: PromptErrorBody["error"]): string | undefined {
  if (error.type === "invalid_prompt") return UNKNOWN_NODE_RE.exec(error.message)?.[1];
  if (error.type !== "missing_node_type") return undefined;
  const classType = "extra_info" in error ? error.extra_info?.class_type : undefined;
  return typeof classType === "string" && classType !== "" ? classType : undefined;
}

function _reasonText(reason: { message: string; details?: unknown }): string {
  const details = typeof reason.details === "string" && reason.details !== "" ? `: ${reason.details}` : "";
  const text = `${reason.message}${details}${_badOutputIndex(reason)}`;
  return text.length > MAX_DETAIL_CHARS ? `${text.slice(0, MAX_DETAIL_CHARS)}…` : text;
}

// a link to an output its node does not have reaches ComfyUI's RETURN_TYPES lookup as Python's IndexError, filed
// under the node whose link it is (the output node itself, or the upstream node it was validating)
function _badOutputIndex(reason: { details?: unknown }): string {
  return reason.details === "tuple index out of range"
    ? " (one of this node's links points at an output the linked node does not have)"
    : "";
}
