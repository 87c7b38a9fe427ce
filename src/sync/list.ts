import { withRetry } from "../download/retry.ts";
import { WorkerError } from "../errors.ts";
import { delay } from "../lib/time.ts";
import type { S3Client } from "./s3/client.ts";
import { type ListedObject, listPage } from "./s3/ops.ts";

/** How listing copes with RunPod's slow volumes; tests shrink the pause. */
export interface ListOptions {
  signal?: AbortSignal;
  /** First pause before asking again after the "same next token" failure (RunPod computes ETags meanwhile); doubles. */
  sameTokenPauseMs?: number;
  /** How many times one page may come back with the token we sent before we give up. */
  sameTokenAttempts?: number;
  retryInitialMs?: number;
}

// 1 s doubling to 60 s: about ten minutes in all, for volumes still hashing tens of thousands of files
const SAME_TOKEN_PAUSE_MS = 1_000;
const SAME_TOKEN_PAUSE_MAX_MS = 60_000;
const SAME_TOKEN_ATTEMPTS = 15;

/**
 * Every object under `prefix`, paging through ListObjectsV2. Directory markers (keys ending in `/`, which RunPod
 * lists for empty folders) are dropped. A page that hands back the continuation token it was asked with (or an
 * error saying so) is RunPod's known failure while it computes ETags of files written outside S3: we pause and ask
 * for the same page again.
 */
export async function listAll(s3: S3Client, prefix: string, options: ListOptions = {}): Promise<ListedObject[]> {
  const objects: ListedObject[] = [];
  let token: string | undefined;
  let stuck = 0;
  for (;;) {
    const page = await _page(s3, prefix, token, options);
    // a first page that says "more" but gives no token to ask for it is no listing we can follow
    if (page !== "same-token" && page.truncated && !page.nextToken && token === undefined) {
      throw new WorkerError(
        "E_DOWNLOAD",
        `listing ${s3.label(prefix)} said more keys follow but gave no continuation token; is --endpoint-url an S3 API?`,
      );
    }
    if (page === "same-token" || (page.truncated && page.nextToken === token)) {
      stuck++;
      if (stuck >= (options.sameTokenAttempts ?? SAME_TOKEN_ATTEMPTS))
        throw new WorkerError(
          "E_DOWNLOAD",
          `listing ${s3.label(prefix)} kept returning the same page token; the volume may still be indexing files written outside S3, try again in a few minutes`,
        );
      const pause = Math.min(
        SAME_TOKEN_PAUSE_MAX_MS,
        (options.sameTokenPauseMs ?? SAME_TOKEN_PAUSE_MS) * 2 ** (stuck - 1),
      );
      if (!(await delay(pause, options.signal))) throw new WorkerError("E_INTERRUPTED", "listing was interrupted");
      continue;
    }
    stuck = 0;
    objects.push(...page.objects.filter((object) => !object.key.endsWith("/")));
    if (!page.truncated || !page.nextToken) return objects;
    token = page.nextToken;
  }
}

async function _page(s3: S3Client, prefix: string, token: string | undefined, options: ListOptions) {
  try {
    return await withRetry(`listing ${s3.label(prefix)}`, () => listPage(s3, prefix, token, options.signal), {
      signal: options.signal,
      ...(options.retryInitialMs !== undefined ? { initialMs: options.retryInitialMs } : {}),
    });
  } catch (error) {
    if (error instanceof Error && /same next token/i.test(error.message)) return "same-token" as const;
    throw error;
  }
}
