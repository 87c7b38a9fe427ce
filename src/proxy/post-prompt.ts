/**
 * POST /prompt for the endpoint: the same request body and answers as ComfyUI's `post_prompt` (200
 * `{prompt_id, number, node_errors}`, 400 `{error, node_errors}`, 500 for a body that is not JSON), after the
 * pre-checks; the prompt then waits in the proxy's queue and runs as a remote job.
 */
import { z } from "zod";
import { executionOrder, type Prompt } from "../emulator/graph.ts";
import { precheckPrompt } from "./precheck.ts";
import type { ProxyContext } from "./routes.ts";

const PromptBody = z.looseObject({
  prompt: z.unknown().optional(),
  client_id: z.string().nullish(),
  prompt_id: z.unknown().optional(),
  number: z.coerce.number().optional(),
  front: z.unknown().optional(),
  extra_data: z.record(z.string(), z.unknown()).optional(),
  partial_execution_targets: z.array(z.coerce.string()).nullish(),
});
type PromptBody = z.infer<typeof PromptBody>;

// secrets ComfyUI keeps out of /queue and /history; the Comfy.org API key goes with the job instead
const SENSITIVE_KEYS = ["auth_token_comfy_org", "api_key_comfy_org"];
/** What aiohttp answers for an exception in a handler (ComfyUI answers a body it cannot read with it). */
export const SERVER_ERROR = "500 Internal Server Error\n\nServer got itself in trouble";

/** Checks, answers and queues one prompt for the endpoint. */
export async function postPrompt(text: string, ctx: ProxyContext): Promise<Response> {
  const parsed = _parse(text);
  // aiohttp's request.json() raising is an unhandled 500 in ComfyUI
  if (parsed === undefined) return new Response(SERVER_ERROR, { status: 500 });
  if (typeof parsed !== "object" || parsed === null || !("prompt" in parsed)) {
    const error = { type: "no_prompt", message: "No prompt provided", details: "No prompt provided", extra_info: {} };
    return Response.json({ error, node_errors: {} }, { status: 400 });
  }
  const body = PromptBody.safeParse(parsed);
  const prompt = body.success ? body.data.prompt : undefined;
  if (!body.success || typeof prompt !== "object" || prompt === null || Array.isArray(prompt)) {
    const details = body.success ? "prompt must be an object of nodes" : z.prettifyError(body.error);
    const error = { type: "invalid_prompt", message: "Cannot execute because the request is malformed.", details };
    return Response.json({ error: { ...error, extra_info: {} }, node_errors: {} }, { status: 400 });
  }
  // ComfyUI 0.28.2: absent or null mints one; anything but a canonical UUID is refused before validation
  const id = body.data.prompt_id;
  if (id !== undefined && id !== null && !(typeof id === "string" && CANONICAL_UUID.test(id))) {
    const error = {
      type: "invalid_prompt_id",
      message: "prompt_id must be a valid UUID",
      details:
        "prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one",
      extra_info: {},
    };
    return Response.json({ error, node_errors: {} }, { status: 400 });
  }
  return _checkAndQueue(prompt as Prompt, body.data, ctx);
}

const CANONICAL_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

async function _checkAndQueue(prompt: Prompt, body: PromptBody, ctx: ProxyContext): Promise<Response> {
  let info: Awaited<ReturnType<ProxyContext["objectInfo"]>>;
  try {
    info = await ctx.objectInfo();
  } catch (cause) {
    const message = `comfy-worker proxy could not read /object_info from ComfyUI at ${ctx.upstream.url}`;
    const error = { type: "comfy_unavailable", message, details: String(cause), extra_info: {} };
    return Response.json({ error, node_errors: {} }, { status: 503 });
  }
  const check = await precheckPrompt(prompt, {
    info,
    readInput: (file) => ctx.upstream.readFile(file),
    known: ctx.known,
    ...(body.partial_execution_targets ? { partialTargets: body.partial_execution_targets } : {}),
  });
  if (!check.ok) {
    ctx.log.info(`invalid prompt: ${check.error.message}: ${check.error.details}`);
    return Response.json({ error: check.error, node_errors: check.nodeErrors }, { status: 400 });
  }
  const number = body.number ?? (await ctx.numbers.take(Boolean(body.front)));
  if (body.number !== undefined) ctx.numbers.saw(body.number);
  const promptId = typeof body.prompt_id === "string" ? body.prompt_id : crypto.randomUUID();
  const extraData: Record<string, unknown> = { ...body.extra_data };
  const apiKey = extraData.api_key_comfy_org;
  for (const key of SENSITIVE_KEYS) delete extraData[key];
  if ("client_id" in body) extraData.client_id = body.client_id;
  extraData.create_time = Date.now();
  // only the outputs that passed validation run, as in ComfyUI: the endpoint gets just the nodes they need
  const workflow = check.input.workflow as Prompt;
  const needed = new Set(executionOrder(workflow, check.outputs));
  const input = {
    ...check.input,
    // PreviewImage writes to temp: the UI shows those too
    output: { include_temp: true },
    // in the prompt's own key order: SaveImage embeds the prompt as JSON, and a local run would have
    workflow: Object.fromEntries(Object.entries(workflow).filter(([id]) => needed.has(id))),
    ...(typeof apiKey === "string" && apiKey ? { comfy_org_api_key: apiKey } : {}),
    ...(_wantsPreviews(extraData.preview_method, ctx.previews) ? { preview: REMOTE_PREVIEW } : {}),
  };
  ctx.queue.put({
    number,
    promptId,
    prompt,
    extraData,
    outputs: check.outputs,
    clientId: typeof body.client_id === "string" ? body.client_id : null,
    input,
    createdAt: Date.now(),
    cancel: new AbortController(),
  });
  return Response.json({ prompt_id: promptId, number, node_errors: check.nodeErrors });
}

function _parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

// ComfyUI's own preview size (--preview-size 512) at a rate the UI's live preview shows smoothly
const REMOTE_PREVIEW = { max_fps: 2, max_px: 512 };

// the frontend sends its preview setting as extra_data.preview_method; "default" and "none" ask for none here
function _wantsPreviews(method: unknown, previewsOn: boolean): boolean {
  if (typeof method === "string" && method !== "default") return method !== "none";
  return previewsOn;
}
