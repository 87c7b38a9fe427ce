import { delay } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import type { RunpodClient } from "./client.ts";

export interface HeartbeatOptions {
  client: RunpodClient;
  intervalMs: number;
  /** The jobs this worker holds right now (taken, running or being reported). */
  jobIds: () => string[];
  log: Logger;
}

/**
 * Pings every `intervalMs`, first at once, listing the held job ids (§1.11). It runs on its own timer and
 * awaits nothing but its own request, so job work never delays it; our jobs are async I/O, which is why a
 * separate process (the SDK's answer to the GIL, PR #425) isn't needed. Resolves `stop` after the last ping.
 */
export function startHeartbeat(options: HeartbeatOptions): { stop: () => Promise<void> } {
  const controller = new AbortController();
  const loop = (async () => {
    let failing = false;
    while (!controller.signal.aborted) {
      const started = Date.now();
      // the SDK's ping timeout is twice the interval (§1.11)
      const result = await options.client.ping(options.jobIds(), options.intervalMs * 2, controller.signal);
      if (controller.signal.aborted) break;
      if (!result.ok && !failing) options.log.warn(`heartbeat ping failed (${result.message}); will keep trying`);
      if (result.ok && failing) options.log.info("heartbeat ping answered again");
      failing = !result.ok;
      await delay(options.intervalMs - (Date.now() - started), controller.signal);
    }
  })();
  return {
    stop: async () => {
      controller.abort();
      await loop;
    },
  };
}
