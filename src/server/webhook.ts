import type { Logger } from "../log.ts";

export interface WebhookOptions {
  attempts?: number;
  delayMs?: number;
  timeoutMs?: number;
  fetch?: typeof fetch;
}

// RunPod retries a webhook twice more, 10 s apart, until it answers 200
const WEBHOOK_ATTEMPTS = 3;
const WEBHOOK_DELAY_MS = 10_000;
const WEBHOOK_TIMEOUT_MS = 10_000;

/** POSTs a finished job's status object to its webhook, retrying non-2xx answers and transport errors. */
export async function sendWebhook(
  url: string,
  body: unknown,
  log: Logger,
  options: WebhookOptions = {},
): Promise<boolean> {
  const attempts = options.attempts ?? WEBHOOK_ATTEMPTS;
  for (let attempt = 1; attempt <= attempts; attempt++) {
    const outcome = await (options.fetch ?? fetch)(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(options.timeoutMs ?? WEBHOOK_TIMEOUT_MS),
    }).then(
      (res) => (res.ok ? "ok" : `HTTP ${res.status}`),
      (error: unknown) => String(error),
    );
    if (outcome === "ok") return true;
    log.warn(`webhook ${url} attempt ${attempt}/${attempts} failed: ${outcome}`);
    if (attempt < attempts) await Bun.sleep(options.delayMs ?? WEBHOOK_DELAY_MS);
  }
  log.error(`webhook ${url} gave up after ${attempts} attempts`);
  return false;
}
