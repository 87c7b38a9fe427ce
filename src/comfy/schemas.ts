import { z } from "zod";

// Every schema here describes a payload ComfyUI sends us; objects are loose so new upstream fields never break us.

/** A node id; ComfyUI uses strings, but some tools emit numbers. */
export const NodeId = z.union([z.string(), z.number()]).transform(String);

/** An API-format workflow: `{node_id: {class_type, inputs}}` (what POST /prompt accepts). */
export const ApiWorkflow = z.record(
  z.string(),
  z.looseObject({ class_type: z.string(), inputs: z.record(z.string(), z.unknown()) }),
);
export type ApiWorkflow = z.infer<typeof ApiWorkflow>;

/** One validation problem: the shape of `error` and of each `node_errors[id].errors[i]`. */
export const ComfyErrorReason = z.looseObject({
  type: z.string().default(""),
  message: z.string().default(""),
  details: z.unknown().optional(),
  extra_info: z.record(z.string(), z.unknown()).optional(),
});
export type ComfyErrorReason = z.infer<typeof ComfyErrorReason>;

/** Validation errors for one node, as returned in `node_errors`. */
export const NodeError = z.looseObject({
  errors: z.array(ComfyErrorReason).default([]),
  dependent_outputs: z.array(z.unknown()).optional(),
  class_type: z.string().optional(),
});
export type NodeError = z.infer<typeof NodeError>;

const NodeErrors = z.record(z.string(), NodeError).catch({});

/** 200 body of POST /prompt; `node_errors` may be non-empty when only some outputs were valid. */
export const PromptResponse = z.looseObject({
  prompt_id: z.string(),
  number: z.number().default(0),
  node_errors: NodeErrors.default({}),
});

/** 400 body of POST /prompt. */
export const PromptErrorBody = z.looseObject({
  error: z.union([ComfyErrorReason, z.string().transform((message) => ({ type: "", message }))]),
  node_errors: NodeErrors.default({}),
});
export type PromptErrorBody = z.infer<typeof PromptErrorBody>;

const StatusMessage = z.tuple([z.string(), z.record(z.string(), z.unknown())]);

/** One finished prompt in GET /history/{id}. */
export const HistoryEntry = z.looseObject({
  prompt: z.array(z.unknown()).optional(),
  outputs: z.record(z.string(), z.record(z.string(), z.unknown())).catch({}).default({}),
  status: z
    .looseObject({
      status_str: z.string().default("success"),
      completed: z.boolean().default(true),
      // a malformed message list must not hide the outputs
      messages: z.array(StatusMessage).catch([]).default([]),
    })
    .optional(),
  meta: z.record(z.string(), z.unknown()).optional(),
});
export type HistoryEntry = z.infer<typeof HistoryEntry>;

/** GET /history/{id}: `{}` until the prompt has finished. */
export const HistoryResponse = z.record(z.string(), HistoryEntry);

/** GET /queue; items are `[number, prompt_id, prompt, extra_data, outputs]`. */
export const QueueResponse = z.looseObject({
  queue_running: z.array(z.array(z.unknown())).default([]),
  queue_pending: z.array(z.array(z.unknown())).default([]),
});

/** POST /upload/image result; use `name` (which includes the subfolder) in LoadImage. */
export const UploadResponse = z.looseObject({
  name: z.string(),
  subfolder: z.string().default(""),
  type: z.string().default("input"),
});

/** GET /system_stats, the cheap health probe. */
export const SystemStats = z.looseObject({
  system: z.looseObject({
    os: z.string().optional(),
    ram_total: z.number().optional(),
    ram_free: z.number().optional(),
    comfyui_version: z.string().optional(),
    python_version: z.string().optional(),
    pytorch_version: z.string().optional(),
    argv: z.array(z.string()).optional(),
  }),
  devices: z
    .array(
      z.looseObject({
        name: z.string(),
        type: z.string(),
        index: z.number().nullish(),
        vram_total: z.number().optional(),
        vram_free: z.number().optional(),
      }),
    )
    .default([]),
});
export type SystemStats = z.infer<typeof SystemStats>;

/** A list of names: GET /models and GET /models/{folder}. */
export const NameList = z.array(z.string());

