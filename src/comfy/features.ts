/**
 * What the ComfyUI we talk to can do, detected from the running server so older releases keep working:
 * its version (GET /system_stats), its server feature flags (GET /features, also sent as the websocket's
 * `feature_flags` reply) and a route probe for the job-scoped cancel.
 *
 * Facts from ComfyUI's source: POST /prompt takes a client `prompt_id` since v0.3.45 (PR #8189; v0.25 also
 * rejects ids that are not canonical lowercase UUIDs); POST /api/jobs/{id}/cancel exists since v0.26 (PR #14493)
 * and answers 200 `{"cancelled": bool}` for any id, so probing it with a fresh UUID cancels nothing.
 */
import { z } from "zod";
import type { ComfyClient } from "./client.ts";

/** The behaviours of newer ComfyUI that the worker uses when they are there. */
export interface ComfyFeatures {
  /** `comfyui_version` from /system_stats; undefined when the server does not say. */
  version?: string;
  /** POST /prompt keeps a `prompt_id` we choose, so a submit can be checked for and retried. */
  clientPromptId: boolean;
  /** POST /api/jobs/{id}/cancel: one call that dequeues or interrupts exactly that prompt. */
  jobCancel: boolean;
  /** GET /features (server feature flags); empty on servers without the route. */
  flags: Record<string, unknown>;
}

/** First release whose POST /prompt honours a client-chosen prompt_id. */
export const CLIENT_PROMPT_ID_SINCE = "0.3.45";
const PROBE_TIMEOUT_MS = 5_000;
const Flags = z.record(z.string(), z.unknown());
const CancelReply = z.looseObject({ cancelled: z.boolean() });

// one detection per client object; a failed one is forgotten so the next call tries again
const cache = new WeakMap<Pick<ComfyClient, "url">, Promise<ComfyFeatures>>();

/** The features of `client`'s server, detected once and remembered. */
export function featuresOf(client: Pick<ComfyClient, "url" | "systemStats">): Promise<ComfyFeatures> {
  let found = cache.get(client);
  if (!found) {
    found = detectFeatures(client);
    cache.set(client, found);
    found.catch(() => cache.delete(client));
  }
  return found;
}

/** Forgets what was detected for `client` (after ComfyUI was replaced by another install). */
export function forgetFeatures(client: Pick<ComfyClient, "url">): void {
  cache.delete(client);
}

/** Asks the server; throws only when /system_stats cannot be read (the server is not up). */
export async function detectFeatures(client: Pick<ComfyClient, "url" | "systemStats">): Promise<ComfyFeatures> {
  const stats = await client.systemStats(AbortSignal.timeout(PROBE_TIMEOUT_MS));
  const version = stats.system.comfyui_version;
  const [flags, jobCancel] = await Promise.all([_flags(client.url), _probeJobCancel(client.url)]);
  return {
    ...(version ? { version } : {}),
    clientPromptId: versionAtLeast(version, CLIENT_PROMPT_ID_SINCE),
    jobCancel,
    flags,
  };
}

/** True when `version` (e.g. "0.28.2", "0.28.2+emulator") is at least `min`; false when it cannot be read. */
export function versionAtLeast(version: string | undefined, min: string): boolean {
  const have = _parts(version);
  const want = _parts(min);
  if (!have || !want) return false;
  for (let i = 0; i < 3; i++) {
    if ((have[i] as number) !== (want[i] as number)) return (have[i] as number) > (want[i] as number);
  }
  return true;
}

/** POST /api/jobs/{id}/cancel; `cancelled` is false when the prompt had already finished or is unknown. */
export async function cancelJob(url: string, promptId: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<boolean> {
  const res = await fetch(`${url}/api/jobs/${encodeURIComponent(promptId)}/cancel`, {
    method: "POST",
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = CancelReply.safeParse(await res.json().catch(() => undefined));
  if (!res.ok || !body.success) throw new Error(`POST /api/jobs/${promptId}/cancel answered HTTP ${res.status}`);
  return body.data.cancelled;
}

async function _flags(url: string): Promise<Record<string, unknown>> {
  try {
    const res = await fetch(`${url}/features`, { signal: AbortSignal.timeout(PROBE_TIMEOUT_MS) });
    const flags = Flags.safeParse(res.ok ? await res.json() : undefined);
    return flags.success ? flags.data : {};
  } catch {
    return {};
  }
}

// a fresh random UUID names no prompt, so the probe is a no-op where the route exists (200 {"cancelled": false})
async function _probeJobCancel(url: string): Promise<boolean> {
  try {
    await cancelJob(url, crypto.randomUUID());
    return true;
  } catch {
    return false;
  }
}

function _parts(version: string | undefined): number[] | undefined {
  const match = /^v?(\d+)\.(\d+)(?:\.(\d+))?/.exec(version ?? "");
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : undefined;
}
