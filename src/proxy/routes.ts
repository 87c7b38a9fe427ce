import { z } from "zod";
import type { ObjectInfo } from "../comfy/object-info.ts";
import type { Logger } from "../log.ts";
import type { EndpointClient } from "../remote/index.ts";
import type { BrowserHub } from "./hub.ts";
import { localJobsQuery, mergeJobs, remoteJobs } from "./jobs.ts";
import type { KnownMissing } from "./known-missing.ts";
import { localHistoryQuery, mergeHistory, mergeQueue } from "./merge.ts";
import type { QueueNumbers } from "./numbers.ts";
import { postPrompt } from "./post-prompt.ts";
import type { RemoteQueue } from "./queue.ts";
import { resolveStoredView } from "./store.ts";
import { UNREACHABLE_HEADER, type Upstream } from "./upstream.ts";

export type QueueTarget = "remote" | "local";

/** Everything the proxy's routes share. */
export interface ProxyContext {
  upstream: Upstream;
  hub: BrowserHub;
  known: KnownMissing;
  queue: RemoteQueue;
  /** Queue numbers shared by remote and local prompts. */
  numbers: QueueNumbers;
  state: {
    target: QueueTarget;
    executing: { clientId: string | null; node: () => string | undefined } | undefined;
  };
  outDir: string;
  client: EndpointClient;
  log: Logger;
  objectInfo: () => Promise<ObjectInfo>;
  /** PREVIEWS=on: every remote job asks for live previews (else only prompts whose preview method asks). */
  previews: boolean;
}

/** The route that flips where Queue runs; `GET` shows it. */
export const TARGET_ROUTE = "/comfy-worker/queue-target";
/** A per-request override of the queue target on POST /prompt. */
export const TARGET_HEADER = "comfy-worker-target";

const Target = z.enum(["remote", "local"]);
const TargetBody = z.object({ target: Target });
const ListEdit = z.looseObject({ clear: z.unknown().optional(), delete: z.array(z.coerce.string()).optional() });
const InterruptBody = z.looseObject({ prompt_id: z.string().nullish() });
const EMPTY_QUEUE = { queue_running: [], queue_pending: [] };

/** Answers one HTTP request: the proxy's own routes, else ComfyUI's answer passed through. */
export async function handleRequest(req: Request, ctx: ProxyContext): Promise<Response> {
  const url = new URL(req.url);
  if (url.pathname === TARGET_ROUTE) return _target(req, ctx);
  // the Jobs API exists only under /api
  if (url.pathname === "/api/jobs" && req.method === "GET")
    return _merged(req, ctx, (local) => mergeJobs(local, ctx.queue, url.searchParams), localJobsQuery, {
      jobs: [],
      pagination: { total: 0 },
    });
  if (url.pathname.startsWith("/api/jobs/")) return _job(req, ctx, url.pathname.slice(10));
  // every ComfyUI route also answers under /api
  const path = url.pathname.startsWith("/api/") ? url.pathname.slice(4) : url.pathname;
  const key = `${req.method} ${path}`;
  if (key === "POST /prompt") return _prompt(req, ctx);
  if (key === "GET /prompt") return _merged(req, ctx, (local) => _withRemaining(local, ctx));
  if (key === "GET /queue") return _merged(req, ctx, (local) => mergeQueue(local, ctx.queue), undefined, EMPTY_QUEUE);
  if (key === "GET /history")
    return _merged(req, ctx, (local) => mergeHistory(local, ctx.queue, url.searchParams), localHistoryQuery, {});
  if (req.method === "GET" && path.startsWith("/history/")) return _historyItem(req, ctx, path.slice(9));
  if (key === "POST /queue" || key === "POST /history") return _listEdit(req, ctx, path);
  if (key === "POST /interrupt") return _interrupt(req, ctx);
  if (key === "GET /view") return _view(req, ctx, url.searchParams);
  return ctx.upstream.forward(req);
}

async function _prompt(req: Request, ctx: ProxyContext): Promise<Response> {
  const override = Target.safeParse(req.headers.get(TARGET_HEADER)?.toLowerCase());
  const target = override.success ? override.data : ctx.state.target;
  if (target === "local") return _localPrompt(req, ctx);
  return postPrompt(await req.text(), ctx);
}

