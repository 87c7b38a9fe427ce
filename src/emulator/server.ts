import { mkdir, rm } from "node:fs/promises";
import { totalmem } from "node:os";
import { join, resolve } from "node:path";
import { Hono } from "hono";
import { type ListenSettings, listenOrExplain } from "../lib/listen-error.ts";
import { originRefused } from "../lib/origin-guard.ts";
import { type Catalog, createCatalog } from "./catalog.ts";
import { burstLines, type ComfyLog, createComfyLog, notComfyWarning, startupLines } from "./comfy-log.ts";
import type { EmulatorContext, EmulatorDirs, EmulatorState } from "./context.ts";
import { startExecutor } from "./executor.ts";
import { logFailedPacks } from "./import-log.ts";
import { createOutputBuffer, internalRoutes, logSubscriptions, type OutputBuffer } from "./internal-logs.ts";
import { type EmulatorIO, type EmulatorOptions, type EmulatorSettings, resolveEmulatorOptions } from "./options.ts";
import { createHistory, createPromptQueue } from "./queue.ts";
import { infoRoutes } from "./routes-info.ts";
import { jobRoutes } from "./routes-jobs.ts";
import { promptRoutes } from "./routes-prompt.ts";
import { createWsHub, type SocketData } from "./ws-hub.ts";

/** A running emulator. */
export interface EmulatorHandle {
  url: string;
  port: number;
  /** Closes sockets and the listener and ends the worker loop; resolves when done. */
  stop(): Promise<void>;
}

const STOP_WAIT_MS = 1000;
const WS_PATHS = new Set(["/ws", "/api/ws"]);

/**
 * Starts the ComfyUI emulator: prints ComfyUI-like startup lines (after a warning that it is not ComfyUI),
 * creates `<base>/{models,input,output,temp}`, listens, and runs queued prompts until `stop()`.
 */
export async function runEmulator(options: EmulatorOptions, io: Partial<EmulatorIO> = {}): Promise<EmulatorHandle> {
  const settings = resolveEmulatorOptions(options);
  const fullIo: EmulatorIO = {
    write: io.write ?? ((text) => void process.stderr.write(text)),
    // exit only once stderr has flushed, or the traceback could be cut off
    exit: io.exit ?? ((code) => void process.stderr.write("", () => process.exit(code))),
    ...(io.env ? { env: io.env } : {}),
  };
  // kept as ComfyUI keeps its output, for GET /internal/logs (an attached worker reads its start-up lines there)
  const output = createOutputBuffer();
  const log = createComfyLog((text) => {
    output.push(text);
    fullIo.write(text);
  });
  for (const line of [...notComfyWarning(), ...startupLines(totalmem(), settings.comfyuiVersion)]) log.info(line);
  const dirs = await _makeDirs(settings.baseDir);
  logFailedPacks(log, join(dirs.base, "custom_nodes"), settings.failedPacks);
  const catalog = await createCatalog(dirs.base, dirs, settings.extraModelPaths, log.info, io.env ?? {});
  for (const line of burstLines(settings.logBurst, "startup")) log.info(line);
  if (settings.startupDelayMs > 0) await Bun.sleep(settings.startupDelayMs);
  const ctx = _createContext(settings, fullIo, log, dirs, catalog);
  const server = _listen(ctx, _app(ctx, output));
  settings.port = server.port ?? settings.port;
  const executor = startExecutor(ctx);
  const url = `http://${_urlHost(settings.host)}:${settings.port}`;
  log.info("Starting server\n");
  log.info(`To see the GUI go to: ${url}`);
  return {
    url,
    port: settings.port,
    async stop() {
      executor.stop();
      ctx.hub.closeAll();
      await server.stop(true);
      // a hung worker (the hang knob) never finishes its prompt, so there is nothing to wait for
      if (!ctx.state.hung) await Promise.race([executor.done, Bun.sleep(STOP_WAIT_MS)]);
    },
  };
}

