import { describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseListen } from "../../src/cli/proxy.ts";
import { encodePng, gradientImage } from "../../src/emulator/png.ts";
import { mergeJobs } from "../../src/proxy/jobs.ts";
import { KNOWN_MISSING_TTL_MS, KnownMissing } from "../../src/proxy/known-missing.ts";
import { mergeHistory } from "../../src/proxy/merge.ts";
import { addPngInfo } from "../../src/proxy/png-info.ts";
import { type RemotePrompt, RemoteQueue } from "../../src/proxy/queue.ts";
import { missingAsNodeErrors } from "../../src/proxy/remote-failure.ts";
import { resolveStoredView } from "../../src/proxy/store.ts";
import { readPngText } from "../../src/workflow/png.ts";

const PROMPT = {
  "4": { class_type: "CheckpointLoaderSimple", inputs: { ckpt_name: "gone.safetensors" } },
  "9": { class_type: "SaveImage", inputs: { images: ["4", 0] } },
};
const SPEC = [["a.safetensors", "b.safetensors"], {}];

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
          details: "ckpt_name: 'gone.safetensors' not in ['a.safetensors', 'b.safetensors']",
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

  test("history and jobs merge ours in by creation time, honouring max_items and the status filter", () => {
    const queue = new RemoteQueue(() => {});
    const entry = {
      prompt: [],
      outputs: {},
      status: { status_str: "success" as const, completed: true, messages: [] },
      meta: {},
    };
    queue.history.set("r", { item: prompt("r", 20), entry, outcome: "success", endedAt: 30 });
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
  });

  test("--listen takes HOST:PORT, [V6]:PORT or a bare port", () => {
    expect(parseListen("127.0.0.1:8188")).toEqual({ host: "127.0.0.1", port: 8188 });
    expect(parseListen("[::1]:9000")).toEqual({ host: "::1", port: 9000 });
    expect(parseListen("9001")).toEqual({ host: "127.0.0.1", port: 9001 });
    expect(() => parseListen("host:99999")).toThrow("--listen");
  });
});
