import { Redactor } from "../lib/redact.ts";

/** Redacts what the top-level error printer shows; each command teaches it its config's secrets. */
export const CLI_REDACTOR = new Redactor();
