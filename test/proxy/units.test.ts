import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseListen } from "../../src/cli/proxy.ts";
import { encodePng, gradientImage } from "../../src/emulator/png.ts";
import { localJobsQuery, mergeJobs } from "../../src/proxy/jobs.ts";
import { KNOWN_MISSING_TTL_MS, KnownMissing } from "../../src/proxy/known-missing.ts";
import { localHistoryQuery, mergeHistory } from "../../src/proxy/merge.ts";
import { addPngInfo } from "../../src/proxy/png-info.ts";
import { type RemotePrompt, RemoteQueue } from "../../src/proxy/queue.ts";
import { missingAsNodeErrors } from "../../src/proxy/remote-failure.ts";
import { withNumber } from "../../src/proxy/routes.ts";
import { resolveStoredView } from "../../src/proxy/store.ts";
import { readPngText } from "../../src/workflow/png.ts";

const PROMPT = {
  "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "gone.safetensors" } },
  "9": { class_type: "SaveImage", inputs: { images: ["4", 0] } },
};
const SPEC = [["a.safetensors", "b.safetensors"], {}];
// a finished remote prompt's /history entry; its timing comes from the record around it
const ENTRY = {
  prompt: [],
  outputs: {},
  status: { status_str: "success" as const, completed: true, messages: [] },
  meta: {},
};

function prompt(id: string, createdAt: number): RemotePrompt {
  return {
    number: 0,
    promptId: id,
    prompt: {},
    extraData: { create_time: createdAt },
    outputs: [],
    clientId: null,
    input: {},
    createdAt,
    cancel: new AbortController(),
  };
}