// ComfyUI numbers the prompt as we say, so local and remote prompts share one sequence; a body that is no JSON
// object goes as it came, for ComfyUI's own answer
async function _localPrompt(req: Request, ctx: ProxyContext): Promise<Response> {
  const text = await req.text();
  const body = _parse(text);
  if (typeof body !== "object" || body === null || Array.isArray(body)) return ctx.upstream.forward(req, text);
  const fields = body as { number?: unknown; front?: unknown };
  if (fields.number !== undefined) {
    ctx.numbers.saw(Number(fields.number));
    return ctx.upstream.forward(req, text);
  }
  const number = await ctx.numbers.take(Boolean(fields.front));
  return ctx.upstream.forward(req, withNumber(text, number));
}

/**
 * The body as sent, with `"number": n` as its first key. Written into the text, not parsed and re-encoded: a seed
 * above 2^53 (KSampler takes up to 2^64 - 1) would come out of JSON.parse rounded, and `1.0` as `1`.
 */
export function withNumber(text: string, number: number): string {
  const open = text.indexOf("{");
  const rest = text.slice(open + 1);
  return `${text.slice(0, open + 1)}"number": ${number}${rest.trim().startsWith("}") ? "" : ","}${rest}`;
}

async function _target(req: Request, ctx: ProxyContext): Promise<Response> {
  if (req.method === "POST") {
    const body = TargetBody.safeParse(await req.json().catch(() => undefined));
    if (!body.success)
      return Response.json({ error: 'send {"target": "local"} or {"target": "remote"}' }, { status: 400 });
    ctx.state.target = body.data.target;
    ctx.log.info(`Queue now runs ${_where(ctx)}`);
  } else if (req.method !== "GET") return new Response(null, { status: 405 });
  return Response.json({ target: ctx.state.target, endpoint: ctx.client.target.id, comfy: ctx.upstream.url });
}

/** Where Queue runs, for the start-up line and the log. */
export function describeTarget(target: QueueTarget, endpoint: string, comfy: string): string {
  return target === "remote" ? `on endpoint ${endpoint}` : `locally on ComfyUI at ${comfy}`;
}

function _where(ctx: ProxyContext): string {
  return describeTarget(ctx.state.target, ctx.client.target.id, ctx.upstream.url);
}

// ComfyUI's answer with ours merged in; with `unreachable` (ComfyUI's empty answer), the remote prompts the proxy
// holds are still shown while ComfyUI is down
async function _merged(
  req: Request,
  ctx: ProxyContext,
  merge: (local: unknown) => unknown,
  localQuery?: (query: URLSearchParams) => URLSearchParams,
  unreachable?: unknown,
): Promise<Response> {
  const url = new URL(req.url);
  if (localQuery) url.search = localQuery(url.searchParams).toString();
  const res = await ctx.upstream.forward(localQuery ? new Request(url.href, req) : req);
  if (unreachable !== undefined && res.headers.has(UNREACHABLE_HEADER))
    return Response.json(merge(structuredClone(unreachable)));
  if (res.status !== 200 || !res.headers.get("content-type")?.includes("json")) return res;
  const local = await res.json().catch(() => undefined);
  const headers = new Headers(res.headers);
  headers.delete("content-length");
  headers.delete("content-encoding");
  return new Response(JSON.stringify(merge(local)), { status: 200, headers });
}

function _withRemaining(local: unknown, ctx: ProxyContext): unknown {
  const info = (local as { exec_info?: { queue_remaining?: number } })?.exec_info;
  if (typeof info?.queue_remaining === "number") info.queue_remaining += ctx.queue.remaining();
  return local;
}

async function _historyItem(req: Request, ctx: ProxyContext, id: string): Promise<Response> {
  const finished = ctx.queue.history.get(decodeURIComponent(id));
  if (!finished) return ctx.upstream.forward(req);
  return Response.json({ [finished.item.promptId]: finished.entry });
}

