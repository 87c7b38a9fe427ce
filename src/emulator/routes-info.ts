import { freemem, totalmem } from "node:os";
import { Hono } from "hono";
import { z } from "zod";
import { mimeFromName } from "../lib/mime.ts";
import type { EmulatorContext } from "./context.ts";
import { resolveView, saveUpload } from "./files.ts";
import { EMULATOR_VERSION } from "./options.ts";
import { reportedVersion } from "./profile.ts";
import { SERVER_FEATURES } from "./ws-hub.ts";

const UploadForm = z.object({
  image: z.instanceof(File),
  overwrite: z.string().optional(),
  subfolder: z.string().optional(),
  type: z.string().optional(),
});
// aiohttp's FileResponse never serves these as themselves
const UNSAFE_TYPES = new Set(["text/html", "application/xhtml+xml", "text/javascript", "text/css"]);

/** Read-only and file routes: /, /system_stats, /object_info, /models, /embeddings, /features, /view, /upload/image. */
export function infoRoutes(ctx: EmulatorContext): Hono {
  const app = new Hono();
  app.get("/", (c) => c.html(_indexPage(ctx)));
  app.get("/system_stats", (c) => c.json(_systemStats(ctx)));
  app.get("/object_info", async (c) => c.json(await ctx.catalog.objectInfo()));
  app.get("/object_info/:node_class", async (c) => {
    return c.json(await ctx.catalog.nodesInfo([c.req.param("node_class")]));
  });
  app.get("/models", (c) => c.json(ctx.catalog.folderKeys()));
  app.get("/models/:folder", async (c) => {
    const list = await ctx.catalog.list(c.req.param("folder"));
    return list ? c.json(list) : c.body(null, 404);
  });
  app.get("/embeddings", async (c) => c.json(await ctx.catalog.embeddings()));
  app.get("/experiment/models", (c) => c.json(ctx.catalog.folderPaths()));
  app.get("/features", (c) => c.json(SERVER_FEATURES));
  app.get("/extensions", (c) => c.json([]));
  app.get("/view", async (c) => {
    const found = await resolveView(new URL(c.req.url).searchParams, ctx.dirs);
    if (found.status !== 200) return c.body(null, found.status);
    const type = mimeFromName(found.filename);
    return new Response(Bun.file(found.path), {
      headers: {
        "Content-Disposition": `filename="${found.filename}"`,
        "Content-Type": UNSAFE_TYPES.has(type) ? "application/octet-stream" : type,
      },
    });
  });
  app.post("/upload/image", async (c) => {
    const form = UploadForm.safeParse(await c.req.parseBody().catch(() => ({})));
    if (!form.success) return c.body(null, 400);
    const result = await saveUpload({ ...form.data, file: form.data.image }, ctx.dirs);
    return result.status === 200 ? c.json(result.body) : c.body(null, 400);
  });
  return app;
}

function _systemStats(ctx: EmulatorContext) {
  const [total, free] = [totalmem(), freemem()];
  const { host, port } = ctx.settings;
  return {
    system: {
      os: process.platform,
      ram_total: total,
      ram_free: free,
      comfyui_version: reportedVersion(ctx.settings.comfyuiVersion),
      required_frontend_version: EMULATOR_VERSION,
      installed_templates_version: EMULATOR_VERSION,
      required_templates_version: EMULATOR_VERSION,
      python_version: "3.12.0 (comfy-worker emulator)",
      pytorch_version: EMULATOR_VERSION,
      embedded_python: false,
      argv: ["main.py", "--listen", host, "--port", String(port), "--base-directory", ctx.dirs.base],
    },
    devices: [_device(ctx, total, free)],
  };
}

// with CUDA_VISIBLE_DEVICES set (a multi-GPU worker's instance) the emulator pretends to be that GPU,
// named the way ComfyUI names a CUDA device
function _device(ctx: EmulatorContext, total: number, free: number) {
  const gpu = ctx.io.env?.CUDA_VISIBLE_DEVICES?.split(",")[0]?.trim();
  const memory = { vram_total: total, vram_free: free, torch_vram_total: total, torch_vram_free: free };
  if (gpu)
    return { name: `cuda:0 Emulated GPU ${gpu} (comfy-worker emulator) : native`, type: "cuda", index: 0, ...memory };
  return { name: "cpu (comfy-worker emulator)", type: "cpu", index: null, ...memory };
}

function _indexPage(ctx: EmulatorContext): string {
  return `<!doctype html><html><head><title>ComfyUI emulator</title></head><body>
<h1>comfy-worker ComfyUI emulator ${EMULATOR_VERSION}</h1>
<p>This is <strong>not ComfyUI</strong>: it speaks ComfyUI's HTTP and websocket API and writes placeholder outputs.
There is no graph editor. Base directory: <code>${Bun.escapeHTML(ctx.dirs.base)}</code>.</p></body></html>`;
}
