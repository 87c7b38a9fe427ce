import { Hono } from "hono";
import type { EmulatorContext } from "./context.ts";
import { isCanonicalUuid } from "./profile.ts";

/**
 * ComfyUI v0.26+'s job-scoped cancel (server.py, PR #14493), registered under /api only: one call that dequeues
 * a pending prompt or interrupts exactly that running one; finished or unknown ids answer `{"cancelled": false}`.
 */
export function jobRoutes(ctx: EmulatorContext): Hono {
  const app = new Hono();
  app.post("/jobs/cancel", async (c) => {
    const body = (await c.req.json().catch(() => undefined)) as { job_ids?: unknown } | undefined;
    if (body === undefined) return c.json({ error: "Request body must be valid JSON" }, 400);
    const ids = body?.job_ids;
    if (!Array.isArray(ids)) return c.json({ error: "job_ids must be a list" }, 400);
    const invalid = ids.filter((id) => !isCanonicalUuid(id)).map((id) => (typeof id === "string" ? id : String(id)));
    if (invalid.length > 0) return c.json({ error: "job_ids contains invalid id(s)", invalid_ids: invalid }, 400);
    const cancelled = ids.map((id: string) => _cancel(ctx, id)).some(Boolean);
    return c.json({ cancelled });
  });
  app.post("/jobs/:id/cancel", (c) => c.json({ cancelled: _cancel(ctx, c.req.param("id")) }));
  return app;
}

function _cancel(ctx: EmulatorContext, promptId: string): boolean {
  if (ctx.queue.running()?.promptId === promptId) {
    ctx.log.info(`Cancelling running prompt ${promptId}`);
    ctx.state.interrupted = true;
    return true;
  }
  if (!ctx.queue.pending().some((item) => item.promptId === promptId)) return false;
  ctx.log.info(`Cancelling pending prompt ${promptId}`);
  ctx.queue.delete(promptId);
  return true;
}
