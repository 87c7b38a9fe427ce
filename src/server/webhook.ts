import { isWorkerError } from "../errors.ts";
import { guardedFetch, type UrlGuard } from "../lib/url-guard.ts";
import type { Logger } from "../log.ts";

export interface WebhookOptions {
  attempts?: number;
  delayMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
  /** Where a job's webhook may point; private addresses are refused unless PRIVATE_HOSTS_ALLOWED names them. */
  guard?: UrlGuard;
}

// RunPod retries a webhook twice more, 10 s apart, until it answers 200
const WEBHOOK_ATTEMPTS = 3;
const WEBHOOK_DELAY_MS = 10_000;
const WEBHOOK_TIMEOUT_MS = 10_000;
/** A job's webhook may be plain http (RunPod's is), but never a private address unless allowed. */
export const WEBHOOK_PROTOCOLS = ["http:", "https:"] as const;

/**
 * POSTs a finished job's status object to its webhook, retrying non-2xx answers and transport errors.
 * The URL and every redirect are checked first: a webhook must not reach ComfyUI, the worker or the
 * cloud metadata service, so a refused URL is logged and never retried.
 */
export async function sendWebhook(
  url: string,
  body: unknown,
  log: Logger,
  options: WebhookOptions = {},
): Promise<boolean> {
  const attempts = options.attempts ?? WEBHOOK_ATTEMPTS;
  const guard = { privateAllowed: [], ...options.guard, protocols: WEBHOOK_PROTOCOLS, fetch: options.fetch };
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const init = {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? WEBHOOK_TIMEOUT_MS),
    };
    const outcome = await guardedFetch(url, init, "webhook", guard).then(
      (res) => (res.ok ? "ok" : `HTTP ${res.status}`),
      (error: unknown) => (isWorkerError(error) ? error : String(error)),
    );
    if (outcome === "ok") return true;
    if (typeof outcome !== "string") {
      log.error(`${outcome.message}; the webhook was not sent`);
      return false;
    }
    log.warn(`webhook ${url} attempt ${attempt}/${attempts} failed: ${outcome}`);
    if (attempt < attempts) await Bun.sleep(options.delayMs ?? WEBHOOK_DELAY_MS);
  }
  log.error(`webhook ${url} gave up after ${attempts} attempts`);
  return false;
}
