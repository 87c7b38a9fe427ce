import type { ObjectInfo } from "../comfy/object-info.ts";
import { type ListenSettings, listenOrExplain } from "../lib/listen-error.ts";
import { originRefused } from "../lib/origin-guard.ts";
import { Redactor } from "../lib/redact.ts";
import type { UrlGuard } from "../lib/url-guard.ts";
import type { Logger } from "../log.ts";
import type { EndpointClient, FollowOptions } from "../remote/index.ts";
import { BrowserHub, type BrowserSocketData } from "./hub.ts";
import { KnownMissing } from "./known-missing.ts";
import { QueueNumbers } from "./numbers.ts";
import { SERVER_ERROR } from "./post-prompt.ts";
import { RemoteQueue } from "./queue.ts";
import { handleRequest, type ProxyContext, type QueueTarget } from "./routes.ts";
import { announceFinished, runRemotePrompt } from "./run-remote.ts";
import { createUpstream } from "./upstream.ts";
import { bridgeHandlers, upgradeBrowser, WS_PATHS } from "./ws-bridge.ts";

// a taken port or an address this machine lacks is an exit-2 line naming --listen, never a stack trace
const LISTEN_SETTINGS: ListenSettings = {
  name: "--listen",
  portFix: "give --listen a free port, e.g. --listen 127.0.0.1:8190",
  hostFix: "give --listen an address of this machine and a free port, e.g. --listen 127.0.0.1:8188",
};

export interface ProxyOptions {
  host: string;
  port: number;
  /** The local ComfyUI (attached or started by `proxy --comfy-cmd`). */
  comfyUrl: string;
  client: EndpointClient;
  /** Where remote outputs are saved. */
  outDir: string;
  /** Rules for bucket URLs in remote results (PRIVATE_HOSTS_ALLOWED). */
  guard: UrlGuard;
  /** Where Queue runs at start (`--local-queue` → local). */
  target: QueueTarget;
  log: Logger;
  /** Secrets the proxy knows (config's): a remote error that quotes one shows `***` in the UI. */
  redactor?: Redactor;
  /** PREVIEWS=on: every remote job asks for live previews. */
  previews?: boolean;
  follow?: Omit<FollowOptions, "signal">;
  cancelWaitMs?: number;
}

export interface ProxyHandle {
  url: string;
  port: number;
  readonly target: QueueTarget;
  /** Stops listening, cancels the running remote job and drops queued ones. */
  stop(): Promise<void>;
}

const OBJECT_INFO_TTL_MS = 10_000;

/** Starts the proxy: ComfyUI's UI and API pass through; Queue runs on the endpoint unless switched to local. */
export function startProxy(options: ProxyOptions): ProxyHandle {
  const hub = new BrowserHub();
  const upstream = createUpstream(options.comfyUrl);
  let localRemaining = 0;
  const ctx: ProxyContext = {
    upstream,
    hub,
    known: new KnownMissing(),
    queue: new RemoteQueue(() => {
      hub.send("status", { status: { exec_info: { queue_remaining: localRemaining + ctx.queue.remaining() } } }, null);
    }),
    numbers: new QueueNumbers(upstream.url),
    state: { target: options.target, executing: undefined },
    outDir: options.outDir,
    client: options.client,
    log: options.log,
    objectInfo: _cached(() => upstream.objectInfo() as Promise<ObjectInfo>),
    previews: options.previews ?? false,
  };
  const server = listenOrExplain(options.host, options.port, LISTEN_SETTINGS, () =>
    Bun.serve<BrowserSocketData>({
      hostname: options.host,
      port: options.port,
      idleTimeout: 0,
      // what aiohttp answers for an exception in a handler, as ComfyUI's own routes do; never Bun's error page,
      // which shows our source
      error(error) {
        options.log.error(`proxy: ${error.message}`);
        return new Response(SERVER_ERROR, { status: 500 });
      },
      async fetch(req, srv) {
        // ComfyUI's origin-only rule, here too: the routes the proxy answers itself never reach ComfyUI's check
        if (await originRefused(req.headers)) return new Response(null, { status: 403 });
        if (WS_PATHS.has(new URL(req.url).pathname) && req.headers.get("upgrade")?.toLowerCase() === "websocket") {
          return upgradeBrowser(req, srv) ? undefined : new Response("Expected websocket upgrade", { status: 400 });
        }
        return handleRequest(req, ctx);
      },
      websocket: bridgeHandlers({
        hub,
        upstreamWs: options.comfyUrl.replace(/^http/, "ws").replace(/\/+$/, ""),
        remoteRemaining: () => ctx.queue.remaining(),
        onLocalRemaining: (n) => {
          localRemaining = n;
        },
        executingFor: (sid) => (ctx.state.executing?.clientId === sid ? ctx.state.executing.node() : undefined),
      }),
    }),
  );
  const worker = _work(ctx, options);
  const port = server.port ?? options.port;
  const host = options.host.includes(":") ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}`,
    port,
    get target() {
      return ctx.state.target;
    },
    async stop() {
      for (const item of ctx.queue.pending()) ctx.queue.delete(item.promptId);
      ctx.queue.running()?.cancel.abort();
      ctx.queue.close();
      // time for the endpoint client's cancel retries (about 7 s) to reach the endpoint
      await Promise.race([worker, Bun.sleep(options.cancelWaitMs ?? 10_000)]);
      hub.closeAll();
      await server.stop(true);
    },
  };
}

// ComfyUI's prompt_worker, for the endpoint: one prompt at a time, history written before `executing: null`
async function _work(ctx: ProxyContext, options: ProxyOptions): Promise<void> {
  for (;;) {
    const item = await ctx.queue.take();
    if (!item) return;
    const finished = await runRemotePrompt(item, {
      client: ctx.client,
      hub: ctx.hub,
      save: { outDir: options.outDir, guard: options.guard },
      log: ctx.log,
      objectInfo: () => ctx.objectInfo().catch(() => undefined),
      onNodeErrors: (prompt, errors) => ctx.known.remember(prompt, errors),
      onEvents: (events) => {
        ctx.state.executing = { clientId: item.clientId, node: () => events.lastNode ?? undefined };
      },
      ...(options.follow ? { follow: options.follow } : {}),
      ...(options.cancelWaitMs !== undefined ? { cancelWaitMs: options.cancelWaitMs } : {}),
      redactor: options.redactor ?? new Redactor(),
    });
    ctx.state.executing = undefined;
    ctx.queue.done(finished);
    announceFinished(item, ctx.hub);
    const what = finished.outcome === "success" ? "done" : finished.outcome;
    ctx.log.info(`prompt ${item.promptId} (remote job ${item.jobId ?? "not submitted"}): ${what}`);
  }
}

// /object_info walks every model folder on a real ComfyUI: asked once per burst of prompts, not per prompt
function _cached(load: () => Promise<ObjectInfo>): () => Promise<ObjectInfo> {
  let value: { at: number; info: Promise<ObjectInfo> } | undefined;
  return () => {
    if (!value || Date.now() - value.at > OBJECT_INFO_TTL_MS) {
      const info = load();
      value = { at: Date.now(), info };
      info.catch(() => {
        value = undefined;
      });
    }
    return value.info;
  };
}
