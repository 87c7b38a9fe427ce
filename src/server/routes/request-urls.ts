import { checkJobUrl, type UrlGuard } from "../../lib/url-guard.ts";
import type { JobRequest } from "../schemas.ts";
import { WEBHOOK_PROTOCOLS } from "../webhook.ts";

/**
 * Refuses (E_INPUT → 400) a request whose webhook or s3Config endpoint points at a private, loopback or
 * link-local address not in PRIVATE_HOSTS_ALLOWED, before the job is queued. Both are checked again when
 * used, since DNS can change in between.
 */
export async function checkRequestUrls(request: JobRequest, guard: Pick<UrlGuard, "privateAllowed" | "lookup">) {
  const rules = { ...guard, protocols: WEBHOOK_PROTOCOLS };
  await Promise.all([
    request.webhook ? checkJobUrl(request.webhook, "webhook", rules) : undefined,
    request.s3Config ? checkJobUrl(request.s3Config.endpointUrl, "s3Config.endpointUrl", rules) : undefined,
  ]);
}
