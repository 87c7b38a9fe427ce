/**
 * A fake of RunPod's public endpoint API (reference §4), independent of our `serve`: `/v2/{ep}/run`, `status`,
 * `stream`, `cancel`, `health`, with knobs for 401/404/429/5xx answers, expired results, slow streams and a
 * connection dropped mid-answer. Jobs follow a scripted plan on real timers.
 */
import type { Server } from "bun";

export interface FakeJobPlan {
  /** ms in IN_QUEUE before IN_PROGRESS (reported as delayTime). */
  queueMs?: number;
  /** Stream chunks, one every `stepMs` while IN_PROGRESS. */
  chunks?: unknown[];
  stepMs?: number;
  /** Report each chunk as the /status output while IN_PROGRESS (RunPod-mode progress updates) instead of streaming it. */
  progressInStatus?: boolean;
  final?: { status: "COMPLETED" | "FAILED" | "CANCELLED" | "TIMED_OUT"; output?: unknown; error?: string };
  /** Reported executionTime (default: measured). */
  executionTime?: number;
}

interface FakeJob {
  id: string;
  body: unknown;
  status: string;
  createdAt: number;
  startedAt?: number;
  finishedAt?: number;
  stream: unknown[];
  delivered: number;
  output?: unknown;
  error?: string;
  expired: boolean;
  timers: Timer[];
  plan: FakeJobPlan;
}

export interface FakeEndpoint {
  url: string;
  /** Base for RUNPOD_ENDPOINT_BASE_URL (`…/v2`). */
  base: string;
  id: string;
  jobs: Map<string, FakeJob>;
  /** Every request as `METHOD /path`. */
  requests: string[];
  authHeaders: Array<string | null>;
  cancels: string[];
  /** Plan for the next submitted jobs (default: completes at once with `{ok: true}`). */
  plan: FakeJobPlan;
  /**
   * Answer the next `count` requests of `op` with `status` (e.g. 429, 500); `drop` breaks the connection
   * mid-answer, `truncate` ends a 200 answer half-way.
   */
  failNext(op: string, status: number | "drop" | "truncate", count?: number, headers?: Record<string, string>): void;
  /** Forget a job: its /status and /stream answer 404 from now on. */
  expire(jobId: string): void;
  /** Delay every /stream answer by this many ms. */
  streamDelayMs: number;
  /** Delay every /run answer by this many ms; the job is queued before the wait, as RunPod's would be. */
  submitDelayMs: number;
  /** What /health reports about workers (idle 0 and running 0: a job will wait for a cold start). */
  workers: { idle: number; running: number };
  stop(): void;
}

/** Starts the fake on a free loopback port; `apiKey` must come as `Bearer <key>` or raw. */
export function startFakeEndpoint(options: { id?: string; apiKey?: string } = {}): FakeEndpoint {
  const id = options.id ?? "fake-ep";
  const failures: Array<{ op: string; status: number | "drop" | "truncate"; headers: Record<string, string> }> = [];
  const fake: FakeEndpoint = {
    url: "",
    base: "",
    id,
    jobs: new Map(),
    requests: [],
    authHeaders: [],
    cancels: [],
    plan: { final: { status: "COMPLETED", output: { ok: true } } },
    streamDelayMs: 0,
    submitDelayMs: 0,
    workers: { idle: 1, running: 0 },
    failNext: (op, status, count = 1, headers = {}) => {
      for (let i = 0; i < count; i++) failures.push({ op, status, headers });
    },
    expire: (jobId) => {
      const job = fake.jobs.get(jobId);
      if (job) job.expired = true;
    },
    stop: () => {
      for (const job of fake.jobs.values()) for (const timer of job.timers) clearTimeout(timer);
      server.stop(true);
    },
  };
  const server: Server<undefined> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: async (req) => {
      const url = new URL(req.url);
      fake.requests.push(`${req.method} ${url.pathname}`);
      fake.authHeaders.push(req.headers.get("authorization"));
      const match = url.pathname.match(/^\/v2\/([^/]+)\/([a-z-]+)(?:\/([^/]+))?$/);
      if (!match) return Response.json({ error: "not found" }, { status: 404 });
      const [, ep, op, jobId] = match as unknown as [string, string, string, string | undefined];
      const failure = failures.findIndex((f) => f.op === op);
      if (failure >= 0) {
        const [f] = failures.splice(failure, 1);
        if (f?.status === "drop") return _dropped();
        if (f?.status === "truncate")
          return new Response('{"status":"IN_PROG', { headers: { "content-type": "application/json" } });
        return Response.json({ error: "injected" }, { status: f?.status as number, headers: f?.headers });
      }
      const given = req.headers.get("authorization")?.replace(/^Bearer\s+/i, "");
      if (options.apiKey && given !== options.apiKey) return new Response("Unauthorized", { status: 401 });
      if (ep !== id) return Response.json({ error: "endpoint not found" }, { status: 404 });
      return _route(fake, op, jobId, req);
    },
  });
  fake.url = `http://127.0.0.1:${server.port}/v2/${id}`;
  fake.base = `http://127.0.0.1:${server.port}/v2`;
  return fake;
}

