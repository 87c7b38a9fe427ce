import { describe, expect, test } from "bun:test";
import type { ComfyHandle, ComfyState } from "../../src/comfy/supervisor.ts";
import { parseNvidiaSmi, parseVisibleDevices, resolveGpus } from "../../src/gpus/discover.ts";
import { Dispatcher } from "../../src/gpus/dispatcher.ts";
import { type GpuInstance, InstancePool } from "../../src/gpus/pool.ts";
import { fakeComfyHandle } from "../helpers/fake-comfy-handle.ts";

// a handle whose state the test moves, telling its listeners as a supervisor does
function handle(state: ComfyState = "ready"): ComfyHandle & { set(state: ComfyState): void } {
  const listeners = new Set<(state: ComfyState) => void>();
  const base = fakeComfyHandle(state);
  return Object.assign(base, {
    onState: (listener: (s: ComfyState) => void) => {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    set(next: ComfyState) {
      base.state = next;
      for (const listener of listeners) listener(next);
    },
  });
}

function pool(count: number) {
  const handles = Array.from({ length: count }, () => handle("starting"));
  const instances: GpuInstance[] = handles.map((comfy, slot) => ({ slot, gpu: { index: slot }, comfy }));
  return { handles, pool: new InstancePool(instances) };
}

describe("GPU discovery", () => {
  test("nvidia-smi -L, CUDA_VISIBLE_DEVICES and explicit lists", async () => {
    const smi = "GPU 0: NVIDIA A100-SXM4-80GB (UUID: GPU-1)\nGPU 1: NVIDIA A100-SXM4-80GB (UUID: GPU-2)\n";
    expect(parseNvidiaSmi(smi)).toEqual([
      { index: 0, name: "NVIDIA A100-SXM4-80GB" },
      { index: 1, name: "NVIDIA A100-SXM4-80GB" },
    ]);
    expect(parseVisibleDevices("2,3")).toEqual([{ index: 2 }, { index: 3 }]);
    expect(parseVisibleDevices("GPU-aaa,GPU-bbb")).toEqual([{ index: 0 }, { index: 1 }]);
    expect(parseVisibleDevices("void")).toEqual([]);
    expect(await resolveGpus(undefined, { env: {} })).toBeUndefined();
    expect(await resolveGpus("1, 0,1", { env: {} })).toEqual([{ index: 1 }, { index: 0 }]);
    expect(await resolveGpus("auto", { env: {}, nvidiaSmi: async () => smi })).toHaveLength(2);
    const env = { CUDA_VISIBLE_DEVICES: "5" };
    expect(await resolveGpus("auto", { env, nvidiaSmi: async () => undefined })).toEqual([{ index: 5 }]);
  });
});

describe("InstancePool", () => {
  test("ready while any instance is; failed only when every one failed for good", () => {
    const { handles, pool: p } = pool(3);
    expect(p.state).toBe("starting");
    const seen: ComfyState[] = [];
    p.onState((state) => seen.push(state));
    handles[0]?.set("ready");
    handles[2]?.set("ready");
    expect(p.state).toBe("ready");
    handles[0]?.set("failed");
    handles[1]?.set("failed");
    expect(p.state).toBe("ready");
    expect(p.healthy().map((i) => i.slot)).toEqual([2]);
    handles[2]?.set("restarting");
    expect(p.state).toBe("restarting");
    handles[2]?.set("failed");
    expect(p.state).toBe("failed");
    expect(seen).toEqual(["ready", "restarting", "failed"]);
  });
});

describe("Dispatcher", () => {
  test("spreads jobs over idle instances, queues when all are busy, and frees on release", async () => {
    const { handles, pool: p } = pool(2);
    for (const h of handles) h.set("ready");
    const d = new Dispatcher(p);
    const a = await d.acquire([]);
    const b = await d.acquire([]);
    expect([a.slot, b.slot].sort()).toEqual([0, 1]);
    let third: GpuInstance | undefined;
    const waiting = d.acquire([]).then((i) => (third = i));
    await Bun.sleep(1);
    expect(third).toBeUndefined();
    d.release(b, []);
    await waiting;
    expect(third?.slot).toBe(b.slot);
  });

  test("prefers the idle instance that already has the job's model loaded", async () => {
    const { handles, pool: p } = pool(3);
    for (const h of handles) h.set("ready");
    const d = new Dispatcher(p);
    const first = await d.acquire(["checkpoints/flux.safetensors"]);
    const other = await d.acquire(["checkpoints/sdxl.safetensors"]);
    d.release(first, ["checkpoints/flux.safetensors"]);
    d.release(other, ["checkpoints/sdxl.safetensors"]);
    expect((await d.acquire(["checkpoints/sdxl.safetensors"])).slot).toBe(other.slot);
  });

  test("a crashed or failed instance gets no jobs; capacity counts the ones not failed for good", async () => {
    const { handles, pool: p } = pool(2);
    for (const h of handles) h.set("ready");
    const d = new Dispatcher(p);
    handles[0]?.set("restarting");
    expect(d.capacity()).toBe(2);
    expect((await d.acquire([])).slot).toBe(1);
    handles[0]?.set("failed");
    expect(d.capacity()).toBe(1);
  });

  test("an aborted wait leaves the queue", async () => {
    const { handles, pool: p } = pool(1);
    handles[0]?.set("restarting");
    const d = new Dispatcher(p);
    const abort = new AbortController();
    const waiting = d.acquire([], abort.signal);
    abort.abort(new Error("cancelled"));
    await expect(waiting).rejects.toThrow("cancelled");
    handles[0]?.set("ready");
    expect((await d.acquire([])).slot).toBe(0);
  });
});
