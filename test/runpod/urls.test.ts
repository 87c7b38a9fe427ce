import { describe, expect, test } from "bun:test";
import { appendQuery, fillJob, fillWorker, resolveRunpodUrls } from "../../src/runpod/urls.ts";

const BASE = "https://api.runpod.ai/v2/ep1";

describe("URL templates", () => {
  test("fills $RUNPOD_POD_ID before $ID, with the worker id in take and ping templates", () => {
    expect(fillWorker(`${BASE}/job-take/$ID?gpu=A100`, "w1")).toBe(`${BASE}/job-take/w1?gpu=A100`);
    // the SIM harness style: $RUNPOD_POD_ID in the take template must not leave "_POD_ID" behind
    expect(fillWorker(`${BASE}/job-take/$RUNPOD_POD_ID`, "w1")).toBe(`${BASE}/job-take/w1`);
    expect(fillJob(`${BASE}/job-done/$RUNPOD_POD_ID/$ID?gpu=A100`, "w1", "job-7-u1")).toBe(
      `${BASE}/job-done/w1/job-7-u1?gpu=A100`,
    );
  });

  test("derives the batch and stop URLs from the take URL, keeping its query", () => {
    const urls = resolveRunpodUrls(
      {
        RUNPOD_WEBHOOK_GET_JOB: `${BASE}/job-take/$ID?gpu=A100`,
        RUNPOD_WEBHOOK_POST_OUTPUT: `${BASE}/job-done/$RUNPOD_POD_ID/$ID?gpu=A100`,
        RUNPOD_WEBHOOK_POST_STREAM: `${BASE}/job-stream/$RUNPOD_POD_ID/$ID?gpu=A100`,
        RUNPOD_WEBHOOK_PING: `${BASE}/ping/$RUNPOD_POD_ID`,
      },
      "w1",
    );
    expect(urls.take).toBe(`${BASE}/job-take/w1?gpu=A100`);
    expect(urls.takeBatch).toBe(`${BASE}/job-take-batch/w1?gpu=A100`);
    expect(urls.stop).toBe(`${BASE}/job-stop/w1?gpu=A100`);
    expect(urls.done("j1")).toBe(`${BASE}/job-done/w1/j1?gpu=A100`);
    expect(urls.stream?.("j1")).toBe(`${BASE}/job-stream/w1/j1?gpu=A100`);
    expect(urls.ping).toBe(`${BASE}/ping/w1`);
  });

  test("a take template without /job-take/ has no batch or stop URL; the SDK's placeholders mean unset", () => {
    const urls = resolveRunpodUrls(
      {
        RUNPOD_WEBHOOK_GET_JOB: "http://127.0.0.1:9/next/$ID",
        RUNPOD_WEBHOOK_POST_OUTPUT: "http://127.0.0.1:9/done/$ID",
        RUNPOD_WEBHOOK_POST_STREAM: "JOB_STREAM_URL",
        RUNPOD_WEBHOOK_PING: "PING_NOT_SET",
      },
      "w1",
    );
    expect([urls.takeBatch, urls.stop, urls.stream, urls.ping]).toEqual([undefined, undefined, undefined, undefined]);
  });

  test("a missing take or done template is a configuration error that says what to do", () => {
    expect(() => resolveRunpodUrls({ RUNPOD_WEBHOOK_POST_OUTPUT: "http://x/done/$ID" }, "w")).toThrow(
      /RUNPOD_WEBHOOK_GET_JOB is not set.*--mode api/,
    );
    expect(() =>
      resolveRunpodUrls(
        { RUNPOD_WEBHOOK_GET_JOB: "http://x/job-take/$ID", RUNPOD_WEBHOOK_POST_OUTPUT: "JOB_DONE_URL" },
        "w",
      ),
    ).toThrow(/RUNPOD_WEBHOOK_POST_OUTPUT/);
  });

  test("a take or done template that is no http(s) URL stops the worker; a bad stream or ping one is left off", () => {
    // it used to retry the take forever with "fetch() URL is invalid", a worker that never took a job
    const done = `${BASE}/job-done/$RUNPOD_POD_ID/$ID`;
    expect(() =>
      resolveRunpodUrls({ RUNPOD_WEBHOOK_GET_JOB: "not a url", RUNPOD_WEBHOOK_POST_OUTPUT: done }, "w"),
    ).toThrow('RUNPOD_WEBHOOK_GET_JOB is not an http(s) URL ("not a url"): this worker could not take a single job');
    expect(() =>
      resolveRunpodUrls(
        { RUNPOD_WEBHOOK_GET_JOB: `${BASE}/job-take/$ID`, RUNPOD_WEBHOOK_POST_OUTPUT: "ftp://x/$ID" },
        "w",
      ),
    ).toThrow('RUNPOD_WEBHOOK_POST_OUTPUT is not an http(s) URL ("ftp://x/sync-');
    const urls = resolveRunpodUrls(
      {
        RUNPOD_WEBHOOK_GET_JOB: `${BASE}/job-take/$ID`,
        RUNPOD_WEBHOOK_POST_OUTPUT: done,
        RUNPOD_WEBHOOK_POST_STREAM: "junk",
        RUNPOD_WEBHOOK_PING: "also junk",
      },
      "w",
    );
    expect([urls.stream, urls.ping]).toEqual([undefined, undefined]);
    expect(urls.warnings).toEqual([
      'RUNPOD_WEBHOOK_POST_STREAM is not an http(s) URL ("junk"); left off, as if it were not set',
      'RUNPOD_WEBHOOK_PING is not an http(s) URL ("also junk"); left off, as if it were not set',
    ]);
  });
});

describe("appendQuery", () => {
  test("uses ? when the URL has no query and & when it has one", () => {
    expect(appendQuery("http://h/p", { a: 1 })).toBe("http://h/p?a=1");
    expect(appendQuery("http://h/p?gpu=A100", { a: 1, b: "x y" })).toBe("http://h/p?gpu=A100&a=1&b=x+y");
    expect(appendQuery("http://h/p?", { a: 1 })).toBe("http://h/p?a=1");
    expect(appendQuery("http://h/p?x=1&", { a: 1 })).toBe("http://h/p?x=1&a=1");
  });

  test("leaves out undefined values, encodes commas in job id lists, and keeps a fragment last", () => {
    expect(appendQuery("http://h/p", { a: undefined })).toBe("http://h/p");
    expect(appendQuery("http://h/p", { job_id: "a,b" })).toBe("http://h/p?job_id=a%2Cb");
    expect(appendQuery("http://h/p#frag", { a: 1 })).toBe("http://h/p?a=1#frag");
  });
});
