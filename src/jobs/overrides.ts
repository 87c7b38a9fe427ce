import type { ObjectInfo } from "../comfy/object-info.ts";
import { WorkerError } from "../errors.ts";
import { type ApiWorkflow, RESERVED_KEYS } from "../workflow/api.ts";

/**
 * Applies `{"NODE.INPUT": value}` overrides in place. A missing node, or an input the node type doesn't
 * have (when /object_info knows the type), is an E_INPUT error rather than a silently ignored value.
 */
export function applyOverrides(
  workflow: ApiWorkflow,
  overrides: Record<string, unknown>,
  objectInfo?: ObjectInfo,
): void {
  for (const [key, value] of Object.entries(overrides)) {
    const dot = key.indexOf(".");
    const nodeId = key.slice(0, dot);
    const input = key.slice(dot + 1);
    if (dot < 0 || RESERVED_KEYS.has(nodeId) || RESERVED_KEYS.has(input)) {
      throw new WorkerError("E_INPUT", `overrides["${key}"]: keys are NODE.INPUT with a node id and an input name`);
    }
    const node = Object.hasOwn(workflow, nodeId) ? workflow[nodeId] : undefined;
    if (!node) {
      throw new WorkerError("E_INPUT", `overrides["${key}"]: the workflow has no node "${nodeId}"`);
    }
    const info = objectInfo?.[node.class_type];
    const declared = info ? _inputNames(info) : undefined;
    if (!(input in node.inputs) && declared && !declared.has(input)) {
      const known = [...declared].join(", ");
      throw new WorkerError(
        "E_INPUT",
        `overrides["${key}"]: ${node.class_type} has no input "${input}" (it has: ${known})`,
      );
    }
    node.inputs[input] = value;
  }
}

function _inputNames(info: ObjectInfo[string]): Set<string> {
  const groups = info.input as Record<string, Record<string, unknown> | undefined> | undefined;
  return new Set(Object.values(groups ?? {}).flatMap((group) => Object.keys(group ?? {})));
}

/** Node types used by the workflow that ComfyUI's /object_info doesn't know, sorted. */
export function unknownNodeTypes(workflow: ApiWorkflow, objectInfo: ObjectInfo): string[] {
  const types = new Set(Object.values(workflow).map((node) => node.class_type));
  return [...types].filter((type) => !(type in objectInfo)).sort();
}