async function _route(fake: FakeEndpoint, op: string, jobId: string | undefined, req: Request): Promise<Response> {
  if (op === "run" && req.method === "POST") {
    const reply = _submit(fake, await req.json());
    if (fake.submitDelayMs) await Bun.sleep(fake.submitDelayMs);
    return Response.json(reply);
  }
  if (op === "health") return Response.json({ jobs: { inQueue: 0, inProgress: 0 }, workers: fake.workers });
  const job = jobId ? fake.jobs.get(jobId) : undefined;
  if (!job || job.expired) return Response.json({ error: "job not found" }, { status: 404 });
  if (op === "status") return Response.json(_view(job));
  if (op === "cancel") {
    fake.cancels.push(job.id);
    if (!["COMPLETED", "FAILED", "TIMED_OUT", "CANCELLED"].includes(job.status)) {
      for (const timer of job.timers) clearTimeout(timer);
      Object.assign(job, { status: "CANCELLED", finishedAt: Date.now() });
    }
    return Response.json({ id: job.id, status: job.status });
  }
  if (op === "stream") {
    if (fake.streamDelayMs) await Bun.sleep(fake.streamDelayMs);
    const chunks = job.stream.slice(job.delivered);
    job.delivered = job.stream.length;
    return Response.json({ status: job.status, stream: chunks.map((output) => ({ output })) });
  }
  return Response.json({ error: "unknown op" }, { status: 404 });
}

function _submit(fake: FakeEndpoint, body: unknown) {
  const plan = fake.plan;
  const job: FakeJob = {
    id: `job-${fake.jobs.size + 1}-${crypto.randomUUID().slice(0, 8)}`,
    body,
    status: "IN_QUEUE",
    createdAt: Date.now(),
    stream: [],
    delivered: 0,
    expired: false,
    timers: [],
    plan,
  };
  fake.jobs.set(job.id, job);
  const later = (ms: number, fn: () => void) => {
    job.timers.push(setTimeout(fn, ms));
  };
  const queueMs = plan.queueMs ?? 0;
  const stepMs = plan.stepMs ?? 10;
  later(queueMs, () => Object.assign(job, { status: "IN_PROGRESS", startedAt: Date.now() }));
  for (const [i, chunk] of (plan.chunks ?? []).entries()) {
    later(queueMs + stepMs * (i + 1), () => {
      if (plan.progressInStatus) job.output = chunk;
      else job.stream.push(chunk);
    });
  }
  later(queueMs + stepMs * ((plan.chunks?.length ?? 0) + 1), () => {
    const final = plan.final ?? { status: "COMPLETED", output: { ok: true } };
    Object.assign(job, { status: final.status, finishedAt: Date.now(), output: final.output, error: final.error });
  });
  return { id: job.id, status: job.status };
}

function _view(job: FakeJob) {
  const view: Record<string, unknown> = { id: job.id, status: job.status };
  if (job.startedAt) view.delayTime = job.startedAt - job.createdAt;
  if (job.finishedAt && job.startedAt) view.executionTime = job.plan.executionTime ?? job.finishedAt - job.startedAt;
  if (job.output !== undefined) view.output = job.output;
  if (job.error !== undefined) view.error = job.error;
  view.workerId = "fake-worker";
  return view;
}

// a 200 whose body breaks off: what a dropped connection mid-answer looks like to the client. The body
// ends early rather than erroring: a stream error on the server side is an unhandled error of this process
function _dropped(): Response {
  const body = new ReadableStream({
    start(controller) {
      controller.enqueue(new TextEncoder().encode('{"status":"IN_PROG'));
      setTimeout(() => controller.close(), 5);
    },
  });
  return new Response(body, { headers: { "content-type": "application/json" } });
}