// GET /api/jobs/{id} and POST /api/jobs/{id}/cancel for our prompts; anything else is ComfyUI's
async function _job(req: Request, ctx: ProxyContext, rest: string): Promise<Response> {
  if (req.method === "POST" && rest === "cancel") return _cancelBatch(req, ctx);
  const [rawId, action] = rest.split("/");
  const id = decodeURIComponent(rawId ?? "");
  const ours = ctx.queue.has(id) || ctx.queue.history.has(id);
  if (!ours) return ctx.upstream.forward(req);
  if (req.method === "GET" && action === undefined)
    return Response.json(remoteJobs(ctx.queue, true).find((j) => j.id === id));
  if (req.method === "POST" && action === "cancel") return Response.json({ cancelled: _cancel(ctx, id) });
  return ctx.upstream.forward(req);
}

// POST /api/jobs/cancel {job_ids}: ours are cancelled here, the rest by ComfyUI, which checks every id first (a
// malformed one is its 400, and then nothing is cancelled); `cancelled` is true when either side cancelled one
async function _cancelBatch(req: Request, ctx: ProxyContext): Promise<Response> {
  const text = await req.text();
  const ids = (_parse(text) as { job_ids?: unknown } | undefined)?.job_ids;
  if (!Array.isArray(ids)) return ctx.upstream.forward(req, text);
  const ours = ids.filter((id) => typeof id === "string" && (ctx.queue.has(id) || ctx.queue.history.has(id)));
  const theirs = ids.filter((id) => !ours.includes(id));
  let local = false;
  if (theirs.length > 0) {
    const res = await ctx.upstream.forward(req, JSON.stringify({ job_ids: theirs }));
    // an older ComfyUI without the route (404) has nothing of ours to cancel either
    if (res.status !== 200 && res.status !== 404) return res;
    local = res.status === 200 && ((await res.json().catch(() => ({}))) as { cancelled?: unknown }).cancelled === true;
  }
  const cancelled = ours.map((id) => _cancel(ctx, id)).some(Boolean);
  return Response.json({ cancelled: cancelled || local });
}

// ComfyUI removes pending items only; a remote prompt named in a delete is cancelled even when running
async function _listEdit(req: Request, ctx: ProxyContext, path: string): Promise<Response> {
  const text = await req.text();
  const body = ListEdit.safeParse(_parse(text));
  if (body.success) {
    if (path === "/queue") {
      if (body.data.clear) ctx.queue.wipe();
      for (const id of body.data.delete ?? []) _cancel(ctx, id);
    } else {
      if (body.data.clear) ctx.queue.history.clear();
      for (const id of body.data.delete ?? []) ctx.queue.history.delete(id);
    }
  }
  return ctx.upstream.forward(req, text);
}

async function _interrupt(req: Request, ctx: ProxyContext): Promise<Response> {
  const text = await req.text();
  const promptId = InterruptBody.safeParse(_parse(text) ?? {}).data?.prompt_id;
  const running = ctx.queue.running();
  // like ComfyUI: with a prompt_id only that prompt, without one whatever runs (here: both sides)
  if (running && (!promptId || promptId === running.promptId)) _cancel(ctx, running.promptId);
  if (promptId && ctx.queue.has(promptId)) return new Response(null, { status: 200 });
  const res = await ctx.upstream.forward(req, text);
  // the remote prompt was stopped: a local ComfyUI that is down has nothing to interrupt
  return res.headers.has(UNREACHABLE_HEADER) && running ? new Response(null, { status: 200 }) : res;
}

/** Cancels a remote prompt, pending or running; false when there was nothing to cancel (as ComfyUI answers). */
function _cancel(ctx: ProxyContext, promptId: string): boolean {
  if (ctx.queue.delete(promptId)) return true;
  const running = ctx.queue.running();
  if (running?.promptId !== promptId || running.cancel.signal.aborted) return false;
  running.cancel.abort();
  return true;
}

async function _view(req: Request, ctx: ProxyContext, query: URLSearchParams): Promise<Response> {
  const stored = await resolveStoredView(query, ctx.outDir);
  if (!stored) return ctx.upstream.forward(req);
  if ("status" in stored) return new Response(null, { status: stored.status });
  const file = Bun.file(stored.path);
  return new Response(file, {
    headers: { "content-type": file.type, "content-disposition": `filename="${stored.filename}"` },
  });
}

function _parse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
