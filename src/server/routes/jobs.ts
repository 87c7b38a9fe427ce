import { Hono } from "hono";
import { WorkerError } from "../../errors.ts";
import type { UrlGuard } from "../../lib/url-guard.ts";
import type { JobRecord, JobStore } from "../job-store.ts";
import { JobRequest, WaitQuery } from "../schemas.ts";
import { jsonBody, zv } from "../validate.ts";
import { checkRequestUrls } from "./request-urls.ts";

// RunPod's /runsync waits 90 s by default; ?wait accepts 1 s to 5 min
const RUNSYNC_DEFAULT_WAIT_MS = 90_000;
const RUNSYNC_MIN_WAIT_MS = 1_000;
const STREAM_LONG_POLL_MS = 10_000;

/** The RunPod-compatible job routes (SPEC §5), mounted under /v2/{endpoint_id} and at the root. */
export function jobRoutes(jobs: JobStore, guard: Pick<UrlGuard, "privateAllowed" | "lookup">) {
  const found = (id: string) => {
    const job = jobs.get(id);
    if (!job) throw new WorkerError("E_NOT_FOUND", `no job ${id} (unknown, or its result expired)`);
    return job;
  };
  const clampWait = (wait: number | undefined, fallback: number) =>
    Math.min(300_000, Math.max(RUNSYNC_MIN_WAIT_MS, wait ?? fallback));

  // a large finished output waits on disk and is streamed from there, never parsed back into the heap
  const reply = (job: JobRecord) =>
    new Response(jobs.viewBody(job), { headers: { "content-type": "application/json" } });
  const status = (c: { req: { param: (k: "id") => string } }) => reply(found(c.req.param("id")));
  const stream = async (id: string) => {
    const chunks = await jobs.takeStream(found(id).id, STREAM_LONG_POLL_MS);
    return { status: found(id).status, stream: chunks.map((output) => ({ output })) };
  };

  return new Hono()
    .post("/run", jsonBody, zv("json", JobRequest), async (c) => {
      await checkRequestUrls(c.req.valid("json"), guard);
      const job = jobs.submit(c.req.valid("json"));
      return c.json({ id: job.id, status: job.status });
    })
    .post("/runsync", jsonBody, zv("json", JobRequest), zv("query", WaitQuery), async (c) => {
      await checkRequestUrls(c.req.valid("json"), guard);
      const job = jobs.submit(c.req.valid("json"), undefined, { sync: true });
      await jobs.wait(job.id, clampWait(c.req.valid("query").wait, RUNSYNC_DEFAULT_WAIT_MS));
      const response = reply(job);
      jobs.returned(job);
      return response;
    })
    .get("/status/:id", (c) => status(c))
    .post("/status/:id", (c) => status(c))
    .get("/status-sync/:id", zv("query", WaitQuery), async (c) => {
      const job = found(c.req.param("id"));
      await jobs.wait(job.id, clampWait(c.req.valid("query").wait, RUNSYNC_DEFAULT_WAIT_MS));
      return reply(job);
    })
    .get("/stream/:id", async (c) => c.json(await stream(c.req.param("id"))))
    .post("/stream/:id", async (c) => c.json(await stream(c.req.param("id"))))
    .post("/cancel/:id", (c) => {
      const job = found(c.req.param("id"));
      jobs.cancel(job.id);
      return c.json({ id: job.id, status: job.status });
    })
    .post("/retry/:id", async (c) => {
      await jobs.retry(found(c.req.param("id")).id);
      // RunPod answers the state it put the job in; an idle runner may already have taken it
      return c.json({ id: c.req.param("id"), status: "IN_QUEUE" });
    })
    .post("/purge-queue", (c) => c.json({ removed: jobs.purge(), status: "completed" }));
}
