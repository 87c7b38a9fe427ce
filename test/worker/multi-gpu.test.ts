import { describe, expect, test } from "bun:test";
import { sd15Workflow } from "../helpers/emulator.ts";
import { startFakeRunpod } from "../helpers/fake-runpod.ts";
import { eventually, type Json, jsonPost, startTestWorker, stopAfterEach } from "../helpers/worker.ts";
import { startRunpodTestWorker } from "../runpod/_helpers.ts";

const track = stopAfterEach();

async function health(w: { api: (path: string) => Promise<Response> }): Promise<Json> {
  return (await (await w.api("/health")).json()) as Json;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const job = (seed: number) => ({ input: { workflow: sd15Workflow(), overrides: { "3.seed": seed } } });

describe("one ComfyUI per GPU (COMFY_GPUS, emulated)", () => {
  test("each GPU gets its own instance; jobs spread over them; SIGTERM stops them all", async () => {
    const w = track(await startTestWorker({ COMFY_GPUS: "0,1,2", COMFY_ARGS: "--node-ms 150" }));
    const instances = (await health(w)).instances as Json[];
    expect(instances.map((i) => i.gpu)).toEqual([0, 1, 2]);
    expect(new Set(instances.map((i) => i.url)).size).toBe(3);
    // each instance is the GPU it was given
    for (const instance of instances) {
      const stats = (await (await fetch(`${instance.url}/system_stats`)).json()) as Json;
      expect(stats.devices[0].name).toContain(`Emulated GPU ${instance.gpu}`);
    }
    const ids = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(async (seed) => ((await (await w.api("/run", jsonPost(job(seed)))).json()) as Json).id),
    );
    for (const id of ids) {
      const done = (await (await w.api(`/status-sync/${id}?wait=20000`)).json()) as Json;
      expect(done.status).toBe("COMPLETED");
    }
    // six jobs at three at once: every instance ran some
    const ran = await Promise.all(
      instances.map(async (i) => Object.keys((await (await fetch(`${i.url}/history`)).json()) as Json).length),
    );
    expect(ran.every((count) => count > 0)).toBe(true);
    expect(ran.reduce((a, b) => a + b, 0)).toBe(6);
    const pids = instances.map((i) => i.pid as number);
    await w.stop();
    for (const pid of pids) expect(alive(pid)).toBe(false);
  }, 60_000);

  test("an instance that crashes mid-job fails only that job and restarts; one that keeps failing is dropped", async () => {
    const w = track(await startTestWorker({ COMFY_GPUS: "0,1", COMFY_ARGS: "--node-ms 800", COMFY_MAX_RESTARTS: "1" }));
    const submit = async (seed: number) => ((await (await w.api("/run", jsonPost(job(seed)))).json()) as Json).id;
    const ids = await Promise.all([submit(1), submit(2)]);
    // both are running, one per GPU: kill GPU 1's ComfyUI
    await eventually(async () => (await health(w)).instances.every((i: Json) => i.busy), "both instances busy");
    const victim = (await health(w)).instances[1] as Json;
    process.kill(victim.pid, "SIGKILL");
    const results = await Promise.all(
      ids.map(async (id) => (await (await w.api(`/status-sync/${id}?wait=20000`)).json()) as Json),
    );
    expect(results.map((r) => r.status).sort()).toEqual(["COMPLETED", "FAILED"]);
    await eventually(async () => (await health(w)).instances[1].state === "ready", "GPU 1 restarted", 20_000);
    expect((await health(w)).instances[1].restarts).toBe(1);
    // it crashes again past its restart limit: dropped, and the worker goes on with GPU 0
    process.kill((await health(w)).instances[1].pid, "SIGKILL");
    await eventually(async () => (await health(w)).instances[1].state === "failed", "GPU 1 dropped", 20_000);
    const after = await health(w);
    expect(after.status).toBe("ready");
    expect(after.instances[0].state).toBe("ready");
    const next = (await (await w.api("/runsync?wait=20000", jsonPost(job(3)))).json()) as Json;
    expect(next.status).toBe("COMPLETED");
  }, 60_000);
});

describe("one ComfyUI per GPU in RunPod mode", () => {
  test("the worker runs one job per instance although CONCURRENCY is 1, and every job completes", async () => {
    const fake = startFakeRunpod({ holdMs: 300 });
    const worker = await startRunpodTestWorker(fake, { COMFY_GPUS: "0,1", COMFY_ARGS: "--node-ms 300" });
    try {
      fake.enqueue(...[1, 2, 3, 4].map((seed) => ({ id: `gpu-${seed}`, input: job(seed).input })));
      for (const seed of [1, 2, 3, 4])
        await fake.waitFor(() => fake.accepted(`gpu-${seed}`).length === 1, `gpu-${seed} reported`, 20_000);
      expect(fake.accepted("gpu-1")[0]?.json.output.images).toHaveLength(1);
      // what ComfyUI saw: prompts ran two at a time, one on each instance. (Held jobs may briefly be three:
      // a finished job's result is still being posted while the freed instance already runs the next one.)
      const instances = (await health({ api: (path) => fetch(`${worker.url}${path}`) })).instances as Json[];
      const spans = (await Promise.all(instances.map((i) => runSpans(i.url)))).flat();
      expect(spans).toHaveLength(4);
      expect(mostAtOnce(spans)).toBe(2);
    } finally {
      await worker.stop();
      await fake.close();
    }
  }, 60_000);
});

type Span = { start: number; end: number };

/** execution_start → execution_success of every prompt in one ComfyUI's /history. */
async function runSpans(comfyUrl: string): Promise<Span[]> {
  const history = (await (await fetch(`${comfyUrl}/history`)).json()) as Json;
  return Object.values(history).map((entry) => {
    const messages = (entry as Json).status.messages as Array<[string, { timestamp: number }]>;
    const at = (name: string) => messages.find(([event]) => event === name)?.[1].timestamp ?? Number.NaN;
    return { start: at("execution_start"), end: at("execution_success") };
  });
}

function mostAtOnce(spans: Span[]): number {
  return Math.max(...spans.map((s) => spans.filter((o) => o.start <= s.start && s.start < o.end).length));
}
