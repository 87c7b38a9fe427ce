import { Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { WorkerError } from "../errors.ts";
import type { Redactor } from "../lib/redact.ts";
import type { UrlGuard } from "../lib/url-guard.ts";
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
  /** Largest request body accepted (MAX_BODY_MB); RunPod allows 20 MB on /runsync and 30 MB on load-balanced endpoints. */
  maxBodyBytes?: number;
  /** Secrets the worker knows (config's); /health and /logs never show them. */
  redactor?: Redactor;
  /** Where a job's webhook and s3Config endpoint may point (PRIVATE_HOSTS_ALLOWED); default: no private address. */
  urlGuard?: Pick<UrlGuard, "privateAllowed" | "lookup">;
}

const DEFAULT_MAX_BODY_BYTES = 30 * 1_048_576;
/**
 * Bun.serve's own limit (default 128 MiB) answers 413 with an empty body before the app sees the request;
 * it is lifted so every oversized body reaches the app's limit and gets the JSON error.
 */
export const SERVER_MAX_REQUEST_BODY = Number.MAX_SAFE_INTEGER;
const OPEN_PATHS = new Set(["/health", "/ready", "/ping"]);

/** Builds the worker's HTTP app: health routes, the RunPod-compatible API, OpenAPI; errors mapped in one place. */
export function createApp(deps: AppDeps) {
  const jobs = jobRoutes(deps.health.jobs, deps.urlGuard ?? { privateAllowed: [] });
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
        throw new WorkerError(
          "E_TOO_LARGE",
          `request body is over the ${_mb(maxBytes)} MB limit (MAX_BODY_MB); send large inputs as URLs`,
        );
      },
    }),
  );
  app.route("/", healthRoutes(deps.health, deps.metrics, deps.redactor));
  app.get("/v2/:endpointId/health", (c) => {
    const { jobs: counts, workers } = healthReport(deps.health);
    return c.json({ jobs: counts, workers });
  });
  app.route("/v2/:endpointId", jobs);
  app.route("/", jobs);
  app.get("/openapi.json", (c) => c.json(openApiDocument({ maxBodyBytes: maxBytes })));
  app.get("/docs", (c) => c.html(docsPage(openApiDocument({ maxBodyBytes: maxBytes }))));
  return app;
}

function _authorize(header: string | undefined, token: string): void {
  // RunPod clients send "Bearer <key>"; its docs' curl examples send the raw key, so accept both
  const given = header?.replace(/^Bearer\s+/i, "") ?? "";
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  if (a.length !== b.length || !crypto.timingSafeEqual(a, b)) {
    throw new WorkerError("E_AUTH", header ? "wrong API token" : "this route needs Authorization: Bearer <API_TOKEN>");
  }
}

function _mb(bytes: number): string {
  return String(Math.round((bytes / 1_048_576) * 100) / 100);
}
