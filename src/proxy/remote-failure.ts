/**
 * A failed remote job, read back into ComfyUI's terms: the node to blame, the exception text and type the UI's
 * error dialog shows, and — when the endpoint refused the graph or lacks weights — ComfyUI's own `node_errors`
 * (value_not_in_list for a model the endpoint does not have).
 */
import { z } from "zod";
import { comboOptions, type ObjectInfo } from "../comfy/object-info.ts";
import type { StatusReply } from "../remote/index.ts";

export interface ComfyReason {
  type: string;
  message: string;
  details: string;
  extra_info: Record<string, unknown>;
}
export type NodeErrors = Record<string, { errors: ComfyReason[]; dependent_outputs: string[]; class_type: string }>;

export interface RemoteFailure {
  message: string;
  type: string;
  traceback: string[];
  node?: string;
  nodeErrors?: NodeErrors;
}

const Details = z.looseObject({
  code: z.string().optional(),
  node_errors: z.record(z.string(), z.unknown()).optional(),
  missing_weights: z.array(z.looseObject({ name: z.string(), nodes: z.array(z.string()).default([]) })).optional(),
  node_type: z.string().optional(),
  exception: z
    .looseObject({
      type: z.string().optional(),
      message: z.string().optional(),
      node_id: z.string().optional(),
      traceback: z.array(z.string()).optional(),
    })
    .optional(),
});
const MAX_LISTED_OPTIONS = 20;

/** Reads a FAILED / TIMED_OUT status reply (API mode's `output.details`, RunPod mode's JSON `error`). */
export function readFailure(
  job: StatusReply,
  prompt: Record<string, unknown>,
  outputs: string[],
  info: ObjectInfo | undefined,
): RemoteFailure {
  const sentence = _sentence(job.error) ?? `the remote job ended ${job.status}`;
  if (job.status === "TIMED_OUT") return { message: sentence, type: "TimeoutError", traceback: [] };
  const parsed = Details.safeParse((job.output as { details?: unknown } | undefined)?.details);
  const details = parsed.success ? parsed.data : {};
  const nodeErrors =
    (details.node_errors as NodeErrors | undefined) ??
    (details.missing_weights ? missingAsNodeErrors(details.missing_weights, prompt, outputs, info) : undefined);
  const firstError = nodeErrors ? Object.keys(nodeErrors)[0] : undefined;
  const byType = details.node_type ? _nodeOfType(prompt, details.node_type) : undefined;
  const reason = firstError ? nodeErrors?.[firstError]?.errors[0] : undefined;
  const message = reason
    ? `${reason.message}: ${reason.details}\n${sentence}`
    : (details.exception?.message ?? sentence);
  const node = details.exception?.node_id ?? firstError ?? byType;
  return {
    message,
    type: details.exception?.type ?? reason?.type ?? details.code ?? "RemoteJobFailed",
    traceback: details.exception?.traceback ?? [],
    ...(node ? { node } : {}),
    ...(nodeErrors && Object.keys(nodeErrors).length > 0 ? { nodeErrors } : {}),
  };
}

/** ComfyUI's value_not_in_list node errors for weights the endpoint reported missing. */
export function missingAsNodeErrors(
  missing: { name: string; nodes: string[] }[],
  prompt: Record<string, unknown>,
  outputs: string[],
  info: ObjectInfo | undefined,
): NodeErrors {
  const errors: NodeErrors = {};
  for (const weight of missing) {
    for (const id of weight.nodes) {
      const node = prompt[id] as { class_type?: string; inputs?: Record<string, unknown> } | undefined;
      if (!node?.class_type) continue;
      const input = Object.entries(node.inputs ?? {}).find(([, value]) => value === weight.name)?.[0];
      if (!input) continue;
      const entry = errors[id] ?? { errors: [], dependent_outputs: outputs, class_type: node.class_type };
      // the local list may well hold the file: what is missing is the endpoint's copy, and the text says so
      const reason = valueNotInList(input, weight.name, _spec(info, node.class_type, input));
      entry.errors.push({
        ...reason,
        details: `${input}: '${weight.name}' is not on the endpoint (its workers lack this file; put it on the endpoint's network volume or in its image)`,
      });
      errors[id] = entry;
    }
  }
  return errors;
}

/** validate_inputs' value_not_in_list reason, with the list shown as ComfyUI shows it. */
export function valueNotInList(input: string, value: string, spec: unknown): ComfyReason {
  const options = comboOptions(spec) ?? [];
  const long = options.length > MAX_LISTED_OPTIONS;
  const listed = long ? `(list of length ${options.length})` : `[${options.map((o) => `'${o}'`).join(", ")}]`;
  return {
    type: "value_not_in_list",
    message: "Value not in list",
    details: `${input}: '${value}' not in ${listed}`,
    extra_info: { input_name: input, input_config: long ? null : (spec ?? null), received_value: value },
  };
}

function _spec(info: ObjectInfo | undefined, classType: string, input: string): unknown {
  const node = info?.[classType];
  return node?.input.required?.[input] ?? node?.input.optional?.[input];
}

function _nodeOfType(prompt: Record<string, unknown>, classType: string): string | undefined {
  return Object.entries(prompt).find(([, node]) => (node as { class_type?: unknown })?.class_type === classType)?.[0];
}

// API mode: one sentence; RunPod mode: the SDK's JSON with the sentence in error_message
function _sentence(error: unknown): string | undefined {
  if (typeof error !== "string" || error === "") return undefined;
  if (!error.trimStart().startsWith("{")) return error;
  try {
    const parsed = JSON.parse(error) as { error_message?: unknown };
    return typeof parsed.error_message === "string" ? parsed.error_message : error;
  } catch {
    return error;
  }
}
