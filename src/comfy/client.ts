import { type $Fetch, ofetch } from "ofetch";
import { z } from "zod";
import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { httpError, parseAnswer, transportError } from "./client-errors.ts";
import type { ObjectInfo } from "./object-info.ts";
import { createPromptEvents, type PromptEvents } from "./prompt-events.ts";
import { promptRejected } from "./prompt-rejected.ts";
import {
  type ApiWorkflow,
  type HistoryEntry,
  HistoryResponse,
  NameList,
  type NodeError,
  ObjectInfoBody,
  PromptErrorBody,
  PromptResponse,
  QueueResponse,
  SystemStats,
  UploadResponse,
} from "./schemas.ts";

export { type Transport, transportOf } from "./client-errors.ts";

/** How to reach one ComfyUI server. */
export interface ComfyClientOptions {
  url: string;
  /** Per-request deadline; default 30 s. */
  timeoutMs?: number;
  log?: Logger;
}

/** Where an output or input file lives, as ComfyUI reports it in history outputs. */
export interface ComfyFileRef {
  filename: string;
  subfolder?: string;
  type?: "output" | "temp" | "input";
}

// GET /experiment/models (app/model_manager.py): [{name: folder key, folders: [absolute paths]}]
const ModelFolders = z.array(z.object({ name: z.string(), folders: z.array(z.string()) }));

/** Typed access to ComfyUI's HTTP API; every call has a deadline and throws WorkerError. */
export interface ComfyClient {
  readonly url: string;
  /** The one event socket for prompts queued through this client (connects on first use). */
  readonly events: PromptEvents;
  /** Closes the event socket for good; call when this ComfyUI is no longer used. */
  close(): void;
  systemStats(signal?: AbortSignal): Promise<SystemStats>;
  /**
   * GET /object_info; with `nodeTypes`, only those entries (GET /object_info/{type} each, at once: far cheaper on
   * a ComfyUI with many nodes, which builds the whole answer for every full request). Unknown types are absent.
   */
  objectInfo(nodeTypes?: readonly string[]): Promise<ObjectInfo>;
  /** Folder names without an argument, else the files ComfyUI lists in that folder. */
  models(folder?: string): Promise<string[]>;
  /** GET /experiment/models: each folder key's search paths on ComfyUI's machine (where files go). */
  modelFolders(): Promise<Record<string, string[]>>;
  queuePrompt(
    prompt: ApiWorkflow,
    opts: { clientId: string; promptId?: string; extraData?: Record<string, unknown> },
  ): Promise<{ promptId: string; number: number; nodeErrors: Record<string, NodeError> }>;
  /** undefined until the prompt has finished (ComfyUI answers `{}`). */
  history(promptId: string, signal?: AbortSignal): Promise<HistoryEntry | undefined>;
  view(file: ComfyFileRef, signal?: AbortSignal): Promise<Response>;
  upload(
    data: Blob | Uint8Array,
    name: string,
    opts?: { subfolder?: string; type?: "input" | "temp" | "output"; overwrite?: boolean },
  ): Promise<{ name: string; subfolder: string; type: string }>;
  interrupt(promptId?: string): Promise<void>;
  deleteQueued(promptIds: string[]): Promise<void>;
  /** Prompt ids running and waiting. */
  queue(): Promise<{ running: string[]; pending: string[] }>;
  /** Unloads models and frees memory (both default to true). */
  free(opts?: { unloadModels?: boolean; freeMemory?: boolean }): Promise<void>;
}

const DEFAULT_TIMEOUT_MS = 30_000;
// the newest ComfyUI walks every model folder on each GET /object_info
const OBJECT_INFO_MIN_TIMEOUT_MS = 120_000;
const GET_RETRIES = 1;
const RETRY_DELAY_MS = 250;
// POST /interrupt, /queue and /free answer 200 with an empty body
const Ignored = z.unknown();

interface RequestOptions {
  method?: "GET" | "POST";
  body?: unknown;
  signal?: AbortSignal;
  timeoutMs?: number;
}

