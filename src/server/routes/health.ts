import { Hono } from "hono";
import { z } from "zod";
import { Redactor } from "../../lib/redact.ts";
import { healthReport, type WorkerHealth, workerStatus } from "../health.ts";
import type { Metrics } from "../metrics.ts";
import { coldStartMetrics } from "../metrics-startup.ts";
import { zv } from "../validate.ts";

const LogsQuery = z.object({ lines: z.coerce.number().int().min(1).max(100_000).optional() });

/**
 * /health, /ready, /ping (no auth), /logs and /metrics (SPEC §5). /health and /logs pass through `redactor`: a
 * COMFY_URL with a password, or a secret ComfyUI printed, must not reach an unauthenticated caller.
 */
export function healthRoutes(health: WorkerHealth, metrics: Metrics, redactor = new Redactor()) {
  return new Hono()
    .get("/health", (c) => {
      const report = healthReport(health);
      return c.json(redactor.value(report), report.status === "failed" ? 503 : 200);
    })
    .get("/ready", (c) => {
      const status = workerStatus(health);
      return c.json({ ready: status === "ready", status }, status === "ready" ? 200 : 503);
    })
    .get("/ping", (c) => {
      const status = workerStatus(health);
      if (status === "ready") return c.json({ status: "healthy" }, 200);
      // RunPod load balancers keep 204 workers as "initializing" and drop anything else: a worker that is
      // leaving must be dropped, not waited for
      if (status === "failed" || status === "draining") return c.json({ status: "unhealthy" }, 503);
      return c.body(null, 204);
    })
    .get("/logs", zv("query", LogsQuery), (c) => {
      const lines = health.comfy.logs(c.req.valid("query").lines ?? 100);
      return c.text(lines.length > 0 ? redactor.text(`${lines.join("\n")}\n`) : "");
    })
    .get("/metrics", (c) =>
      c.text(metricsText(health, metrics), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
    );
}

function metricsText(health: WorkerHealth, metrics: Metrics): string {
  const text = metrics.render({
    restarts: health.comfy.restarts,
    queueDepth: health.jobs.inQueue(),
    inProgress: health.jobs.inProgress().length,
    ready: workerStatus(health) === "ready",
  });
  const cold = health.coldStart;
  return cold ? text + coldStartMetrics(cold.timeline.report(), cold.prefetchReport()) : text;
}
