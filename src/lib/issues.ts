/**
 * Validation problems in our words: zod's default messages ("Invalid input: expected record, received
 * undefined") become "input.workflow is missing (expected an object)". Messages we wrote ourselves in a
 * schema (refinements, regex hints) are kept as they are.
 */
import type { z } from "zod";

// zod's built-in messages start like this; anything else was written by us in the schema
const ZOD_DEFAULT_RE = /^(Invalid |Too big|Too small|Unrecognized key|Expected )/;

const NOUNS: Record<string, string> = {
  record: "an object",
  object: "an object",
  array: "a list",
  tuple: "a list",
  string: "text",
  number: "a number",
  int: "a whole number",
  bigint: "a whole number",
  boolean: "true or false",
  null: "null",
  date: "a date",
};

/** One sentence per issue, each starting with the field's path under `root` (`input.images.0.name`). */
export function describeIssues(error: z.ZodError, input: unknown, root: string): string[] {
  return _withoutShadowed(error.issues).map((issue) => describeIssue(issue, input, root));
}

// `.int()` also bounds a number to ±(2^53 − 1); when the field's own bound on the same side fails too, saying both
// ("at most 9007199254740991 …; at most 300000") only confuses
function _withoutShadowed(issues: readonly z.core.$ZodIssue[]): z.core.$ZodIssue[] {
  const key = (issue: z.core.$ZodIssue) => `${issue.code}\u0000${issue.path.map(String).join("\u0000")}`;
  const safeRange = (issue: z.core.$ZodIssue) =>
    issue.code === "too_big"
      ? issue.maximum === Number.MAX_SAFE_INTEGER
      : issue.code === "too_small" && issue.minimum === Number.MIN_SAFE_INTEGER;
  const tighter = new Set(issues.filter((issue) => !safeRange(issue)).map(key));
  return issues.filter((issue) => !(safeRange(issue) && tighter.has(key(issue))));
}

/** One issue as `<path> <problem>`; `input` is the value that was validated (to say what was given). */
export function describeIssue(issue: z.core.$ZodIssue, input: unknown, root: string): string {
  const branch = _matchedBranch(issue);
  if (branch) return describeIssue({ ...branch, path: [...issue.path, ...branch.path] }, input, root);
  // a bad record key is named in the problem, not as a place under the record
  const path = issue.code === "invalid_key" ? issue.path.slice(0, -1) : issue.path;
  const where = [root, ...path.map(String)].filter(Boolean).join(".") || "value";
  if (!ZOD_DEFAULT_RE.test(issue.message)) return `${where}: ${issue.message}`;
  return `${where} ${_problem(issue, _at(input, issue.path))}`;
}

/** The problem alone ("is missing (expected text)"), for callers that name the place themselves. */
export function describeProblem(issue: z.core.$ZodIssue, input: unknown): string {
  const branch = _matchedBranch(issue);
  if (branch) {
    const problem = describeProblem({ ...branch, path: [...issue.path, ...branch.path] }, input);
    if (branch.path.length === 0) return problem;
    const where = branch.path.map(String).join(".");
    return ZOD_DEFAULT_RE.test(branch.message) ? `${where} ${problem}` : `${where}: ${problem}`;
  }
  return ZOD_DEFAULT_RE.test(issue.message) ? _problem(issue, _at(input, issue.path)) : issue.message;
}

// of a union's shapes, the one the value's type matched (an object for the object shape): its first problem says
// more than "none of the accepted shapes"; undefined when no shape, or several, matched the type
function _matchedBranch(issue: z.core.$ZodIssue): z.core.$ZodIssue | undefined {
  if (issue.code !== "invalid_union") return undefined;
  const typed = issue.errors.filter((branch) => !branch.some((i) => i.code === "invalid_type" && i.path.length === 0));
  return typed.length === 1 ? typed[0]?.[0] : undefined;
}

function _problem(issue: z.core.$ZodIssue, value: unknown): string {
  switch (issue.code) {
    case "invalid_type": {
      const wanted = NOUNS[issue.expected] ?? issue.expected;
      return value === undefined ? `is missing (expected ${wanted})` : `must be ${wanted}, not ${_kind(value)}`;
    }
    case "too_small":
      return `must ${_bound(issue.origin, "at least", issue.minimum)}${_given(value)}`;
    case "too_big":
      return `must ${_bound(issue.origin, "at most", issue.maximum)}${_given(value)}`;
    case "invalid_value":
      return `must be one of ${issue.values.map((v) => JSON.stringify(v)).join(", ")}, not ${JSON.stringify(value)}`;
    case "unrecognized_keys":
      return `has unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `"${k}"`).join(", ")}`;
    case "invalid_format":
      return `is not ${issue.format === "url" ? "a valid URL" : `in the expected format (${issue.format})`}`;
    case "invalid_union":
      return `has none of the accepted shapes (got ${_kind(value)})`;
    case "invalid_key": {
      // the key's own schema may say what keys look like (a regex hint we wrote)
      const hint = issue.issues.map((inner) => inner.message).find((message) => !ZOD_DEFAULT_RE.test(message));
      return `has a key that is not allowed, "${String(issue.path.at(-1))}"${hint ? ` (${hint})` : ""}`;
    }
    default:
      return "is not valid";
  }
}

function _bound(origin: string, relation: string, limit: number | bigint): string {
  if (origin === "string") return `have ${relation} ${limit} character${limit === 1 ? "" : "s"}`;
  if (origin === "array" || origin === "set") return `have ${relation} ${limit} item${limit === 1 ? "" : "s"}`;
  return `be ${relation} ${limit}`;
}

// a bound broken by a number (or a number given as text: settings, flags) says what was given
function _given(value: unknown): string {
  if (typeof value === "number") return `, not ${value}`;
  return typeof value === "string" && value.trim() !== "" && Number.isFinite(+value) ? `, not ${value.trim()}` : "";
}

function _kind(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "string") return `text ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return typeof value === "object" ? "an object" : typeof value;
}

function _at(input: unknown, path: readonly PropertyKey[]): unknown {
  let value = input;
  for (const key of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<PropertyKey, unknown>)[key];
  }
  return value;
}