function _createContext(
  settings: EmulatorSettings,
  io: EmulatorIO,
  log: ComfyLog,
  dirs: EmulatorDirs,
  catalog: Catalog,
): EmulatorContext {
  const state: EmulatorState = {
    received: 0,
    number: 0,
    hung: false,
    interrupted: false,
    clientId: null,
    lastNode: null,
    cache: new Map(),
  };
  const ctx: EmulatorContext = {
    settings,
    io,
    log,
    dirs,
    catalog,
    state,
    history: createHistory(),
    // PromptServer.queue_updated: every queue change broadcasts the new status
    queue: createPromptQueue(() =>
      ctx.hub.send("status", { status: { exec_info: { queue_remaining: ctx.queue.remaining() } } }),
    ),
    // a client reconnecting while its prompt runs is told which node is executing
    hub: createWsHub((sid) => ({
      queueRemaining: ctx.queue.remaining(),
      ...(state.clientId === sid && state.lastNode ? { executingNode: state.lastNode } : {}),
    })),
  };
  return ctx;
}

function _app(ctx: EmulatorContext, output: OutputBuffer): Hono {
  const routes = new Hono().route("/", infoRoutes(ctx)).route("/", promptRoutes(ctx));
  // every route also answers under /api, as PromptServer.add_routes registers it twice; the jobs routes are
  // registered with their /api prefix upstream, so they exist there only
  const api = ctx.settings.comfyuiVersion.jobCancel ? new Hono().route("/", jobRoutes(ctx)).route("/", routes) : routes;
  // server.py mounts the internal routes at /internal only
  const subscribed = logSubscriptions(output, ctx.hub);
  return new Hono().route("/internal", internalRoutes(output, subscribed)).route("/api", api).route("/", routes);
}

// a taken port or an address this machine lacks is an exit-2 line naming the flag, as ComfyUI's own refusal would
const LISTEN_SETTINGS: ListenSettings = {
  name: "--port",
  portFix: "give --port a free port",
  hostFix: "give --listen an address of this machine and --port a free port",
};

function _listen(ctx: EmulatorContext, app: Hono) {
  const { host, port } = ctx.settings;
  return listenOrExplain(host, port, LISTEN_SETTINGS, () => _serve(ctx, app));
}

function _serve(ctx: EmulatorContext, app: Hono) {
  return Bun.serve<SocketData>({
    hostname: ctx.settings.host,
    port: ctx.settings.port,
    idleTimeout: 0,
    async fetch(req, server) {
      // the hang knob: accept the request, never answer it
      if (ctx.state.hung) return new Promise<Response>(() => {});
      // ComfyUI's origin-only middleware runs before every route, the websocket included
      if (await originRefused(req.headers)) {
        ctx.log.info(`WARNING: request with non matching host and origin, returning 403`);
        return new Response(null, { status: 403 });
      }
      if (req.method === "OPTIONS") return new Response(null, { status: 200 });
      const url = new URL(req.url);
      if (!WS_PATHS.has(url.pathname)) return app.fetch(req);
      const sid = url.searchParams.get("clientId") || crypto.randomUUID().replaceAll("-", "");
      if (server.upgrade(req, { data: { sid, first: true, flags: {} } })) return undefined;
      return new Response("Expected websocket upgrade", { status: 400 });
    },
    websocket: {
      open: (ws) => ctx.hub.open(ws),
      message: (ws, message) => {
        if (!ctx.state.hung && typeof message === "string") ctx.hub.message(ws, message);
      },
      close: (ws) => ctx.hub.close(ws),
    },
  });
}

async function _makeDirs(baseDir: string): Promise<EmulatorDirs> {
  const base = resolve(baseDir);
  const dirs = {
    base,
    models: join(base, "models"),
    input: join(base, "input"),
    output: join(base, "output"),
    temp: join(base, "temp"),
  };
  // main.py's cleanup_temp(): the temp dir starts empty
  await rm(dirs.temp, { recursive: true, force: true });
  await Promise.all(Object.values(dirs).map((dir) => mkdir(dir, { recursive: true })));
  return dirs;
}

function _urlHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}
