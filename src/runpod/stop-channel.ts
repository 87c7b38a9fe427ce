import { type BackoffOptions, backoffMs, delay } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import type { Wakeup } from "./_wakeup.ts";
import type { RunpodClient } from "./client.ts";

export interface StopChannelTiming {
  /** Pause after an empty answer; the SDK's floor is 1 s (§1.12). */
  emptyMs: number;
  /** Pause after a 429 (§1.12). */
  throttledMs: number;
  /** Backoff after errors; the SDK's flat 1 s makes a 404 platform cost a request a second forever (§8). */
  errorBackoff: BackoffOptions;
}

export interface StopChannelOptions {
  client: RunpodClient;
  /** True while the worker holds a job; with none there is nothing to stop, so no poll is made. */
  active: () => boolean;
  /** Notified when a job is taken. */
  wakeup: Wakeup;
  onStop: (jobIds: string[]) => void;
  log: Logger;
  timing: StopChannelTiming;
}

/** Long-polls job-stop while jobs are held and hands the ids to `onStop` (§1.12). `stop` ends the loop. */
export function startStopChannel(options: StopChannelOptions): { stop: () => Promise<void> } {
  const controller = new AbortController();
  const { signal } = controller;
  const { timing, log } = options;
  const loop = (async () => {
    let errors = 0;
    while (!signal.aborted) {
      if (!options.active()) {
        await options.wakeup.wait(signal);
        continue;
      }
      const result = await options.client.pollStop(signal);
      if (signal.aborted) break;
      if (result.kind === "stop") options.onStop(result.ids);
      else if (result.kind === "none") await delay(timing.emptyMs, signal);
      else if (result.kind === "throttled") await delay(timing.throttledMs, signal);
      else {
        if (errors === 0) log.warn(`job-stop channel failed (${result.message}); retrying with backoff`);
        await delay(backoffMs(errors, timing.errorBackoff), signal);
      }
      errors = result.kind === "error" ? errors + 1 : 0;
    }
  })();
  return {
    stop: async () => {
      controller.abort();
      await loop;
    },
  };
}