interface Http {
  url: string;
  timeoutMs: number;
  /** Any HTTP status is returned; transport failures throw WorkerError (or the caller's abort reason). */
  request(path: string, o?: RequestOptions): Promise<{ status: number; data: unknown }>;
  /** 2xx bodies parsed with `schema`; error statuses throw WorkerError. */
  json<T extends z.ZodType>(schema: T, path: string, o?: RequestOptions): Promise<z.infer<T>>;
}

/** Builds a client; no I/O happens until a method is called. */
export function createComfyClient(options: ComfyClientOptions): ComfyClient {
  const http = _createHttp(options.url.replace(/\/+$/, ""), options.timeoutMs ?? DEFAULT_TIMEOUT_MS, options.log);
  const events = createPromptEvents({ url: http.url, ...(options.log ? { log: options.log } : {}) });
  return {
    url: http.url,
    events,
    close: () => events.close(),
    systemStats: (signal) => http.json(SystemStats, "/system_stats", { signal }),
    objectInfo: (nodeTypes) => (nodeTypes ? _nodeInfo(http, nodeTypes) : _objectInfo(http)),
    models: (folder) => http.json(NameList, folder === undefined ? "/models" : `/models/${encodeURIComponent(folder)}`),
    modelFolders: async () =>
      Object.fromEntries((await http.json(ModelFolders, "/experiment/models")).map((f) => [f.name, f.folders])),
    queuePrompt: (prompt, opts) => _queuePrompt(http, prompt, opts),
    history: (promptId, signal) => _history(http, promptId, signal),
    view: (file, signal) => _view(http, file, signal),
    upload: (data, name, opts) => _upload(http, data, name, opts),
    interrupt: async (promptId) => {
      await http.json(Ignored, "/interrupt", { method: "POST", body: promptId ? { prompt_id: promptId } : {} });
    },
    deleteQueued: async (promptIds) => {
      await http.json(Ignored, "/queue", { method: "POST", body: { delete: promptIds } });
    },
    queue: () => _queue(http),
    free: async (opts = {}) => {
      const body = { unload_models: opts.unloadModels ?? true, free_memory: opts.freeMemory ?? true };
      await http.json(Ignored, "/free", { method: "POST", body });
    },
  };
}

function _createHttp(url: string, timeoutMs: number, log?: Logger): Http {
  // ofetch retries on any abort whose name isn't AbortError; an aborted signal fails the retry at once, so skip the delay
  const retryDelay = (ctx: { options: { signal?: AbortSignal | null } }) =>
    ctx.options.signal?.aborted ? 0 : RETRY_DELAY_MS;
  const $fetch = ofetch.create({ baseURL: url, retryDelay });
  const request: Http["request"] = (path, o = {}) =>
    _request($fetch, url, path, { timeoutMs, ...o }).catch((error: unknown) => {
      log?.debug("ComfyUI request failed", { request: `${o.method ?? "GET"} ${path}`, error: String(error) });
      throw error;
    });
  const json: Http["json"] = async (schema, path, o = {}) => {
    const res = await request(path, o);
    const what = `${o.method ?? "GET"} ${path}`;
    if (res.status >= 400) throw httpError(url, what, res.status, res.data);
    return parseAnswer(url, what, schema, res.data);
  };
  return { url, timeoutMs, request, json };
}

async function _request($fetch: $Fetch, url: string, path: string, o: RequestOptions & { timeoutMs: number }) {
  const method = o.method ?? "GET";
  try {
    const res = await $fetch.raw(path, {
      method,
      body: o.body as Record<string, unknown>,
      signal: _anySignal(AbortSignal.timeout(o.timeoutMs), o.signal),
      // we map statuses ourselves; GETs are idempotent, so one retry rides out a blip
      ignoreResponseError: true,
      retry: method === "GET" ? GET_RETRIES : 0,
    });
    return { status: res.status, data: res._data as unknown };
  } catch (error) {
    throw transportError(url, `${method} ${path}`, error, o.timeoutMs, o.signal);
  }
}

