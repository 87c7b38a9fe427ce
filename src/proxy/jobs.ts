/**
 * ComfyUI's Jobs API (`GET /api/jobs`, `/api/jobs/{id}`; comfy_execution/jobs.py), which newer frontends use
 * for the queue and history panels, with the proxy's remote prompts merged in, shaped as jobs.py shapes them.
 */
import type { FinishedPrompt, RemotePrompt, RemoteQueue } from "./queue.ts";

type Job = Record<string, unknown>;
const STATUSES = ["pending", "in_progress", "completed", "failed", "cancelled"];

/** Our prompts as jobs (`detail` adds outputs, execution_status and workflow, as get_job does). */
export function remoteJobs(queue: RemoteQueue, detail = false): Job[] {
  const running = queue.running();
  return [
    ...queue.pending().map((item) => _queued(item, "pending", detail)),
    ...(running ? [_queued(running, "in_progress", detail)] : []),
    ...[...queue.history.values()].map((finished) => _finished(finished, detail)),
  ];
}

/** GET /api/jobs: ComfyUI's page merged with ours, filtered, sorted and paginated as ComfyUI does. */
export function mergeJobs(local: unknown, queue: RemoteQueue, query: URLSearchParams): unknown {
  const body = local as { jobs?: Job[]; pagination?: { total?: number } };
  if (!Array.isArray(body?.jobs)) return local;
  // read as server.py reads them: statuses trimmed and lower-cased, sort words lower-cased, workflow_id exact
  const statuses = (query.get("status") ?? "")
    .split(",")
    .map((status) => status.trim().toLowerCase())
    .filter((status) => STATUSES.includes(status));
  const workflowId = query.get("workflow_id");
  const ours = remoteJobs(queue).filter(
    (job) =>
      (statuses.length === 0 || statuses.includes(String(job.status))) &&
      (!workflowId || job.workflow_id === workflowId),
  );
  const desc = (query.get("sort_order") ?? "desc").toLowerCase() !== "asc";
  const key = (job: Job) =>
    (query.get("sort_by") ?? "").toLowerCase() === "execution_duration"
      ? Number(job.execution_end_time ?? 0) - Number(job.execution_start_time ?? 0)
      : Number(job.create_time ?? 0);
  const jobs = [...body.jobs, ...ours].sort((a, b) => (desc ? key(b) - key(a) : key(a) - key(b)));
  const offset = Math.max(0, Number(query.get("offset") ?? 0) || 0);
  const limit = Number(query.get("limit") ?? 0) || undefined;
  const page = jobs.slice(offset, limit ? offset + limit : undefined);
  const total = (body.pagination?.total ?? body.jobs.length) + ours.length;
  return {
    ...body,
    jobs: page,
    pagination: { offset, limit: limit ?? null, total, has_more: offset + page.length < total },
  };
}

/**
 * The query for ComfyUI's part of a merged page: the first `offset + limit` of its jobs, since the page is cut from
 * the merged list once (ComfyUI cutting its own page first lost jobs). Values ComfyUI would refuse go as they are,
 * for its 400.
 */
export function localJobsQuery(query: URLSearchParams): URLSearchParams {
  const limit = Number(query.get("limit") ?? Number.NaN);
  const offset = Number(query.get("offset") ?? 0);
  if (!Number.isInteger(offset) || (query.has("limit") && !(Number.isInteger(limit) && limit > 0))) return query;
  const local = new URLSearchParams(query);
  local.delete("offset");
  if (query.has("limit")) local.set("limit", String(Math.max(0, offset) + limit));
  return local;
}

function _queued(item: RemotePrompt, status: string, detail: boolean): Job {
  return _pruned({
    id: item.promptId,
    status,
    priority: item.number,
    create_time: item.extraData.create_time,
    outputs_count: 0,
    previewable_outputs_count: 0,
    workflow_id: _workflowId(item),
    ...(detail ? { workflow: { prompt: item.prompt, extra_data: item.extraData } } : {}),
  });
}

function _finished({ item, entry, outcome }: FinishedPrompt, detail: boolean): Job {
  const times = Object.fromEntries(entry.status.messages.map(([event, data]) => [event, data.timestamp]));
  const files = Object.entries(entry.outputs).flatMap(([nodeId, ui]) =>
    Object.entries(ui).flatMap(([mediaType, items]) =>
      mediaType === "animated" || !Array.isArray(items)
        ? []
        : items.filter((i) => typeof i === "object" && i !== null).map((i) => ({ ...i, nodeId, mediaType })),
    ),
  );
  const preview = files.find((f) => f.type === "output") ?? files[0];
  const error = entry.status.messages.find(([event]) => event === "execution_error")?.[1];
  return _pruned({
    id: item.promptId,
    status: outcome === "success" ? "completed" : outcome === "interrupted" ? "cancelled" : "failed",
    priority: item.number,
    create_time: item.extraData.create_time,
    execution_start_time: times.execution_start,
    execution_end_time: times.execution_success ?? times.execution_error ?? times.execution_interrupted,
    execution_error: error,
    outputs_count: files.length,
    previewable_outputs_count: files.length,
    preview_output: preview,
    workflow_id: _workflowId(item),
    ...(detail
      ? {
          outputs: entry.outputs,
          execution_status: entry.status,
          workflow: { prompt: item.prompt, extra_data: item.extraData },
        }
      : {}),
  });
}

function _workflowId(item: RemotePrompt): unknown {
  return (item.extraData.extra_pnginfo as { workflow?: { id?: unknown } } | undefined)?.workflow?.id;
}

// prune_dict: keys whose value is None are left out
function _pruned(job: Job): Job {
  return Object.fromEntries(Object.entries(job).filter(([, value]) => value !== undefined && value !== null));
}