describe("proxy pieces", () => {
  test("missing weights become ComfyUI's value_not_in_list for the node and input naming them", () => {
    const info = { CheckpointLoaderSimple: { input: { required: { ckpt_name: SPEC } } } } as never;
    const errors = missingAsNodeErrors([{ name: "gone.safetensors", nodes: ["4"] }], PROMPT, ["9"], info);
    expect(errors["4"]).toEqual({
      errors: [
        {
          type: "value_not_in_list",
          message: "Value not in list",
          details:
            "ckpt_name: 'gone.safetensors' is not on the endpoint (its workers lack this file; put it on the endpoint's network volume or in its image)",
          extra_info: { input_name: "ckpt_name", input_config: SPEC, received_value: "gone.safetensors" },
        },
      ],
      dependent_outputs: ["9"],
      class_type: "CheckpointLoaderSimple",
    });
  });

  test("a weight the endpoint lacks refuses the next prompt naming it, until the belief expires", () => {
    let now = 1_000;
    const known = new KnownMissing(() => now);
    known.remember(PROMPT, missingAsNodeErrors([{ name: "gone.safetensors", nodes: ["4"] }], PROMPT, ["9"], undefined));
    expect(known.check(PROMPT, ["9"])?.error.type).toBe("prompt_outputs_failed_validation");
    expect(known.check({ "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "ok" } } }, [])).toBe(
      undefined,
    );
    now += KNOWN_MISSING_TTL_MS;
    expect(known.check(PROMPT, ["9"])).toBe(undefined);
  });

  test("PNG outputs get the UI workflow SaveImage embeds, only when the worker wrote metadata", () => {
    const image = gradientImage(8, 8, 1);
    const remote = encodePng(image, { prompt: "{}" });
    const withInfo = addPngInfo(remote, { workflow: { id: "w" } });
    expect(withInfo).toEqual(encodePng(image, { prompt: "{}", workflow: '{"id":"w"}' }));
    expect(readPngText(withInfo, "x").workflow).toBe('{"id":"w"}');
    const bare = encodePng(image);
    expect(addPngInfo(bare, { workflow: {} })).toBe(bare);
    expect(addPngInfo(withInfo, { workflow: { id: "other" } })).toEqual(withInfo);
  });

  test("/view serves only the proxy's remote subfolder, with ComfyUI's 400/403 rules", async () => {
    const out = mkdtempSync(join(tmpdir(), "cw-proxy-view-"));
    await Bun.write(join(out, "remote", "a.png"), "x");
    const view = (q: Record<string, string>) => resolveStoredView(new URLSearchParams(q), out);
    expect(await view({ filename: "a.png", subfolder: "remote" })).toMatchObject({ filename: "a.png" });
    expect(await view({ filename: "a.png", subfolder: "" })).toBe(undefined);
    expect(await view({ filename: "a.png", subfolder: "remote", type: "input" })).toBe(undefined);
    expect(await view({ filename: "../a.png", subfolder: "remote" })).toEqual({ status: 400 });
    expect(await view({ filename: "a.png", subfolder: "remote/../../.." })).toEqual({ status: 403 });
  });

  test("history merges ours in by when each finished, jobs by creation time; max_items and filters as ComfyUI reads them", () => {
    const queue = new RemoteQueue(() => {});
    queue.history.set("r", { item: prompt("r", 20), entry: ENTRY, outcome: "success", endedAt: 25 });
    queue.put(prompt("p", 40));
    const local = {
      l1: { prompt: [0, "l1", {}, { create_time: 10 }, []] },
      l2: { prompt: [1, "l2", {}, { create_time: 30 }, []] },
    };
    expect(Object.keys(mergeHistory(local, queue, new URLSearchParams()) as object)).toEqual(["l1", "r", "l2"]);
    expect(Object.keys(mergeHistory(local, queue, new URLSearchParams("max_items=2")) as object)).toEqual(["r", "l2"]);
    const jobs = mergeJobs(
      { jobs: [{ id: "l2", status: "completed", create_time: 30 }], pagination: { total: 1 } },
      queue,
      new URLSearchParams("status=completed,failed,cancelled&limit=10"),
    ) as { jobs: { id: string; status: string }[]; pagination: { total: number } };
    expect(jobs.jobs.map((j) => [j.id, j.status])).toEqual([
      ["l2", "completed"],
      ["r", "completed"],
    ]);
    expect(jobs.pagination.total).toBe(2);
    // server.py trims and lower-cases statuses and sort words, and filters by workflow_id
    const odd = mergeJobs(
      { jobs: [], pagination: { total: 0 } },
      queue,
      new URLSearchParams("status= Completed&workflow_id=w9"),
    );
    expect((odd as { jobs: unknown[] }).jobs).toEqual([]);
    const done = mergeJobs({ jobs: [], pagination: { total: 0 } }, queue, new URLSearchParams("status= Completed"));
    expect((done as { jobs: { id: string }[] }).jobs.map((j) => j.id)).toEqual(["r"]);
    // a local entry that finished (its messages' time) after a remote one stays after it, whatever its creation time
    const late = {
      prompt: [2, "l3", {}, { create_time: 1 }, []],
      status: { messages: [["execution_success", { timestamp: 99 }]] },
    };
    expect(Object.keys(mergeHistory({ ...local, l3: late }, queue, new URLSearchParams()) as object)).toEqual([
      "l1",
      "r",
      "l2",
      "l3",
    ]);
  });

  test("pages of merged jobs and history hold every job once: ComfyUI's part is cut once, with the merged page", () => {
    const queue = new RemoteQueue(() => {});
    for (const [id, at] of [
      ["r1", 25],
      ["r2", 45],
    ] as const)
      queue.history.set(id, { item: prompt(id, at), entry: ENTRY, outcome: "success", endedAt: at + 1 });
    const localJobs = [10, 20, 30, 40, 50].map((at) => ({ id: `l${at}`, status: "completed", create_time: at }));
    // ComfyUI's GET /api/jobs: newest first, then its own offset and limit
    const comfyJobs = (query: URLSearchParams) => {
      const offset = Number(query.get("offset") ?? 0);
      const limit = query.has("limit") ? Number(query.get("limit")) : undefined;
      const sorted = [...localJobs].sort((a, b) => b.create_time - a.create_time);
      const jobs = sorted.slice(offset, limit === undefined ? undefined : offset + limit);
      return { jobs, pagination: { offset, limit: limit ?? null, total: sorted.length, has_more: false } };
    };
    const seen: string[] = [];
    for (let offset = 0; offset < 10; offset += 2) {
      const query = new URLSearchParams(`limit=2&offset=${offset}`);
      const page = mergeJobs(comfyJobs(localJobsQuery(query)), queue, query) as { jobs: { id: string }[] };
      seen.push(...page.jobs.map((j) => j.id));
    }
    expect(seen).toEqual(["l50", "r2", "l40", "l30", "r1", "l20", "l10"]);
    // values ComfyUI refuses reach it unchanged, for its 400
    expect(localJobsQuery(new URLSearchParams("limit=0")).toString()).toBe("limit=0");
    expect(localJobsQuery(new URLSearchParams("limit=2&offset=x")).toString()).toBe("limit=2&offset=x");

    // ComfyUI's GET /history: oldest first, offset then max_items (-1 and max_items: the newest max_items)
    const localHistory = Object.fromEntries(
      [10, 20, 30].map((at) => [`h${at}`, { prompt: [0, `h${at}`, {}, { create_time: at }, []] }]),
    );
    const comfyHistory = (query: URLSearchParams) => {
      const ids = Object.keys(localHistory);
      const max = query.has("max_items") ? Number(query.get("max_items")) : undefined;
      let offset = query.has("offset") ? Number(query.get("offset")) : -1;
      if (offset < 0 && max !== undefined) offset = ids.length - max;
      const kept = ids.slice(Math.max(0, offset), max === undefined ? undefined : Math.max(0, offset) + max);
      return Object.fromEntries(kept.map((id) => [id, localHistory[id]]));
    };
    const history = (q: string) => {
      const query = new URLSearchParams(q);
      return Object.keys(mergeHistory(comfyHistory(localHistoryQuery(query)), queue, query) as object);
    };
    expect(history("max_items=2&offset=0")).toEqual(["h10", "h20"]);
    expect(history("max_items=2&offset=2")).toEqual(["r1", "h30"]);
    expect(history("max_items=2&offset=4")).toEqual(["r2"]);
    expect(history("max_items=3")).toEqual(["r1", "h30", "r2"]);
    expect(history("offset=3")).toEqual(["h30", "r2"]);
  });

  test("--listen takes HOST:PORT, [V6]:PORT or a bare port", () => {
    expect(parseListen("127.0.0.1:8188")).toEqual({ host: "127.0.0.1", port: 8188 });
    expect(parseListen("[::1]:9000")).toEqual({ host: "::1", port: 9000 });
    expect(parseListen("9001")).toEqual({ host: "127.0.0.1", port: 9001 });
    expect(() => parseListen("host:99999")).toThrow("--listen");
    expect(() => parseListen("127.0.0.1:")).toThrow("--listen");
  });
});

test("a local prompt's body gets its queue number without being re-encoded: big seeds and 1.0 stay as sent", () => {
  const body = '{"prompt": {"3": {"inputs": {"seed": 18446744073709551615, "cfg": 1.0}}}, "front": false}';
  const sent = withNumber(body, 7);
  expect(sent).toBe(`{"number": 7,${body.slice(1)}`);
  expect(sent).toContain("18446744073709551615");
  expect(sent).toContain('"cfg": 1.0');
  expect(JSON.parse(withNumber(" { } ", 3))).toEqual({ number: 3 });
  expect(JSON.parse(withNumber('{\n  "prompt": {}\n}', -2))).toEqual({ number: -2, prompt: {} });
});