async function _queuePrompt(
  http: Http,
  prompt: ApiWorkflow,
  opts: { clientId: string; promptId?: string; extraData?: Record<string, unknown> },
) {
  const body = {
    prompt,
    client_id: opts.clientId,
    ...(opts.promptId ? { prompt_id: opts.promptId } : {}),
    ...(opts.extraData ? { extra_data: opts.extraData } : {}),
  };
  const res = await http.request("/prompt", { method: "POST", body });
  if (res.status === 400) {
    const parsed = PromptErrorBody.safeParse(res.data);
    if (parsed.success) throw promptRejected(parsed.data);
  }
  if (res.status >= 400) throw httpError(http.url, "POST /prompt", res.status, res.data);
  const ok = parseAnswer(http.url, "POST /prompt", PromptResponse, res.data);
  return { promptId: ok.prompt_id, number: ok.number, nodeErrors: ok.node_errors };
}

async function _history(http: Http, promptId: string, signal?: AbortSignal): Promise<HistoryEntry | undefined> {
  const path = `/history/${encodeURIComponent(promptId)}`;
  const all = await http.json(HistoryResponse, path, { signal });
  return all[promptId];
}

async function _view(http: Http, file: ComfyFileRef, signal?: AbortSignal): Promise<Response> {
  const query = new URLSearchParams({
    filename: file.filename,
    subfolder: file.subfolder ?? "",
    type: file.type ?? "output",
  });
  const what = `GET /view?${query}`;
  // the deadline covers the headers only: a large output may legitimately take longer to stream
  const headers = new AbortController();
  const timer = setTimeout(() => headers.abort(new DOMException("timed out", "TimeoutError")), http.timeoutMs);
  let res: Response;
  try {
    res = await fetch(`${http.url}/view?${query}`, { signal: _anySignal(headers.signal, signal) });
  } catch (error) {
    throw transportError(http.url, what, error, http.timeoutMs, signal);
  } finally {
    clearTimeout(timer);
  }
  if (res.ok) return res;
  const text = await res.text().catch(() => "");
  if (res.status === 404) {
    const name = [file.subfolder, file.filename].filter(Boolean).join("/");
    throw new WorkerError("E_NOT_FOUND", `ComfyUI has no ${file.type ?? "output"} file "${name}"`, {
      details: { file },
    });
  }
  throw httpError(http.url, what, res.status, text);
}

async function _upload(
  http: Http,
  data: Blob | Uint8Array,
  name: string,
  opts: { subfolder?: string; type?: "input" | "temp" | "output"; overwrite?: boolean } = {},
) {
  const form = new FormData();
  form.append("image", data instanceof Blob ? data : new Blob([data as Uint8Array<ArrayBuffer>]), name);
  form.append("type", opts.type ?? "input");
  form.append("subfolder", opts.subfolder ?? "");
  form.append("overwrite", opts.overwrite ? "true" : "false");
  const res = await http.json(UploadResponse, "/upload/image", { method: "POST", body: form });
  return { name: res.name, subfolder: res.subfolder, type: res.type };
}

async function _objectInfo(http: Http): Promise<ObjectInfo> {
  const timeoutMs = Math.max(http.timeoutMs, OBJECT_INFO_MIN_TIMEOUT_MS);
  const info = await http.json(ObjectInfoBody, "/object_info", { timeoutMs });
  // every NodeInfo field is defaulted by the schema, so the cast only widens input sections to Partial
  return info as ObjectInfo;
}

async function _nodeInfo(http: Http, nodeTypes: readonly string[]): Promise<ObjectInfo> {
  const entries = await Promise.all(
    [...new Set(nodeTypes)].map((type) => http.json(ObjectInfoBody, `/object_info/${encodeURIComponent(type)}`)),
  );
  return Object.assign({}, ...entries) as ObjectInfo;
}

async function _queue(http: Http): Promise<{ running: string[]; pending: string[] }> {
  const res = await http.json(QueueResponse, "/queue");
  const ids = (items: unknown[][]) => items.map((item) => item[1]).filter((id): id is string => typeof id === "string");
  return { running: ids(res.queue_running), pending: ids(res.queue_pending) };
}

function _anySignal(a: AbortSignal, b?: AbortSignal): AbortSignal {
  return b ? AbortSignal.any([a, b]) : a;
}
