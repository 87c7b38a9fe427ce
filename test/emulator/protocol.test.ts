import { describe, expect, test } from "bun:test";
import { addModel, connectWs, type Json, postPrompt, sd15Workflow, useEmulator } from "../helpers/emulator.ts";

const emu = useEmulator([["checkpoints", "dreamshaper_8.safetensors"]]);

const json = emu.json;

describe("read-only routes", () => {
  test("/system_stats has ComfyUI's shape with an emulated cpu device", async () => {
    const stats = await json("/system_stats");
    // the release the default (new) profile behaves like, marked as the emulator
    expect(stats.system.comfyui_version).toBe("0.28.2+emulator");
    expect(stats.system.ram_total).toBeGreaterThan(0);
    expect(stats.system.argv).toBeArray();
    expect(stats.devices).toHaveLength(1);
    expect(stats.devices[0]).toMatchObject({ type: "cpu", index: null });
    expect(stats.devices[0].name).toContain("cpu");
    expect(Object.keys(stats.devices[0]).sort()).toEqual(
      ["index", "name", "torch_vram_free", "torch_vram_total", "type", "vram_free", "vram_total"].sort(),
    );
  });

  test("/ answers with a page that says it is not ComfyUI", async () => {
    const res = await fetch(`${emu.url}/`);
    expect(res.headers.get("content-type")).toContain("text/html");
    expect(await res.text()).toContain("not ComfyUI");
  });

  test("every route also answers under /api", async () => {
    for (const path of [
      "/system_stats",
      "/object_info/KSampler",
      "/prompt",
      "/queue",
      "/history",
      "/models",
      "/embeddings",
      "/features",
    ]) {
      const [plain, api] = await Promise.all([fetch(`${emu.url}${path}`), fetch(`${emu.url}/api${path}`)]);
      expect([path, api.status]).toEqual([path, 200]);
      if (path !== "/system_stats") expect(await api.json()).toEqual(await plain.json());
    }
    const ws = await connectWs(emu.url, "api-alias", { path: "/api/ws" });
    expect(ws.messages[0]).toMatchObject({ type: "status", data: { sid: "api-alias" } });
    ws.close();
  });

  test("/object_info fills checkpoint combos from the models folder and LoadImage from input", async () => {
    await Bun.write(`${emu.base}/input/listed.png`, "not really a png");
    const info = await json("/object_info");
    expect(Object.keys(info).length).toBeGreaterThan(300);
    expect(info.CheckpointLoaderSimple.input.required.ckpt_name[0]).toEqual(["dreamshaper_8.safetensors"]);
    expect(info.LoadImage.input.required.image[0]).toContain("listed.png");
    expect(await json("/object_info/NoSuchNode")).toEqual({});
    const one = await json("/object_info/CheckpointLoaderSimple");
    expect(Object.keys(one)).toEqual(["CheckpointLoaderSimple"]);
  });

  test("/object_info/{type} lists only that node's folders, and says what the full /object_info says", async () => {
    await addModel(emu.base, "vae_approx", "taesd_encoder.pth");
    await addModel(emu.base, "vae_approx", "taesd_decoder.pth");
    await addModel(emu.base, "loras", "detail.safetensors");
    const full = await json("/object_info");
    for (const type of ["CheckpointLoaderSimple", "VAELoader", "LoraLoader", "LoadImage", "KSampler"]) {
      expect(await json(`/object_info/${type}`)).toEqual({ [type]: full[type] });
    }
    expect(full.VAELoader.input.required.vae_name[0]).toContain("taesd");
    expect(full.LoraLoader.input.required.lora_name[0]).toEqual(["detail.safetensors"]);
  });

  test("/models lists folder keys and files; unknown keys and the legacy unet/clip are 404", async () => {
    const keys = (await json("/models")) as unknown as string[];
    expect(keys).toContain("checkpoints");
    expect(keys).toContain("diffusion_models");
    expect(keys).not.toContain("unet");
    expect(await json("/models/checkpoints")).toEqual(["dreamshaper_8.safetensors"]);
    for (const key of ["unet", "clip", "nope"]) expect((await fetch(`${emu.url}/models/${key}`)).status).toBe(404);
  });

  test("/embeddings lists names without extension; /features has the server flags", async () => {
    await addModel(emu.base, "embeddings", "easynegative.safetensors");
    expect(await json("/embeddings")).toEqual(["easynegative"]);
    expect(await json("/features")).toMatchObject({ supports_preview_metadata: true });
  });
});

