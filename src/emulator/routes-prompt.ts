import { existsSync } from "node:fs";
import type { Context } from "hono";
import { Hono } from "hono";
import { z } from "zod";
import { apiNodeTypes } from "../workflow/api.ts";
import { burstLines } from "./comfy-log.ts";
import type { EmulatorContext } from "./context.ts";
import { annotatedPath, containedPath } from "./files.ts";
import type { Prompt } from "./graph.ts";
import { isCanonicalUuid } from "./profile.ts";
import { queueTuple } from "./queue.ts";
import { type ComfyError, validatePrompt } from "./validate.ts";

const PromptBody = z.looseObject({
  prompt: z.unknown().optional(),
  client_id: z.string().nullish(),
  prompt_id: z.union([z.string(), z.number()]).nullish(),
  number: z.coerce.number().optional(),
  front: z.unknown().optional(),
  extra_data: z.record(z.string(), z.unknown()).optional(),
  partial_execution_targets: z.array(z.coerce.string()).nullish(),
});
type PromptBody = z.infer<typeof PromptBody>;
const ListEdit = z.looseObject({ clear: z.unknown().optional(), delete: z.array(z.coerce.string()).optional() });
const InterruptBody = z.looseObject({ prompt_id: z.string().nullish() });
const FreeBody = z.looseObject({ unload_models: z.boolean().optional(), free_memory: z.boolean().optional() });
const HistoryQuery = z.object({
  max_items: z.coerce.number().int().min(0).optional(),
  offset: z.coerce.number().int().optional(),
});

// secrets ComfyUI moves out of extra_data so they never reach /queue or /history
const SENSITIVE_KEYS = ["auth_token_comfy_org", "api_key_comfy_org"];
const SERVER_ERROR = "500 Internal Server Error\n\nServer got itself in trouble";

/** /prompt, /queue, /interrupt, /free and /history, with ComfyUI's bodies and statuses. */
export function promptRoutes(ctx: EmulatorContext): Hono {
  const app = new Hono();
  app.get("/prompt", (c) => c.json({ exec_info: { queue_remaining: ctx.queue.remaining() } }));
  app.post("/prompt", (c) => _postPrompt(ctx, c));
  app.get("/queue", (c) => {
    const running = ctx.queue.running();
    return c.json({
      queue_running: running ? [queueTuple(running)] : [],
      queue_pending: ctx.queue.pending().map(queueTuple),
    });
  });
  app.post("/queue", async (c) => {
    const body = await _json(c, ListEdit);
    if (!body) return c.text(SERVER_ERROR, 500);
    if (body.clear) ctx.queue.wipe();
    for (const id of body.delete ?? []) ctx.queue.delete(id);
    return c.body(null, 200);
  });
  app.post("/interrupt", async (c) => {
    // the body may be empty or not JSON at all: that is a global interrupt
    const promptId = (await _json(c, InterruptBody))?.prompt_id;
    if (!promptId || ctx.queue.running()?.promptId === promptId) ctx.state.interrupted = true;
    else ctx.log.info(`Prompt ${promptId} is not currently running, skipping interrupt`);
    return c.body(null, 200);
  });
  app.post("/free", async (c) => {
    const body = await _json(c, FreeBody);
    if (body?.free_memory) ctx.state.cache.clear();
    return c.body(null, 200);
  });
  app.get("/history", (c) => {
    const query = HistoryQuery.safeParse(c.req.query());
    if (!query.success) return c.text(SERVER_ERROR, 500);
    return c.json(ctx.history.list(query.data.max_items, query.data.offset));
  });
  app.get("/history/:id", (c) => c.json(ctx.history.get(c.req.param("id"))));
  app.post("/history", async (c) => {
    const body = await _json(c, ListEdit);
    if (!body) return c.text(SERVER_ERROR, 500);
    if (body.clear) ctx.history.clear();
    for (const id of body.delete ?? []) ctx.history.delete(id);
    return c.body(null, 200);
  });
  return app;
}

