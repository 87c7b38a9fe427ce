import { z } from "zod";
import { createStallGuard, STALL_TIMEOUT_MS, type StallGuard } from "../download/pump.ts";
import { WorkerError } from "../errors.ts";
import { nodeNet } from "../lib/lazy-modules.ts";
import { isPrivateAddress, type LookupFn, lookupAll } from "../lib/net.ts";
import type { FetchOutput, OutputItem } from "../lib/output-files.ts";
import { guardedFetch } from "../lib/url-guard.ts";
import type { EndpointTarget } from "./endpoint-url.ts";

const Item = z.looseObject({
  filename: z.string().min(1),
  subfolder: z.string().default(""),
  type: z.enum(["base64", "s3_url"]),
  data: z.string(),
});

/** A COMPLETED job's output as our worker (and worker-comfyui v5) shapes it; unknown fields are kept. */
export const RemoteOutput = z.looseObject({
  images: z.array(Item).default([]),
  videos: z.array(Item).default([]),
  audio: z.array(Item).default([]),
  files: z.array(Item).default([]),
  text: z.array(z.looseObject({ node_id: z.string(), text: z.string() })).default([]),
  errors: z.array(z.string()).default([]),
  prompt_id: z.string().optional(),
  timings: z.record(z.string(), z.unknown()).optional(),
});
export type RemoteOutput = z.infer<typeof RemoteOutput>;

/** Parses a COMPLETED job's output; E_JOB_FAILED when it is not a ComfyUI worker's result. */
export function parseRemoteOutput(output: unknown): RemoteOutput {
  const parsed = RemoteOutput.safeParse(output ?? {});
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new WorkerError(
    "E_JOB_FAILED",
    `the job completed, but its output is not a ComfyUI worker's result (${issue?.path.join(".")}: ${issue?.message}); is the endpoint running comfy-worker or worker-comfyui?`,
    { details: { output } },
  );
}

/** Every file item of an output, in result order. */
export function outputItems(output: RemoteOutput): OutputItem[] {
  return [...output.images, ...output.videos, ...output.audio, ...output.files];
}

/**
 * How `s3_url` outputs are fetched: a URL on a loopback, private or link-local address is refused, unless the
 * endpoint itself is on such an address (our own `serve`, a LAN bucket next to it): the job-URL guard reversed,
 * so a remote result cannot make this machine reach into its own network. Link-local addresses (a cloud's metadata
 * service) are refused even then, and every redirect is checked the same way. A download that sends nothing for
 * a minute (the download engine's stall limit), or whose run is stopped (`signal`: Ctrl-C, --timeout), ends with an error.
 */
export async function outputFetcher(
  target: EndpointTarget,
  lookup: LookupFn = lookupAll,
  signal?: AbortSignal,
): Promise<FetchOutput> {
  const host = new URL(target.url).hostname.replace(/^\[|\]$/g, "");
  const addresses = nodeNet().isIP(host) ? [host] : await lookup(host).catch(() => [] as string[]);
  const local = addresses.length > 0 && addresses.every(isPrivateAddress);
  const guard = { privateAllowed: local ? LOCAL_NETWORKS : [], protocols: ["https:", "http:"], lookup };
  return async (url) => {
    // the download engine's watchdog: a body that sends nothing for its minute is cut off
    const stall = createStallGuard(STALL_TIMEOUT_MS, signal);
    try {
      const res = await guardedFetch(url, { signal: stall.signal }, "output URL", guard);
      const body = res.body ? _watched(res.body, stall) : undefined;
      if (!body) stall.dispose();
      return new Response(body ?? null, { status: res.status, headers: res.headers });
    } catch (error) {
      stall.dispose();
      if (stall.signal.aborted) throw stall.signal.reason;
      if (error instanceof WorkerError && !local)
        throw new WorkerError(
          error.code,
          `${error.message}: the endpoint ${target.id} is not on this network, so its outputs may not point into it`,
        );
      throw error;
    }
  };
}

// the body as it arrives, each chunk touching the watchdog, which goes when the body ends, fails or is cancelled
function _watched(source: ReadableStream<Uint8Array>, stall: StallGuard): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(out) {
      const chunk = await reader.read().catch((error: unknown) => {
        stall.dispose();
        throw stall.signal.aborted ? stall.signal.reason : error;
      });
      if (chunk.done) {
        stall.dispose();
        out.close();
        return;
      }
      stall.touch();
      out.enqueue(chunk.value);
    },
    cancel(reason) {
      stall.dispose();
      return reader.cancel(reason);
    },
  });
}

// a local endpoint's outputs may be on this machine or its LAN, never on a link-local (metadata) address
const LOCAL_NETWORKS = ["127.0.0.0/8", "::1", "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7"];

/** The human sentence of a FAILED job's `error` (plain text, or RunPod's SDK-shaped JSON with error_message). */
export function remoteErrorText(error: unknown): string {
  if (typeof error === "string") {
    try {
      const parsed = JSON.parse(error) as { error_message?: unknown };
      if (typeof parsed?.error_message === "string") return parsed.error_message;
    } catch {
      // plain text
    }
    return error;
  }
  if (error && typeof error === "object" && typeof (error as { error_message?: unknown }).error_message === "string")
    return (error as { error_message: string }).error_message;
  return error === undefined ? "no reason given" : JSON.stringify(error);
}
