import { validator } from "hono/validator";
import type { z } from "zod";
import { WorkerError } from "../errors.ts";
import { describeIssues } from "../lib/issues.ts";

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
