import { z } from "zod";
import { JobInput, jobOutputSchema } from "../jobs/schema.ts";
import { VERSION } from "../version.ts";
import { ErrorBody, JobRequest, JobView, StreamView } from "./schemas.ts";

type Operation = {
  method: "get" | "post";
  path: string;
  summary: string;
  body?: string;
  response?: string;
  query?: string[];
};

// the app's default when MAX_BODY_MB is not passed down (tests build the app without a config)
const DEFAULT_MAX_BODY_BYTES = 30 * 1_048_576;
const ERROR_CONTENT = { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } };
const JOB_ID = { name: "id", in: "path", required: true, schema: { type: "string" } };
const ENDPOINT_ID = {
  name: "endpoint_id",
  in: "path",
  required: true,
  schema: { type: "string" },
  description: "any id; ignored",
};

const OPERATIONS: Operation[] = [
  { method: "get", path: "/health", summary: "Worker health: status, ComfyUI, weights, job counts (503 when failed)" },
  { method: "get", path: "/ready", summary: "200 only when the worker takes jobs, else 503" },
  { method: "get", path: "/ping", summary: "200 ready, 204 initializing, 503 failed (RunPod load balancers)" },
  { method: "get", path: "/logs", summary: "Last N lines of ComfyUI output, newest last", query: ["lines"] },
  { method: "get", path: "/metrics", summary: "Prometheus metrics" },
  { method: "post", path: "/v2/{endpoint_id}/run", summary: "Queue a job", body: "JobRequest", response: "JobView" },
  {
    method: "post",
    path: "/v2/{endpoint_id}/runsync",
    summary: "Run a job and wait (?wait=ms, default 90 s)",
    body: "JobRequest",
    response: "JobView",
    query: ["wait"],
  },
  {
    method: "get",
    path: "/v2/{endpoint_id}/status/{id}",
    summary: "Job status and result (POST works too)",
    response: "JobView",
  },
  {
    method: "get",
    path: "/v2/{endpoint_id}/status-sync/{id}",
    summary: "Job status, waiting up to ?wait=ms for completion",
    response: "JobView",
    query: ["wait"],
  },
  {
    method: "get",
    path: "/v2/{endpoint_id}/stream/{id}",
    summary: "Progress chunks not yet delivered (long poll; POST works too)",
    response: "StreamView",
  },
  {
    method: "post",
    path: "/v2/{endpoint_id}/cancel/{id}",
    summary: "Cancel a queued or running job",
    response: "JobView",
  },
  {
    method: "post",
    path: "/v2/{endpoint_id}/retry/{id}",
    summary: "Re-queue a FAILED or TIMED_OUT job",
    response: "JobView",
  },
  { method: "post", path: "/v2/{endpoint_id}/purge-queue", summary: "Remove every queued job" },
  { method: "get", path: "/v2/{endpoint_id}/health", summary: "RunPod's {jobs, workers} health shape" },
];

/** The OpenAPI 3.1 document for every route, with schemas generated from the zod schemas. */
export function openApiDocument(options: { maxBodyBytes?: number } = {}) {
  const maxBodyMb = Math.round(((options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES) / 1_048_576) * 100) / 100;
  const schemas = Object.fromEntries(
    Object.entries({ JobRequest, JobView, JobInput, JobOutput: jobOutputSchema(), StreamView, ErrorBody }).map(
      ([name, schema]) => [name, z.toJSONSchema(schema, { io: "input", unrepresentable: "any" })],
    ),
  );
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters = [
      ...(op.path.includes("{endpoint_id}") ? [ENDPOINT_ID] : []),
      ...(op.path.includes("{id}") ? [JOB_ID] : []),
      ...(op.query ?? []).map((name) => ({ name, in: "query", required: false, schema: { type: "integer" } })),
    ];
    paths[op.path] ??= {};
    (paths[op.path] as Record<string, unknown>)[op.method] = {
      summary: op.summary,
      parameters,
      ...(op.body
        ? {
            requestBody: {
              required: true,
              description: `at most ${maxBodyMb} MB (MAX_BODY_MB); larger bodies get 413 with an ErrorBody`,
              content: { "application/json": { schema: { $ref: `#/components/schemas/${op.body}` } } },
            },
          }
        : {}),
      responses: {
        "200": {
          description: "OK",
          ...(op.response
            ? { content: { "application/json": { schema: { $ref: `#/components/schemas/${op.response}` } } } }
            : {}),
        },
        ...(op.body
          ? { "413": { description: `body over ${maxBodyMb} MB (MAX_BODY_MB)`, content: ERROR_CONTENT } }
          : {}),
        default: {
          description: "Error",
          content: { "application/json": { schema: { $ref: "#/components/schemas/ErrorBody" } } },
        },
      },
    };
  }
  return {
    openapi: "3.1.0",
    info: {
      title: "comfy-worker",
      version: VERSION,
      description:
        "RunPod-compatible job API in front of ComfyUI. Every /v2/{endpoint_id}/… route also answers without the prefix. " +
        `Request bodies are limited to ${maxBodyMb} MB (MAX_BODY_MB); send large input files as URLs.`,
    },
    components: {
      schemas,
      securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "API_TOKEN, when set" } },
    },
    security: [{ bearer: [] }],
    paths,
  };
}

/** A self-contained HTML page listing the routes (no CDN: workers often have no internet). */
export function docsPage(doc: ReturnType<typeof openApiDocument>): string {
  const esc = (text: string) => text.replace(/[&<>"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const rows = Object.entries(doc.paths).flatMap(([path, ops]) =>
    Object.entries(ops).map(
      ([method, op]) =>
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${esc(path)}</code></td><td>${esc((op as { summary: string }).summary)}</td></tr>`,
    ),
  );
  return `<!doctype html><html><head><meta charset="utf-8"><title>comfy-worker API</title>
<style>body{font-family:system-ui,sans-serif;max-width:960px;margin:2rem auto;padding:0 1rem}td{padding:.3rem .6rem;border-bottom:1px solid #ddd}</style></head>
<body><h1>comfy-worker ${esc(doc.info.version)}</h1><p>${esc(doc.info.description)}</p>
<p>Machine-readable: <a href="openapi.json">openapi.json</a></p><table>${rows.join("\n")}</table></body></html>`;
}
