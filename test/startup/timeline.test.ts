import { describe, expect, test } from "bun:test";
import { ComfyLineReader, parseComfyLine } from "../../src/startup/comfy-lines.ts";
import { formatTimeline, STARTUP_PHASES, StartupTimeline } from "../../src/startup/timeline.ts";

// ComfyUI's own output, as nodes.py, server.py, model_management.py and model_patcher.py print it
const BOOT = [
  "Checkpoint files will always be loaded safely.",
  "Total VRAM 24564 MB, total RAM 64221 MB",
  "Import times for custom nodes:",
  "   0.0 seconds: /comfyui/custom_nodes/websocket_image_save.py",
  "   0.3 seconds (IMPORT FAILED): /comfyui/custom_nodes/ComfyUI-Broken",
  "   1.2 seconds: /comfyui/custom_nodes/ComfyUI-KJNodes",
  "Starting server",
  "To see the GUI go to: http://127.0.0.1:8188",
];

describe("ComfyUI's lines", () => {
  test("import-table rows count only under the table's heading", () => {
    expect(parseComfyLine("   0.3 seconds (IMPORT FAILED): /x/custom_nodes/Pack", false)).toBeUndefined();
    expect(parseComfyLine("   0.3 seconds (IMPORT FAILED): /x/custom_nodes/Pack", true)).toEqual({
      kind: "pack-import",
      pack: { name: "Pack", path: "/x/custom_nodes/Pack", seconds: 0.3, failed: true },
    });
    const reader = new ComfyLineReader();
    const facts = BOOT.map((line) => reader.read(line)?.kind);
    expect(facts).toEqual([
      undefined,
      undefined,
      "import-table",
      "pack-import",
      "pack-import",
      "pack-import",
      undefined,
      "listening",
    ]);
    // after the table a row-shaped line is nothing
    expect(reader.read("   9.0 seconds: /elsewhere")).toBeUndefined();
  });

  test("newer ComfyUI's coloured level prefix is read through", () => {
    const reader = new ComfyLineReader();
    const info = (text: string) => `\u001b[32m[INFO]\u001b[0m ${text}`;
    expect(reader.read(info("Import times for custom nodes:"))?.kind).toBe("import-table");
    expect(reader.read(info("   0.4 seconds (IMPORT FAILED): /comfyui/custom_nodes/Broken"))).toMatchObject({
      kind: "pack-import",
      pack: { name: "Broken", failed: true },
    });
    expect(reader.read(info("To see the GUI go to: http://127.0.0.1:8188"))?.kind).toBe("listening");
  });

  test("model loads in the old positional and the newer labelled format", () => {
    expect(parseComfyLine("Requested to load SDXLClipModel", false)).toEqual({
      kind: "model-requested",
      model: "SDXLClipModel",
    });
    expect(parseComfyLine("loaded completely 9.5367431640625e+25 1560.802734375 True", false)).toEqual({
      kind: "model-loaded",
      mode: "completely",
      loaded_mb: 1561,
    });
    expect(
      parseComfyLine(
        "loaded partially; 5000.00 MB usable, 4871.23 MB loaded, 1200.00 MB offloaded, lowvram patches: 0",
        false,
      ),
    ).toEqual({ kind: "model-loaded", mode: "partially", loaded_mb: 4871 });
  });
});

describe("StartupTimeline", () => {
  test("a normal start: every phase once, in order, with the custom-node table and the first model load", () => {
    const timeline = new StartupTimeline(performance.now());
    timeline.spawned(4242);
    for (const line of BOOT) timeline.line(line);
    timeline.comfyReady();
    for (const phase of ["preloads_done", "prefetch_done", "warmup_done", "ready", "first_job_taken"] as const)
      timeline.mark(phase);
    timeline.line("Requested to load SD1ClipModel");
    timeline.line("loaded completely 9.5e+25 235.84 True");
    timeline.mark("first_job_done");
    const report = timeline.report();
    expect(Object.keys(report.phases).sort()).toEqual([...STARTUP_PHASES].sort());
    const times = STARTUP_PHASES.map((phase) => report.phases[phase]?.at_ms ?? -1);
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(report.phases.comfy_spawned?.pid).toBe(4242);
    expect(report.phases.custom_nodes).toMatchObject({ packs: 3, seconds: 1.5, failed: ["ComfyUI-Broken"] });
    expect(report.phases.first_model_load).toMatchObject({ model: "SD1ClipModel", loaded_mb: 236 });
    expect(report.custom_nodes.map((pack) => pack.name)).toEqual([
      "websocket_image_save.py",
      "ComfyUI-Broken",
      "ComfyUI-KJNodes",
    ]);
    expect(report.restarts).toEqual([]);
    const table = formatTimeline(report);
    expect(table).toContain("first_job_done");
    expect(table).toContain("ComfyUI-Broken: 0.3 s (IMPORT FAILED)");
  });

  test("no custom nodes: the phase is still there, with zero packs, once ComfyUI listens", () => {
    const timeline = new StartupTimeline();
    timeline.spawned(1);
    timeline.line("Starting server");
    timeline.line("To see the GUI go to: http://127.0.0.1:8188");
    expect(timeline.report().phases.custom_nodes).toMatchObject({ packs: 0, failed: [] });
  });

  test("a restart after a crash gets its own record; the first start's phases stay as they were", () => {
    const timeline = new StartupTimeline();
    timeline.spawned(1);
    for (const line of BOOT) timeline.line(line);
    timeline.comfyReady();
    const before = timeline.report().phases;
    timeline.spawned(2);
    timeline.line("Total VRAM 24564 MB");
    timeline.line("To see the GUI go to: http://127.0.0.1:8188");
    timeline.comfyReady();
    const report = timeline.report();
    expect(report.phases).toEqual(before);
    expect(report.restarts).toHaveLength(1);
    expect(Object.keys(report.restarts[0] ?? {}).sort()).toEqual([
      "comfy_ready",
      "comfy_spawned",
      "http_listening",
      "python_up",
    ]);
    expect(report.restarts[0]?.comfy_spawned?.pid).toBe(2);
  });

  test("phases are first-wins and listeners hear each once", () => {
    const timeline = new StartupTimeline();
    const heard: string[] = [];
    timeline.onPhase((phase) => heard.push(phase));
    expect(timeline.mark("ready")).toBe(true);
    expect(timeline.mark("ready")).toBe(false);
    expect(heard).toEqual(["ready"]);
  });
});
