// A fake RunPod job server, written from shared/reference/runpod-protocol.md §1: job-take (a long poll),
// job-take-batch, job-done, job-stream, ping and job-stop. It records every request and can be scripted to fail.

/** One request as the fake saw it. */
export interface Recorded {
  at: number;
  kind: "take" | "take-batch" | "done" | "stream" | "ping" | "stop" | "unknown";
  method: string;
  path: string;
  query: Record<string, string>;
  headers: Record<string, string>;
  body: string;
  // biome-ignore lint/suspicious/noExplicitAny: test bodies are inspected freely
  json?: any;
  workerId?: string;
  jobId?: string;
  /** The status the fake answered a job-done with. */
  answered?: number;
}

export interface FakeJob {
  id: string;
  input?: unknown;
  [key: string]: unknown;
}

export interface FakeRunpodOptions {
  /** How long job-take and job-stop hold a request open when there is nothing to hand out. */
  holdMs?: number;
  apiKey?: string;
  workerId?: string;
}

const GPU_QUERY = "gpu=NVIDIA+GeForce+RTX+4090";

/** Starts the fake on a free loopback port. */
export function startFakeRunpod(options: FakeRunpodOptions = {}) {
  const holdMs = options.holdMs ?? 1_000;
  const apiKey = options.apiKey ?? "rp-worker-key-123";
  const workerId = options.workerId ?? "worker-abc";
  const requests: Recorded[] = [];
  const queue: FakeJob[] = [];
  const stops: string[] = [];
  const takeFailures: Array<number | (() => Response)> = [];
  const doneFailures = new Map<string, number[]>();
  const waiters = new Set<() => void>();
  const notify = () => {
    for (const wake of [...waiters]) wake();
  };
  const hold = (req: Request, ready: () => boolean) =>
    new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        waiters.delete(check);
        resolve();
      };
      const check = () => {
        if (ready() || req.signal.aborted) done();
      };
      const timer = setTimeout(done, holdMs);
      waiters.add(check);
      req.signal.addEventListener("abort", done, { once: true });
      check();
    });

  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    idleTimeout: 30,
    async fetch(req) {
      const url = new URL(req.url);
      const recorded = await _record(req, url);
      requests.push(recorded);
      notify();
      if (req.headers.get("authorization") !== apiKey) return new Response("bad key", { status: 401 });
      switch (recorded.kind) {
        case "take":
        case "take-batch": {
          const failure = takeFailures.shift();
          if (typeof failure === "function") return failure();
          if (failure !== undefined) return new Response(`scripted ${failure}`, { status: failure });
          await hold(req, () => queue.length > 0);
          if (req.signal.aborted || queue.length === 0) return new Response(null, { status: 204 });
          if (recorded.kind === "take") return Response.json(queue.shift());
          return Response.json(queue.splice(0, Number(recorded.query.batch_size ?? 1)));
        }
        case "done": {
          const final = recorded.json?.status !== "IN_PROGRESS";
          const failure = final ? doneFailures.get(recorded.jobId ?? "")?.shift() : undefined;
          recorded.answered = failure ?? 200;
          if (failure !== undefined) return new Response(`scripted ${failure}`, { status: failure });
          return new Response("ok");
        }
        case "stop": {
          await hold(req, () => stops.length > 0);
          if (stops.length === 0) return new Response(null, { status: 204 });
          return Response.json({ jobsToStop: stops.splice(0) });
        }
        case "stream":
        case "ping":
          return new Response("ok");
        default:
          return new Response("no such route", { status: 404 });
      }
    },
  });
  const base = `http://127.0.0.1:${server.port}/v2/test-endpoint`;
  const of = (kind: Recorded["kind"]) => requests.filter((r) => r.kind === kind);
  const doneBodies = (jobId: string) => of("done").filter((r) => r.jobId === jobId && r.json);

  return {
    base,
    apiKey,
    workerId,
    requests,
    of,
    /** The environment RunPod gives a worker, pointing at this fake (production template shapes, §1.3). */
    env: (): Record<string, string> => ({
      RUNPOD_WEBHOOK_GET_JOB: `${base}/job-take/$ID?${GPU_QUERY}`,
      RUNPOD_WEBHOOK_POST_OUTPUT: `${base}/job-done/$RUNPOD_POD_ID/$ID?${GPU_QUERY}`,
      RUNPOD_WEBHOOK_POST_STREAM: `${base}/job-stream/$RUNPOD_POD_ID/$ID?${GPU_QUERY}`,
      RUNPOD_WEBHOOK_PING: `${base}/ping/$RUNPOD_POD_ID`,
      RUNPOD_AI_API_KEY: apiKey,
      RUNPOD_POD_ID: workerId,
      RUNPOD_POD_HOSTNAME: "fake-host",
    }),
    /** Jobs still waiting to be taken. */
    queued: () => queue.length,
    enqueue: (...jobs: FakeJob[]) => {
      queue.push(...jobs);
      notify();
    },
    /** Answer the next takes with these statuses (or responses) instead of serving jobs. */
    failTakes: (...answers: Array<number | (() => Response)>) => takeFailures.push(...answers),
    /** Answer the next final (not IN_PROGRESS) job-done POSTs for `jobId` with these statuses. */
    failDone: (jobId: string, ...statuses: number[]) => doneFailures.set(jobId, statuses),
    /** Tell the worker to stop a job through the job-stop channel. */
    stopJob: (jobId: string) => {
      stops.push(jobId);
      notify();
    },
    /** Final job-done POSTs for a job (progress updates excluded), whatever the fake answered. */
    results: (jobId: string) => doneBodies(jobId).filter((r) => r.json.status !== "IN_PROGRESS"),
    /** Final job-done POSTs the fake answered 200. */
    accepted: (jobId: string) => doneBodies(jobId).filter((r) => r.json.status !== "IN_PROGRESS" && r.answered === 200),
    progress: (jobId: string) => doneBodies(jobId).filter((r) => r.json.status === "IN_PROGRESS"),
    /** Resolves once `check` holds; rejects after `timeoutMs`. */
    waitFor: async (check: () => boolean, what: string, timeoutMs = 20_000) => {
      const deadline = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`fake RunPod: timed out waiting for ${what}`);
        await Bun.sleep(25);
      }
    },
    close: () => server.stop(true),
  };
}

export type FakeRunpod = ReturnType<typeof startFakeRunpod>;

const ROUTE_RE = /^\/v2\/[^/]+\/(job-take|job-take-batch|job-done|job-stream|ping|job-stop)\/([^/]+)(?:\/([^/]+))?$/;
const KINDS: Record<string, Recorded["kind"]> = {
  "job-take": "take",
  "job-take-batch": "take-batch",
  "job-done": "done",
  "job-stream": "stream",
  ping: "ping",
  "job-stop": "stop",
};

async function _record(req: Request, url: URL): Promise<Recorded> {
  const match = url.pathname.match(ROUTE_RE);
  const body = req.method === "POST" ? await req.text() : "";
  let json: unknown;
  try {
    json = body ? JSON.parse(body) : undefined;
  } catch {
    json = undefined;
  }
  return {
    at: Date.now(),
    kind: match ? (KINDS[match[1] as string] ?? "unknown") : "unknown",
    method: req.method,
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: Object.fromEntries(req.headers),
    body,
    json,
    workerId: match?.[2] ? decodeURIComponent(match[2]) : undefined,
    jobId: match?.[3] ? decodeURIComponent(match[3]) : undefined,
  };
}
