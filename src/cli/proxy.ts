import { defineCommand } from "citty";
import { resolveComfyUrl, splitArgs } from "../comfy/command.ts";
import { type ComfyHandle, createSupervisor } from "../comfy/supervisor.ts";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";
import { waitForSignal } from "../lib/signals.ts";
import { secondsToTimerMs } from "../lib/time.ts";
import type { Logger } from "../log.ts";
import { describeTarget, TARGET_ROUTE } from "../proxy/routes.ts";
import { startProxy } from "../proxy/server.ts";
import { endpointClientFromConfig } from "../remote/index.ts";
import { commonArgs } from "./_args.ts";
import { createCommandContext } from "./_context.ts";

const DEFAULT_LISTEN = "127.0.0.1:8188";
const COMFY_PORT_DEFAULT = 8188;

export default defineCommand({
  meta: {
    name: "proxy",
    description:
      "Sit in front of a local ComfyUI: the UI works as usual, but Queue runs the prompt on a RunPod endpoint (progress, previews and outputs come back to the UI)",
  },
  args: {
    ...commonArgs,
    listen: {
      type: "string",
      description: `address the UI is served on (default ${DEFAULT_LISTEN})`,
      valueHint: "HOST:PORT",
    },
    "comfy-url": {
      type: "string",
      description: "the local ComfyUI, already running (env COMFY_URL)",
      valueHint: "URL",
    },
    "comfy-cmd": {
      type: "string",
      description: "start the local ComfyUI with this command instead (its --listen/--port say where it answers)",
      valueHint: "CMD",
    },
    endpoint: {
      type: "string",
      description: "RunPod endpoint id (with RUNPOD_API_KEY) or a …/v2/ID URL such as `serve --mode api`",
      valueHint: "ID|URL",
      required: true,
    },
    "local-queue": {
      type: "boolean",
      description: `start with Queue running locally (flip with POST ${TARGET_ROUTE})`,
    },
    out: {
      type: "string",
      description: "where outputs of remote prompts are saved",
      default: "./output",
      valueHint: "DIR",
    },
  },
  async run({ args }) {
    if (args["comfy-url"] && args["comfy-cmd"])
      throw new WorkerError("E_USAGE", "use --comfy-url or --comfy-cmd, not both");
    const listen = parseListen(args.listen ?? DEFAULT_LISTEN);
    const { config, log } = createCommandContext({ args, flags: { COMFY_URL: args["comfy-url"] } });
    const client = endpointClientFromConfig(config, args.endpoint);
    const comfy = args["comfy-cmd"] ? await _startComfy(config, log, args["comfy-cmd"], listen.port) : undefined;
    const comfyUrl = comfy?.url ?? config.COMFY_URL?.replace(/\/+$/, "");
    if (!comfyUrl) {
      throw new WorkerError(
        "E_USAGE",
        "proxy needs the local ComfyUI: --comfy-url http://127.0.0.1:8189 (or COMFY_URL), or --comfy-cmd to start one",
      );
    }
    const proxy = startProxy({
      host: listen.host,
      port: listen.port,
      comfyUrl,
      client,
      outDir: args.out,
      guard: { privateAllowed: config.PRIVATE_HOSTS_ALLOWED },
      target: args["local-queue"] ? "local" : "remote",
      log,
      redactor: config.redactor,
      previews: config.PREVIEWS === "on",
    });
    const where = describeTarget(proxy.target, client.target.id, comfyUrl);
    log.info(
      `comfy-worker proxy listening on ${proxy.url} (ComfyUI at ${comfyUrl}); Queue runs ${where}; switch with POST ${TARGET_ROUTE} {"target":"local"|"remote"}`,
    );
    const signal = await waitForSignal();
    log.info(`${signal}: stopping the proxy (a running remote job is cancelled)`);
    await proxy.stop();
    await comfy?.stop();
  },
});

/** `HOST:PORT`, `[V6]:PORT` or a bare `PORT`. */
export function parseListen(value: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+))?:?(\d+)?$/.exec(value.trim());
  const host = match?.[1] ?? match?.[2];
  const port = match?.[3] ?? (host && /^\d+$/.test(host) ? host : undefined);
  const hostname = host && !/^\d+$/.test(host) ? host : "127.0.0.1";
  const n = Number(port ?? 8188);
  // "HOST:" names no port: the default would hide a typo
  if (!match || value.trim().endsWith(":") || !Number.isInteger(n) || n < 0 || n > 65_535)
    throw new WorkerError("E_USAGE", `--listen ${value}: give HOST:PORT, for example 127.0.0.1:8188`);
  return { host: hostname, port: n };
}

// the command's own --listen/--port decide where it answers (ComfyUI's defaults otherwise)
async function _startComfy(config: Config, log: Logger, cmd: string, proxyPort: number): Promise<ComfyHandle> {
  const argv = splitArgs(cmd, "--comfy-cmd");
  if (argv.length === 0) throw new WorkerError("E_USAGE", "--comfy-cmd is empty; give the command that starts ComfyUI");
  const at = (flag: string) => {
    const i = argv.indexOf(flag);
    return i >= 0 && argv[i + 1] && !argv[i + 1]?.startsWith("--") ? argv[i + 1] : undefined;
  };
  const port = Number(at("--port") ?? COMFY_PORT_DEFAULT);
  if (port === proxyPort)
    throw new WorkerError("E_USAGE", `--comfy-cmd listens on port ${port}, the proxy's own; add --port 8189 to it`);
  const url = resolveComfyUrl({ COMFY_URL: undefined, COMFY_HOST: at("--listen") ?? "127.0.0.1", COMFY_PORT: port });
  const comfy = createSupervisor({
    argv,
    env: { PYTHONUNBUFFERED: "1" },
    url,
    logLines: config.COMFY_LOG_LINES,
    readyTimeoutMs: secondsToTimerMs(config.COMFY_READY_TIMEOUT_S),
    healthIntervalMs: secondsToTimerMs(config.COMFY_HEALTH_INTERVAL_S),
    healthTimeoutMs: secondsToTimerMs(config.COMFY_HEALTH_TIMEOUT_S),
    maxRestarts: config.COMFY_MAX_RESTARTS,
    log,
  });
  log.info(`starting ComfyUI: ${argv.join(" ")}`);
  await comfy.start();
  return comfy;
}
