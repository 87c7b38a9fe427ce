import { isWorkerError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { type ComfyClient, transportOf } from "./client.ts";
import { featuresOf } from "./features.ts";
import type { ApiWorkflow } from "./schemas.ts";

type Queued = Awaited<ReturnType<ComfyClient["queuePrompt"]>>;
type SubmitOptions = Parameters<ComfyClient["queuePrompt"]>[1] & { promptId: string };

/**
 * POST /prompt with our own prompt id, at most once in effect. When the connection drops before an answer, the
 * prompt may or may not have been queued; where ComfyUI keeps client-chosen ids we look for ours in /queue and
 * /history and send it again only when it is in neither. Older servers mint their own id, so nothing could be
 * checked: the error is thrown rather than risk running the prompt twice.
 */
export async function submitPrompt(
  client: ComfyClient,
  prompt: ApiWorkflow,
  options: SubmitOptions,
  log?: Logger,
): Promise<Queued> {
  try {
    return await client.queuePrompt(prompt, options);
  } catch (error) {
    if (!_unanswered(error) || !(await featuresOf(client).catch(() => undefined))?.clientPromptId) throw error;
    const seen = await _seen(client, options.promptId).catch(() => undefined);
    if (seen === undefined) throw error;
    log?.warn("POST /prompt got no answer; ComfyUI keeps our prompt id, so it was looked up before resending", {
      promptId: options.promptId,
      alreadyQueued: seen,
    });
    if (seen) return { promptId: options.promptId, number: 0, nodeErrors: {} };
    return client.queuePrompt(prompt, options);
  }
}

// refused covers a connection reset after the request was sent; timeout means no answer in time
function _unanswered(error: unknown): boolean {
  const transport = transportOf(error);
  return isWorkerError(error) && (transport === "refused" || transport === "timeout");
}

async function _seen(client: ComfyClient, promptId: string): Promise<boolean> {
  const queue = await client.queue();
  if (queue.running.includes(promptId) || queue.pending.includes(promptId)) return true;
  return (await client.history(promptId)) !== undefined;
}