/** `execution_error` data: the node that failed and the Python exception. */
export const ExecutionErrorData = z.looseObject({
  prompt_id: z.string().optional(),
  node_id: NodeId.nullish(),
  node_type: z.string().nullish(),
  exception_message: z.string().default(""),
  exception_type: z.string().default(""),
  traceback: z.array(z.string()).catch([]).default([]),
  executed: z.array(z.unknown()).optional(),
  current_inputs: z.unknown().optional(),
  timestamp: z.number().optional(),
});
export type ExecutionErrorData = z.infer<typeof ExecutionErrorData>;

const PromptRef = { prompt_id: z.string().optional(), timestamp: z.number().optional() };

function _event<T extends string, D extends z.ZodType>(type: T, data: D) {
  return z.looseObject({ type: z.literal(type), data });
}

/** The websocket events we understand (reference A2); anything else becomes `{type: "other"}`. */
export const KnownWsMessage = z.discriminatedUnion("type", [
  _event(
    "status",
    z.looseObject({
      status: z.looseObject({ exec_info: z.looseObject({ queue_remaining: z.number() }).partial() }).optional(),
      sid: z.string().nullish(),
    }),
  ),
  _event("execution_start", z.looseObject(PromptRef)),
  _event("execution_cached", z.looseObject({ ...PromptRef, nodes: z.array(NodeId).default([]) })),
  _event("executing", z.looseObject({ ...PromptRef, node: NodeId.nullable(), display_node: NodeId.nullish() })),
  _event("progress", z.looseObject({ ...PromptRef, node: NodeId.nullish(), value: z.number(), max: z.number() })),
  _event("executed", z.looseObject({ ...PromptRef, node: NodeId, output: z.unknown() })),
  _event("execution_success", z.looseObject(PromptRef)),
  _event("execution_error", ExecutionErrorData),
  _event(
    "execution_interrupted",
    z.looseObject({ ...PromptRef, node_id: NodeId.nullish(), node_type: z.string().nullish() }),
  ),
  _event("progress_state", z.looseObject({ ...PromptRef, nodes: z.record(z.string(), z.unknown()).default({}) })),
]);
export type KnownWsMessage = z.infer<typeof KnownWsMessage>;

/** An unknown or malformed event, kept so callers can log it; never acted on. */
export type OtherWsMessage = { type: "other"; event: string; data: unknown; malformed: boolean };

/** A parsed JSON websocket frame. */
export type WsMessage = KnownWsMessage | OtherWsMessage;

const WsEnvelope = z.looseObject({ type: z.string(), data: z.unknown() });
const KNOWN_WS_TYPES: ReadonlySet<string> = new Set(KnownWsMessage.options.map((o) => o.shape.type.value));

/** Parses one text frame; undefined when it is not JSON or not `{type, data}`. */
export function parseWsMessage(text: string): WsMessage | undefined {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return undefined;
  }
  const envelope = WsEnvelope.safeParse(json);
  if (!envelope.success) return undefined;
  const { type: event, data } = envelope.data;
  if (!KNOWN_WS_TYPES.has(event)) return { type: "other", event, data, malformed: false };
  const known = KnownWsMessage.safeParse(json);
  return known.success ? known.data : { type: "other", event, data, malformed: true };
}

const Section = z.record(z.string(), z.unknown()).optional().catch(undefined);
const Strings = z.array(z.string()).catch([]).default([]);

/** One GET /object_info entry; custom nodes are sloppy, so every field falls back to its empty value. */
export const NodeInfoBody = z.looseObject({
  input: z.looseObject({ required: Section, optional: Section, hidden: Section }).catch({}).default({}),
  input_order: z.record(z.string(), z.array(z.string())).catch({}).default({}),
  output: z.array(z.unknown()).catch([]).default([]),
  output_is_list: z.array(z.boolean()).catch([]).default([]),
  output_name: Strings,
  name: z.string().catch("").default(""),
  display_name: z.string().nullable().catch(null).default(null),
  description: z.string().catch("").default(""),
  python_module: z.string().catch("").default(""),
  category: z.string().catch("").default(""),
  output_node: z.boolean().catch(false).default(false),
});

/** GET /object_info: `{class_name: info}`. */
export const ObjectInfoBody = z.record(z.string(), NodeInfoBody);
