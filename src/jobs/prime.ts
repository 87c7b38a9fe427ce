import { HistoryResponse, KnownWsMessage } from "../comfy/schemas.ts";
import { parseApiWorkflow } from "../workflow/api.ts";
import { JobInput } from "./schema.ts";

/**
 * Runs the per-job parsers once on a tiny made-up job, while ComfyUI is still starting: a schema's first use
 * compiles it (about 15 ms for these), which the first real job would otherwise pay. No I/O.
 */
export function primeJobPath(): void {
  const workflow = { "1": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } } };
  JobInput.safeParse({ workflow });
  parseApiWorkflow(structuredClone(workflow), "input.workflow");
  KnownWsMessage.safeParse({ type: "executing", data: { node: "1", display_node: "1", prompt_id: "prime" } });
  const status = { status_str: "success", completed: true, messages: [["execution_start", { timestamp: 0 }]] };
  HistoryResponse.safeParse({ prime: { outputs: { "1": { images: [] } }, status } });
}
