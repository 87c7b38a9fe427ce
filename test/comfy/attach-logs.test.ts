import { expect, test } from "bun:test";
import { join } from "node:path";
import { importFailuresOf } from "../../src/comfy/import-failures.ts";
import { attachComfy } from "../../src/comfy/supervisor.ts";
import { spawnEmulator } from "../helpers/emulator.ts";
import { cleanUpAfterEach, cleanup, freePort, memoryLogger } from "./_supervisor-helpers.ts";

cleanUpAfterEach();

// GET /internal/logs/raw of a real ComfyUI 0.28.2 up to its start-up's GUI line (custom_nodes: a Broken-Pack whose
// dependency is missing, websocket_image_save.py; nodes_glsl.py fails on that CPU machine, it is ComfyUI's own)
const REAL_RAW_LOGS = join(import.meta.dir, "../fixtures/comfy-0.28.2-internal-logs-raw.json");

async function attachAndRead(url: string) {
  const handle = attachComfy({ url, healthIntervalMs: 0, healthTimeoutMs: 0, log: memoryLogger() });
  cleanup.handles.push(handle);
  const lines: string[] = [];
  handle.onLine((line) => lines.push(line));
  // subscribed before start, as bring-up does
  const imports = importFailuresOf(handle);
  await handle.start();
  return { lines, failed: imports.failed() };
}

test("attached to a real 0.28.2 (its recorded /internal/logs/raw): the failed pack and the import table, uncoloured", async () => {
  const raw = await Bun.file(REAL_RAW_LOGS).json();
  const port = await freePort();
  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch: (req) => {
      const path = new URL(req.url).pathname;
      if (path === "/system_stats") return Response.json({ system: { comfyui_version: "0.28.2" }, devices: [] });
      return path === "/internal/logs/raw" ? Response.json(raw) : new Response(null, { status: 404 });
    },
  });
  cleanup.servers.push(server);
  const { lines, failed } = await attachAndRead(`http://127.0.0.1:${port}`);
  expect(failed).toEqual([
    {
      name: "Broken-Pack",
      path: "/work/comfy-real/ComfyUI/custom_nodes/Broken-Pack",
      reason: "ModuleNotFoundError: No module named 'definitely_missing_dep'",
    },
  ]);
  expect(lines).toContain("[INFO]    0.0 seconds: /work/comfy-real/ComfyUI/custom_nodes/websocket_image_save.py");
  expect(lines.some((line) => line.includes("\u001b"))).toBe(false);
});

test("attached to the emulator: it keeps its output like ComfyUI, so a pack that failed to import is known", async () => {
  const emulator = await spawnEmulator({ args: ["--failed-pack", "Broken-Pack:missing_dep:BrokenNode"] });
  try {
    const logs = (await (await fetch(`${emulator.url}/internal/logs/raw`)).json()) as { entries: { m: string }[] };
    expect(logs.entries.some((entry) => entry.m.includes("Import times for custom nodes:"))).toBe(true);
    const { failed } = await attachAndRead(emulator.url);
    expect(failed).toEqual([
      {
        name: "Broken-Pack",
        path: expect.stringMatching(/[/]custom_nodes[/]Broken-Pack$/),
        reason: "ModuleNotFoundError: No module named 'missing_dep'",
      },
    ]);
  } finally {
    await emulator.stop();
  }
});

test("a ComfyUI without the route (older releases, a proxy in front) attaches all the same, with nothing read", async () => {
  const port = await freePort();
  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch: (req) =>
      new URL(req.url).pathname === "/system_stats"
        ? Response.json({ devices: [] })
        : Response.json({ error: "nope" }, { status: 404 }),
  });
  cleanup.servers.push(server);
  const { lines, failed } = await attachAndRead(`http://127.0.0.1:${port}`);
  expect([lines, failed]).toEqual([[], []]);
});

test("the buffered output is asked for beside /system_stats, and again once ComfyUI answers if it was not up", async () => {
  const raw = await Bun.file(REAL_RAW_LOGS).json();
  const port = await freePort();
  const seen: string[] = [];
  // up 30 ms after the first request: the early requests are refused, as by a ComfyUI still loading its nodes
  let firstAt: number | undefined;
  const server = Bun.serve({
    port,
    hostname: "127.0.0.1",
    fetch: async (req) => {
      const path = new URL(req.url).pathname;
      firstAt ??= Date.now();
      const up = Date.now() - firstAt >= 30;
      seen.push(`${path}${up ? "" : " (starting)"}`);
      if (!up) return new Response(null, { status: 503 });
      if (path === "/system_stats") return Response.json({ devices: [] });
      return path === "/internal/logs/raw" ? Response.json(raw) : new Response(null, { status: 404 });
    },
  });
  cleanup.servers.push(server);
  const { failed } = await attachAndRead(`http://127.0.0.1:${port}`);
  expect(failed.map((pack) => pack.name)).toEqual(["Broken-Pack"]);
  expect(seen.filter((request) => request.startsWith("/internal/logs/raw"))).toEqual([
    "/internal/logs/raw (starting)",
    "/internal/logs/raw",
  ]);
});
