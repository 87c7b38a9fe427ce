import type { ComfyError } from "../emulator/validate.ts";
import type { NodeErrors } from "./remote-failure.ts";

/** How long an endpoint's "this weight is missing" is believed before a prompt naming it is sent again. */
export const KNOWN_MISSING_TTL_MS = 5 * 60_000;

interface Known {
  reason: NodeErrors[string]["errors"][number];
  at: number;
}

/**
 * Model values the endpoint reported missing (value_not_in_list from its ComfyUI, or its weights check). A
 * prompt naming one again is refused at POST /prompt exactly as a local ComfyUI refuses a missing model, so the
 * UI marks the node and its input, for a while (the user may upload the model meanwhile).
 */
export class KnownMissing {
  #known = new Map<string, Known>();

  constructor(private readonly now: () => number = Date.now) {}

  remember(prompt: Record<string, unknown>, errors: NodeErrors): void {
    for (const [id, entry] of Object.entries(errors)) {
      const classType = (prompt[id] as { class_type?: string } | undefined)?.class_type ?? entry.class_type;
      for (const reason of entry.errors) {
        const input = reason.extra_info.input_name;
        const value = reason.extra_info.received_value;
        if (reason.type !== "value_not_in_list" || typeof input !== "string" || typeof value !== "string") continue;
        this.#known.set(_key(classType, input, value), { reason, at: this.now() });
      }
    }
  }

  /** ComfyUI's 400 body parts when the prompt names a value still believed missing; undefined otherwise. */
  check(prompt: Record<string, unknown>, outputs: string[]): { error: ComfyError; nodeErrors: NodeErrors } | undefined {
    const nodeErrors: NodeErrors = {};
    for (const [id, raw] of Object.entries(prompt)) {
      const node = raw as { class_type?: string; inputs?: Record<string, unknown> };
      for (const [input, value] of Object.entries(node.inputs ?? {})) {
        if (typeof value !== "string" || !node.class_type) continue;
        const known = this.#fresh(_key(node.class_type, input, value));
        if (!known) continue;
        const entry = nodeErrors[id] ?? { errors: [], dependent_outputs: outputs, class_type: node.class_type };
        entry.errors.push(known.reason);
        nodeErrors[id] = entry;
      }
    }
    const reasons = Object.values(nodeErrors).flatMap((entry) => entry.errors);
    if (reasons.length === 0) return undefined;
    const details = reasons.map((reason) => `${reason.message}: ${reason.details}`).join("\n");
    const message = "Prompt outputs failed validation";
    return { error: { type: "prompt_outputs_failed_validation", message, details, extra_info: {} }, nodeErrors };
  }

  #fresh(key: string): Known | undefined {
    const known = this.#known.get(key);
    if (known && this.now() - known.at < KNOWN_MISSING_TTL_MS) return known;
    this.#known.delete(key);
    return undefined;
  }
}

function _key(classType: string, input: string, value: string): string {
  return `${classType}\0${input}\0${value}`;
}