async function _postPrompt(ctx: EmulatorContext, c: Context) {
  ctx.log.info("got prompt");
  for (const line of burstLines(ctx.settings.logBurst, "prompt")) ctx.log.info(line);
  const parsed = _parse(await c.req.text());
  // aiohttp's request.json() raising is an unhandled 500 in ComfyUI too
  if (parsed === undefined) return c.text(SERVER_ERROR, 500);
  const request = _promptRequest(parsed);
  if ("error" in request) return c.json({ error: request.error, node_errors: {} }, 400);
  const badId = _promptIdError(ctx, request.prompt_id);
  if (badId) return c.json({ error: badId, node_errors: {} }, 400);
  const number = request.number ?? _nextNumber(ctx, Boolean(request.front));
  const validation = validatePrompt(request.prompt as Prompt, {
    info: await ctx.catalog.nodesInfo(apiNodeTypes(request.prompt as object)),
    fileExists: (name) => _exists(ctx, name),
    missingNodeType: ctx.settings.comfyuiVersion.missingNodeType,
    ...(request.partial_execution_targets ? { partialTargets: request.partial_execution_targets } : {}),
  });
  if (validation.log.length > 0) ctx.log.error(validation.log);
  if (!validation.ok) {
    ctx.log.info(`invalid prompt: ${JSON.stringify(validation.error)}`);
    return c.json({ error: validation.error, node_errors: validation.nodeErrors }, 400);
  }
  const promptId = _enqueue(ctx, request, number, validation.outputs);
  return c.json({ prompt_id: promptId, number, node_errors: validation.nodeErrors });
}

function _promptRequest(parsed: unknown): PromptBody | { error: ComfyError } {
  if (typeof parsed !== "object" || parsed === null || !("prompt" in parsed)) {
    return {
      error: { type: "no_prompt", message: "No prompt provided", details: "No prompt provided", extra_info: {} },
    };
  }
  const body = PromptBody.safeParse(parsed);
  const prompt = body.success ? body.data.prompt : undefined;
  if (body.success && typeof prompt === "object" && prompt !== null && !Array.isArray(prompt)) return body.data;
  const details = body.success ? "prompt must be an object of nodes" : z.prettifyError(body.error);
  const message = "Cannot execute because the request is malformed.";
  return { error: { type: "invalid_prompt", message, details, extra_info: {} } };
}

// v0.25+: a client id must be a canonical UUID (null or absent lets the server mint one)
function _promptIdError(ctx: EmulatorContext, promptId: unknown): ComfyError | undefined {
  if (!ctx.settings.comfyuiVersion.strictPromptId || promptId === undefined || promptId === null) return undefined;
  if (isCanonicalUuid(promptId)) return undefined;
  return {
    type: "invalid_prompt_id",
    message: "prompt_id must be a valid UUID",
    details:
      "prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one",
    extra_info: {},
  };
}

function _enqueue(ctx: EmulatorContext, request: PromptBody, number: number, outputs: string[]): string {
  const promptId = String(request.prompt_id ?? crypto.randomUUID());
  const extraData: Record<string, unknown> = { ...request.extra_data };
  if ("client_id" in request) extraData.client_id = request.client_id;
  extraData.create_time = Date.now();
  const sensitive: Record<string, unknown> = {};
  for (const key of SENSITIVE_KEYS.filter((k) => k in extraData)) {
    sensitive[key] = extraData[key];
    delete extraData[key];
  }
  ctx.state.received += 1;
  const prompt = request.prompt as Prompt;
  ctx.queue.put({ number, promptId, prompt, extraData, outputs, sensitive, ordinal: ctx.state.received });
  return promptId;
}

function _nextNumber(ctx: EmulatorContext, front: boolean): number {
  const number = ctx.state.number;
  ctx.state.number += 1;
  // the queue is a min-heap, so "front" negates the counter
  return front ? -number : number;
}

// folder_paths.exists_annotated_filepath: os.path.exists, and since v0.28 the realpath must stay in its dir
function _exists(ctx: EmulatorContext, name: string): boolean {
  const path = annotatedPath(name, ctx.dirs, "input");
  if (path === undefined || !existsSync(path)) return false;
  return !ctx.settings.comfyuiVersion.inputContainment || containedPath(name, ctx.dirs, "input");
}

async function _json<T extends z.ZodType>(c: Context, schema: T): Promise<z.infer<T> | undefined> {
  const parsed = _parse(await c.req.text());
  const result = schema.safeParse(parsed ?? {});
  return result.success ? result.data : undefined;
}

function _parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
