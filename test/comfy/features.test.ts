/**
 * Newer-ComfyUI behaviours, detected from the server: the emulator's old (0.14.1) and new (0.28.2) profiles
 * as real processes, and a loopback server that drops a POST /prompt connection.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cancelPrompt } from "../../src/comfy/cancel-prompt.ts";
import { createComfyClient } from "../../src/comfy/client.ts";
import { detectFeatures, featuresOf, versionAtLeast } from "../../src/comfy/features.ts";
import { submitPrompt } from "../../src/comfy/submit-prompt.ts";
import { postPrompt, type SpawnedEmulator, spawnEmulator } from "../helpers/emulator.ts";

const SAVE = {
  "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } },
  "2": { class_type: "SaveImage", inputs: { images: ["1", 0], filename_prefix: "f" } },
};
const emulators: Partial<Record<"old" | "new", SpawnedEmulator>> = {};

beforeAll(async () => {
  const [old, current] = await Promise.all([
    spawnEmulator({ args: ["--comfyui-version", "old", "--node-ms", "3000"] }),
    spawnEmulator({ args: ["--comfyui-version", "new", "--node-ms", "3000"] }),
  ]);
  emulators.old = old;
  emulators.new = current;
});
afterAll(async () => {
  await Promise.all([emulators.old?.stop(), emulators.new?.stop()]);
});

const emu = (profile: "old" | "new") => emulators[profile] as SpawnedEmulator;

test("versions compare numerically and unreadable ones never count as new", () => {
  expect(versionAtLeast("0.28.2", "0.3.45")).toBe(true);
  expect(versionAtLeast("0.3.44", "0.3.45")).toBe(false);
  expect(versionAtLeast("0.3.45", "0.3.45")).toBe(true);
  expect(versionAtLeast("v0.10.0+emulator", "0.3.45")).toBe(true);
  expect(versionAtLeast("0.0.0-emulator", "0.3.45")).toBe(false);
  expect(versionAtLeast(undefined, "0.3.45")).toBe(false);
  expect(versionAtLeast("fake", "0.3.45")).toBe(false);
});

test("detects each profile: version from /system_stats, flags from /features, the job cancel route by probing", async () => {
  const old = await detectFeatures(createComfyClient({ url: emu("old").url }));
  const current = await detectFeatures(createComfyClient({ url: emu("new").url }));
  expect(old).toMatchObject({ version: "0.14.1+emulator", clientPromptId: true, jobCancel: false });
  expect(current).toMatchObject({ version: "0.28.2+emulator", clientPromptId: true, jobCancel: true });
  expect(current.flags).toMatchObject({ supports_preview_metadata: true });
  // the probe cancelled nothing and left no trace in the queue
  expect(await createComfyClient({ url: emu("new").url }).queue()).toEqual({ running: [], pending: [] });
});

describe("cancel", () => {
  for (const profile of ["old", "new"] as const) {
    test(`${profile}: a running prompt is interrupted through ${profile === "new" ? "POST /api/jobs/{id}/cancel" : "/interrupt"}`, async () => {
      const client = createComfyClient({ url: emu(profile).url });
      const promptId = crypto.randomUUID();
      await client.queuePrompt(SAVE, { clientId: "t", promptId });
      await _until(async () => (await client.queue()).running.includes(promptId));
      expect(await cancelPrompt(client, promptId, { graceMs: 5_000 })).toBe("interrupted");
      const viaJobs = emu(profile).stderr().includes(`Cancelling running prompt ${promptId}`);
      expect(viaJobs).toBe(profile === "new");
      expect((await client.history(promptId))?.status?.status_str).toBe("error");
    });
  }

  test("new: a pending prompt is dequeued by the job route and reported deleted", async () => {
    const client = createComfyClient({ url: emu("new").url });
    const [first, second] = [crypto.randomUUID(), crypto.randomUUID()];
    await client.queuePrompt(SAVE, { clientId: "t", promptId: first });
    await client.queuePrompt(SAVE, { clientId: "t", promptId: second });
    expect(await cancelPrompt(client, second)).toBe("deleted");
    expect(emu("new").stderr()).toContain(`Cancelling pending prompt ${second}`);
    expect(await cancelPrompt(client, first)).toBe("interrupted");
    expect(await cancelPrompt(client, first)).toBe("gone");
  });
});

test("new refuses a prompt_id that is not a canonical UUID; old takes it as it is", async () => {
  const body = { prompt: SAVE, prompt_id: "ABC" };
  const refused = await postPrompt(emu("new").url, body);
  expect(refused.status).toBe(400);
  expect(refused.body.error).toEqual({
    type: "invalid_prompt_id",
    message: "prompt_id must be a valid UUID",
    details:
      "prompt_id must be a UUID string in canonical lowercase hyphenated form; omit it to let the server generate one",
    extra_info: {},
  });
  const taken = await postPrompt(emu("old").url, body);
  expect([taken.status, taken.body.prompt_id]).toEqual([200, "ABC"]);
});

test("new rejects an input that is a symlink leaving input/ (as v0.28's realpath check does); old follows it", async () => {
  const outside = join(tmpdir(), `cw-outside-${process.pid}.png`);
  writeFileSync(outside, "png");
  const load = (image: string) => ({
    "1": { class_type: "LoadImage", inputs: { image } },
    "2": { class_type: "PreviewImage", inputs: { images: ["1", 0] } },
  });
  for (const profile of ["old", "new"] as const) {
    symlinkSync(outside, join(emu(profile).base, "input", "linked.png"));
    writeFileSync(join(emu(profile).base, "input", "real.png"), "png");
  }
  const rejected = await postPrompt(emu("new").url, { prompt: load("linked.png") });
  expect(rejected.status).toBe(400);
  expect(JSON.stringify(rejected.body.node_errors)).toContain("Invalid image file: linked.png");
  expect((await postPrompt(emu("new").url, { prompt: load("real.png") })).status).toBe(200);
  expect((await postPrompt(emu("old").url, { prompt: load("linked.png") })).status).toBe(200);
});

describe("submitPrompt after a dropped connection", () => {
  let server: Server;
  let url = "";
  let version = "0.28.2";
  let dropMode: "after-queue" | "before-queue" = "after-queue";
  const queued: string[] = [];
  let posts = 0;

  beforeAll(async () => {
    server = createServer((req, res) => {
      let body = "";
      req.on("data", (chunk) => {
        body += chunk;
      });
      req.on("end", () => {
        const json = (data: unknown) =>
          res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(data));
        if (req.url === "/system_stats") return json({ system: { comfyui_version: version }, devices: [] });
        if (req.url === "/queue") return json({ queue_running: [], queue_pending: queued.map((id, i) => [i, id]) });
        if (req.url?.startsWith("/history/")) return json({});
        if (req.url !== "/prompt") return res.writeHead(404).end();
        const id = (JSON.parse(body) as { prompt_id: string }).prompt_id;
        // the first POST of each test loses its connection: before or after ComfyUI queued it
        if (posts++ === 0) {
          if (dropMode === "after-queue") queued.push(id);
          return req.socket.destroy();
        }
        queued.push(id);
        return json({ prompt_id: id, number: 1, node_errors: {} });
      });
    });
    await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
    url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });
  afterAll(() => {
    server.close();
  });

  const submit = async () => {
    posts = 0;
    queued.length = 0;
    const client = createComfyClient({ url });
    const promptId = crypto.randomUUID();
    const result = await submitPrompt(client, SAVE, { clientId: "t", promptId }).catch((error: Error) => error);
    return { promptId, result };
  };

  test("queued before the drop: found by its id, never sent twice", async () => {
    [version, dropMode] = ["0.28.2", "after-queue"];
    const { promptId, result } = await submit();
    expect(result).toMatchObject({ promptId });
    expect([posts, queued]).toEqual([1, [promptId]]);
  });

  test("lost before ComfyUI queued it: sent once more", async () => {
    [version, dropMode] = ["0.28.2", "before-queue"];
    const { promptId, result } = await submit();
    expect(result).toMatchObject({ promptId });
    expect([posts, queued]).toEqual([2, [promptId]]);
  });

  test("a server too old to keep our id: the error stands, nothing is resent", async () => {
    [version, dropMode] = ["0.3.40", "before-queue"];
    const { result } = await submit();
    expect(result).toBeInstanceOf(Error);
    expect(posts).toBe(1);
  });

  test("detection is remembered per client", async () => {
    const client = createComfyClient({ url });
    expect(featuresOf(client)).toBe(featuresOf(client));
  });
});

async function _until(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await Bun.sleep(25);
  }
}

describe("newer optional fields", () => {
  test("executed with asset ids, progress_state and a prompt's preview_method parse as known events", async () => {
    const { parseWsMessage } = await import("../../src/comfy/schemas.ts");
    const executed = parseWsMessage(
      JSON.stringify({
        type: "executed",
        data: {
          node: "9",
          display_node: "9",
          output: { images: [{ filename: "a.png", subfolder: "", type: "output", asset_id: "4f1c" }] },
          prompt_id: "p",
          assets: [{ id: "4f1c", hash: null }],
        },
      }),
    );
    expect(executed).toMatchObject({ type: "executed", data: { node: "9", prompt_id: "p" } });
    const state = parseWsMessage(
      JSON.stringify({
        type: "progress_state",
        data: { prompt_id: "p", nodes: { "3": { value: 2, max: 20, state: "running", node_id: "3" } } },
      }),
    );
    expect(state).toMatchObject({ type: "progress_state", data: { nodes: { "3": { state: "running" } } } });
    const start = parseWsMessage(JSON.stringify({ type: "execution_start", data: { prompt_id: "p", timestamp: 1 } }));
    expect(start?.type).toBe("execution_start");
  });

  test("GET /history/{id} = {} means not finished (undefined), for a queued id as for an unknown one", async () => {
    const client = createComfyClient({ url: emu("new").url });
    const promptId = crypto.randomUUID();
    await client.queuePrompt(SAVE, { clientId: "t", promptId, extraData: { preview_method: "none" } });
    expect(await client.history(promptId)).toBeUndefined();
    expect(await client.history(crypto.randomUUID())).toBeUndefined();
    await cancelPrompt(client, promptId);
  });
});

test("the emulator's profile and failure knobs refuse values they do not know", async () => {
  const { resolveEmulatorOptions } = await import("../../src/emulator/options.ts");
  const { resolveProfile } = await import("../../src/emulator/profile.ts");
  expect(resolveProfile("0.14")?.name).toBe("old");
  expect(resolveProfile("0.3.60")?.name).toBe("oldest");
  expect(resolveProfile("v0.28.2")?.name).toBe("new");
  expect(resolveProfile("current")?.name).toBe("new");
  expect(resolveProfile(undefined)?.name).toBe("new");
  expect(() => resolveEmulatorOptions({ baseDir: "/tmp", comfyuiVersion: "latest-ish" })).toThrow(
    /old \(0.14.1\) or new \(0.28.2/,
  );
  expect(() => resolveEmulatorOptions({ baseDir: "/tmp", failNodes: ["KSampler=segfault"] })).toThrow(
    /kind must be one of/,
  );
});