describe("websocket", () => {
  test("the first message is status with the clientId as sid; without one the server assigns a sid", async () => {
    const named = await connectWs(emu.url, "client-1");
    expect(named.messages[0]).toEqual({
      type: "status",
      data: { status: { exec_info: { queue_remaining: 0 } }, sid: "client-1" },
    });
    const anonymous = await connectWs(emu.url);
    expect(anonymous.messages[0]?.type).toBe("status");
    expect(anonymous.messages[0]?.data.sid).toMatch(/^[0-9a-f]{32}$/);
    named.close();
    anonymous.close();
  });

  test("the feature_flags handshake is answered with the server flags", async () => {
    const ws = await connectWs(emu.url, "flags", { featureFlags: { supports_preview_metadata: true } });
    const reply = await ws.next((m) => m.type === "feature_flags");
    // recorded from a real ComfyUI 0.28.2 (GET /features and the handshake answer are the same object)
    expect(reply.data).toEqual({
      supports_preview_metadata: true,
      supports_model_type_tags: true,
      max_upload_size: 104857600,
      extension: { manager: { supports_v4: true } },
      node_replacements: true,
      assets: false,
    });
    ws.close();
  });

  test("a successful prompt sends the full event sequence to its client, ending with executing node:null after history", async () => {
    const a = await connectWs(emu.url, "seq-a");
    const b = await connectWs(emu.url, "seq-b");
    const workflow = sd15Workflow();
    workflow["3"].inputs.seed = 1001;
    const { status, body } = await postPrompt(emu.url, { prompt: workflow, client_id: "seq-a" });
    expect(status).toBe(200);
    const id = body.prompt_id as string;
    const done = await a.next((m) => m.type === "executing" && m.data.node === null && m.data.prompt_id === id);
    // history is written before the final executing event
    expect(Object.keys(await json(`/history/${id}`))).toEqual([id]);
    expect(done.data).toEqual({ node: null, prompt_id: id });
    const own = a.messages.filter((m) => m.data.prompt_id === id && m.type !== "progress_state");
    const types = own.map((m) => m.type);
    expect(types[0]).toBe("execution_start");
    expect(types[1]).toBe("execution_cached");
    expect(types.at(-2)).toBe("execution_success");
    expect(types.at(-1)).toBe("executing");
    const executing = own.filter((m) => m.type === "executing" && m.data.node !== null).map((m) => m.data.node);
    expect(executing.sort()).toEqual(["3", "4", "5", "6", "7", "8", "9"]);
    const progress = own.filter((m) => m.type === "progress");
    expect(progress).toHaveLength(20);
    expect(progress.at(-1)?.data).toEqual({ value: 20, max: 20, prompt_id: id, node: "3" });
    const executed = own.find((m) => m.type === "executed");
    expect(executed?.data).toMatchObject({ node: "9", display_node: "9", prompt_id: id });
    expect((executed?.data.output as Json | undefined)?.images[0]).toEqual({
      filename: "ComfyUI_00001_.png",
      subfolder: "",
      type: "output",
    });
    expect(a.messages.some((m) => m.type === "progress_state" && m.data.prompt_id === id)).toBe(true);
    // as a real 0.28.2 does: each node's progress_state "running" comes before its `executing`
    for (const node of executing) {
      const running = a.messages.findIndex(
        (m) => m.type === "progress_state" && (m.data.nodes as Json)?.[node as string]?.state === "running",
      );
      const started = a.messages.findIndex((m) => m.type === "executing" && m.data.node === node);
      expect([node, running >= 0 && running < started]).toEqual([node, true]);
    }

    // routing: the other client sees broadcasts (status, progress_state) but none of this prompt's own events
    await Bun.sleep(50);
    const leaked = b.messages.filter((m) =>
      ["executing", "executed", "progress", "execution_start", "execution_success", "execution_cached"].includes(
        m.type,
      ),
    );
    expect(leaked).toEqual([]);
    expect(b.messages.filter((m) => m.type === "status").length).toBeGreaterThanOrEqual(3);
    expect(b.messages.some((m) => m.type === "progress_state")).toBe(true);
    a.close();
    b.close();
  });
});
