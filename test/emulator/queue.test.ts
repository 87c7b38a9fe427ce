import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import {
  addModel,
  connectWs,
  type Json,
  postPrompt,
  type SpawnedEmulator,
  sd15Workflow,
  spawnEmulator,
  waitForHistory,
} from "../helpers/emulator.ts";

const NODE_MS = 150;
let emu: SpawnedEmulator;
let seed = 1;

beforeAll(async () => {
  emu = await spawnEmulator({ args: ["--node-ms", String(NODE_MS)] });
  await addModel(emu.base, "checkpoints", "dreamshaper_8.safetensors");
});

afterAll(async () => {
  await emu?.stop();
});

function workflow() {
  const w = sd15Workflow();
  w["3"].inputs.seed = seed++;
  return w;
}

const getJson = async (path: string) =>
  (await fetch(`${emu.url}${path}`, { signal: AbortSignal.timeout(5000) })).json() as Promise<Json>;

describe("queue", () => {
  test("/queue shows running and pending tuples, and a pending prompt can be deleted", async () => {
    const first = await postPrompt(emu.url, { prompt: workflow(), client_id: "q" });
    const second = await postPrompt(emu.url, { prompt: workflow(), client_id: "q" });
    const queue = await getJson("/queue");
    expect(queue.queue_running.map((item: unknown[]) => item[1])).toEqual([first.body.prompt_id]);
    expect(queue.queue_pending.map((item: unknown[]) => item[1])).toEqual([second.body.prompt_id]);
    expect(queue.queue_pending[0]).toHaveLength(5);
    expect(queue.queue_pending[0][4]).toEqual(["9"]);
    expect(await getJson("/prompt")).toEqual({ exec_info: { queue_remaining: 2 } });
    const res = await fetch(`${emu.url}/queue`, {
      method: "POST",
      body: JSON.stringify({ delete: [second.body.prompt_id] }),
    });
    expect(res.status).toBe(200);
    expect((await getJson("/queue")).queue_pending).toEqual([]);
    await waitForHistory(emu.url, first.body.prompt_id);
    await Bun.sleep(100);
    expect(await getJson(`/history/${second.body.prompt_id}`)).toEqual({});
    expect(await getJson("/queue")).toEqual({ queue_running: [], queue_pending: [] });
  });

  test("front: true jumps ahead of prompts queued earlier", async () => {
    const ws = await connectWs(emu.url, "order");
    const a = await postPrompt(emu.url, { prompt: workflow(), client_id: "order" });
    const b = await postPrompt(emu.url, { prompt: workflow(), client_id: "order" });
    const c = await postPrompt(emu.url, { prompt: workflow(), client_id: "order", front: true });
    expect(c.body.number).toBeLessThan(0);
    await waitForHistory(emu.url, b.body.prompt_id, 15_000);
    const starts = ws.messages.filter((m) => m.type === "execution_start").map((m) => m.data.prompt_id);
    expect(starts).toEqual([a.body.prompt_id, c.body.prompt_id, b.body.prompt_id]);
    ws.close();
  });

  test("POST /queue {clear:true} wipes every pending prompt", async () => {
    const running = await postPrompt(emu.url, { prompt: workflow() });
    await postPrompt(emu.url, { prompt: workflow() });
    await postPrompt(emu.url, { prompt: workflow() });
    await fetch(`${emu.url}/api/queue`, { method: "POST", body: JSON.stringify({ clear: true }) });
    const queue = await getJson("/queue");
    expect(queue.queue_pending).toEqual([]);
    expect(queue.queue_running[0][1]).toBe(running.body.prompt_id);
    await waitForHistory(emu.url, running.body.prompt_id);
  });
});

describe("interrupt", () => {
  test("/interrupt for another prompt_id is ignored; for the running one it sends execution_interrupted", async () => {
    const ws = await connectWs(emu.url, "int");
    const { body } = await postPrompt(emu.url, { prompt: workflow(), client_id: "int" });
    const id = body.prompt_id as string;
    await ws.next((m) => m.type === "executing" && m.data.prompt_id === id);
    await fetch(`${emu.url}/interrupt`, { method: "POST", body: JSON.stringify({ prompt_id: "not-running" }) });
    await Bun.sleep(NODE_MS);
    expect(ws.messages.some((m) => m.type === "execution_interrupted")).toBe(false);
    const res = await fetch(`${emu.url}/interrupt`, { method: "POST", body: JSON.stringify({ prompt_id: id }) });
    expect(res.status).toBe(200);
    const interrupted = await ws.next((m) => m.type === "execution_interrupted");
    expect(interrupted.data).toMatchObject({ prompt_id: id });
    expect(Object.keys(interrupted.data).sort()).toEqual([
      "executed",
      "node_id",
      "node_type",
      "prompt_id",
      "timestamp",
    ]);
    await ws.next((m) => m.type === "executing" && m.data.node === null && m.data.prompt_id === id);
    const entry = await waitForHistory(emu.url, id);
    expect([entry.status.status_str, entry.status.completed]).toEqual(["error", false]);
    expect(entry.status.messages.map((m: [string]) => m[0])).toEqual([
      "execution_start",
      "execution_cached",
      "execution_interrupted",
    ]);
    expect(emu.stderr()).toContain("Processing interrupted");
    ws.close();
  });

  test("/interrupt with an empty body interrupts whatever runs", async () => {
    const ws = await connectWs(emu.url, "int2");
    const { body } = await postPrompt(emu.url, { prompt: workflow(), client_id: "int2" });
    await ws.next((m) => m.type === "executing" && m.data.prompt_id === body.prompt_id);
    await fetch(`${emu.url}/api/interrupt`, { method: "POST" });
    await ws.next((m) => m.type === "execution_interrupted" && m.data.prompt_id === body.prompt_id);
    ws.close();
  });
});

describe("--node-ms", () => {
  test("each executed node takes about the given time", async () => {
    const ws = await connectWs(emu.url, "timing");
    const { body } = await postPrompt(emu.url, { prompt: workflow(), client_id: "timing" });
    const start = await ws.next((m) => m.type === "execution_start" && m.data.prompt_id === body.prompt_id);
    const end = await ws.next((m) => m.type === "execution_success" && m.data.prompt_id === body.prompt_id, 10_000);
    const elapsed = (end.data.timestamp as number) - (start.data.timestamp as number);
    // nodes whose inputs did not change since the last prompt come from cache and take no time
    const ran = ws.messages.filter((m) => m.type === "executing" && m.data.prompt_id === body.prompt_id && m.data.node);
    expect(ran.length).toBeGreaterThanOrEqual(3);
    expect(elapsed).toBeGreaterThanOrEqual(ran.length * NODE_MS - 20);
    expect(elapsed).toBeLessThan(ran.length * NODE_MS + 1500);
    expect(emu.stderr()).toMatch(/Prompt executed in \d+\.\d\d seconds/);
    ws.close();
  });
});
