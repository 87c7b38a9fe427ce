import { createMiddleware } from "hono/factory";
import { validator } from "hono/validator";
import type { z } from "zod";
import { WorkerError } from "../errors.ts";
import { describeIssues } from "../lib/issues.ts";

// what hono's json validator reads as JSON; any other body it silently takes for `{}`
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * A JSON request body, or E_INPUT saying what to send: a body of another type (curl's `-d` sends a form type) or one
 * that does not parse. Only JSON is read: a browser page can send a text/plain or form POST to a worker on this
 * machine without asking first, never a JSON one. Runs before `zv("json", …)`, which reuses the parsed body.
 */
export const jsonBody = createMiddleware(async (c, next) => {
  const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim() ?? "";
  if (!JSON_MEDIA_TYPE.test(type)) {
    const got = type ? `Content-Type ${type}` : "no Content-Type";
    throw new WorkerError(
      "E_INPUT",
      `the request body must be JSON, sent with Content-Type: application/json (got ${got})`,
    );
  }
  try {
    await c.req.json();
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new WorkerError("E_INPUT", `the request body is not valid JSON (${why})`);
  }
  await next();
});

/** hono validator over a zod schema: a bad body or query becomes E_INPUT (400) naming each bad field. */
export function zv<T extends z.ZodType, Target extends "json" | "query" | "param">(target: Target, schema: T) {
  return validator(target, (value): z.infer<T> => {
    const result = schema.safeParse(value);
    if (result.success) return result.data;
    const where = target === "json" ? "body" : target;
    const problems = describeIssues(result.error, value, where);
    throw new WorkerError("E_INPUT", `invalid request: ${problems.join("; ")}`);
  });
}
