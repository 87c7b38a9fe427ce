import { timingSafeEqual } from "node:crypto";
import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { WorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { healthReport, type WorkerHealth } from "./health.ts";
import { errorResponse } from "./http-errors.ts";
import type { Metrics } from "./metrics.ts";
import { docsPage, openApiDocument } from "./openapi.ts";
import { healthRoutes } from "./routes/health.ts";
import { jobRoutes } from "./routes/jobs.ts";

export interface AppDeps {
  health: WorkerHealth;
  metrics: Metrics;
  log: Logger;
  apiToken?: string;
  /** Largest request body accepted; RunPod allows 20 MB on /runsync and 30 MB on load-balanced endpoints. */
  maxBodyBytes?: number;
}

const DEFAULT_MAX_BODY_BYTES = 30 * 1_048_576;
const OPEN_PATHS = new Set(["/health", "/ready", "/ping"]);

/** Builds the worker's HTTP app: health routes, the RunPod-compatible API, OpenAPI; errors mapped in one place. */
export function createApp(deps: AppDeps) {
  const jobs = jobRoutes(deps.health.jobs);
  const maxBytes = deps.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const app = new Hono();
  app.onError((error, c) => errorResponse(error, c, deps.log));
  app.notFound((c) =>
    c.json({ error: `no route ${c.req.method} ${c.req.path}`, code: "E_NOT_FOUND", message: "not found" }, 404),
  );
  app.use(async (c, next) => {
    if (deps.apiToken && !OPEN_PATHS.has(c.req.path)) _authorize(c.req.header("authorization"), deps.apiToken);
    await next();
  });
  app.use(
    bodyLimit({
      maxSize: maxBytes,
      onError: () => {
        throw new WorkerError("E_TOO_LARGE", `request body is over the ${Math.round(maxBytes / 1_048_576)} MB limit`);
      },
    }),
  );
  app.route("/", healthRoutes(deps.health, deps.metrics));
  app.get("/v2/:endpointId/health", (c) => {
    const { jobs: counts, workers } = healthReport(deps.health);
    return c.json({ jobs: counts, workers });
  });
  app.route("/v2/:endpointId", jobs);
  app.route("/", jobs);
  app.get("/openapi.json", (c) => c.json(openApiDocument()));
  app.get("/docs", (c) => c.html(docsPage(openApiDocument())));
  return app;
}

function _authorize(header: string | undefined, token: string): void {
  // RunPod clients send "Bearer <key>"; its docs' curl examples send the raw key, so accept both
  const given = header?.replace(/^Bearer\s+/i, "") ?? "";
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b)) {
    throw new WorkerError("E_AUTH", header ? "wrong API token" : "this route needs Authorization: Bearer <API_TOKEN>");
  }
}
