import { defineCommand } from "citty";
import { DEFAULT_HOST, DEFAULT_PORT } from "../emulator/options.ts";
import { PROFILE_HELP } from "../emulator/profile.ts";
import { runEmulator } from "../emulator/server.ts";
import { waitForSignal } from "../lib/signals.ts";
import { commonArgs } from "./_args.ts";
import { createCommandContext } from "./_context.ts";
import { greedy } from "./_strict-args.ts";

// bare `--listen` means every interface, as ComfyUI's argparse const says
const LISTEN_ALL = "0.0.0.0";

export default defineCommand({
  meta: {
    name: "emulate",
    description: "Run the built-in ComfyUI emulator (placeholder outputs; same HTTP and websocket API)",
  },
  args: {
    ...commonArgs,
    port: { type: "string", description: `port to listen on (default ${DEFAULT_PORT})`, valueHint: "N" },
    base: {
      type: "string",
      description: "base directory with models/, input/, output/, temp/ (default .)",
      valueHint: "DIR",
    },
    // boolean for the parser so a bare `--listen` never swallows the next flag; the value is read from rawArgs
    listen: greedy({
      type: "boolean",
      description: `--listen [HOST]: address to listen on (default ${DEFAULT_HOST}; bare = all)`,
    }),
    "base-directory": { type: "string", description: "ComfyUI's name for --base", valueHint: "DIR" },
    "disable-auto-launch": {
      type: "boolean",
      description: "accepted for ComfyUI compatibility (never opens a browser)",
    },
    "extra-model-paths-config": greedy({
      type: "string",
      description: "extra_model_paths.yaml whose roots are listed too (repeatable)",
      valueHint: "FILE",
    }),
    "startup-delay-ms": { type: "string", description: "wait this long before listening", valueHint: "N" },
    "exit-after": {
      type: "string",
      description: "crash (traceback, exit 1) while executing the Nth prompt",
      valueHint: "N",
    },
    "hang-after": {
      type: "string",
      description: "stop answering HTTP and websockets while executing the Nth prompt",
      valueHint: "N",
    },
    "fail-node": {
      type: "string",
      description:
        "node type(s) that raise an exception (repeatable, comma-separated); TYPE=oom|no-gpu|corrupt|arch|module raises ComfyUI's real error",
      valueHint: "TYPE[=KIND]",
    },
    "drop-ws-ms": { type: "string", description: "drop every websocket this long into each prompt", valueHint: "N" },
    "node-ms": { type: "string", description: "time each executed node takes (default 20)", valueHint: "N" },
    "log-burst": { type: "string", description: "print N extra log lines at startup and per prompt", valueHint: "N" },
    previews: { type: "boolean", description: "send binary preview frames while samplers run" },
    "preview-method": {
      type: "string",
      description: "as ComfyUI's flag: anything but none turns previews on for every prompt",
      valueHint: "auto|latent2rgb|taesd|none",
    },
    "comfyui-version": {
      type: "string",
      description: `which ComfyUI to behave like: ${PROFILE_HELP}`,
      valueHint: "old|new|X.Y",
    },
    "failed-pack": greedy({
      type: "string",
      description: "a custom node pack that fails to import at start-up, logged as ComfyUI does (repeatable)",
      valueHint: "NAME[:MODULE]",
    }),
    "read-models": { type: "boolean", description: "loader nodes read the model file they name, as ComfyUI does" },
    "read-mbps": {
      type: "string",
      description: "with --read-models: read at most N MB/s (0 = disk speed)",
      valueHint: "N",
    },
  },
  async run({ args, rawArgs }) {
    // listen before starting so a signal during --startup-delay-ms still ends the process cleanly
    const signal = waitForSignal();
    // the emulator logs like ComfyUI rather than through our logger; settings are read for $VARS and to
    // reject a bad --config like every other command
    const { config } = createCommandContext({ args });
    const handle = await runEmulator(
      {
        baseDir: args.base ?? args["base-directory"] ?? ".",
        port: args.port ?? DEFAULT_PORT,
        host: _listenHost(rawArgs),
        extraModelPaths: _repeated(rawArgs, "--extra-model-paths-config"),
        failNodes: _repeated(rawArgs, "--fail-node")
          .flatMap((v) => v.split(","))
          .filter(Boolean),
        ...(args["startup-delay-ms"] ? { startupDelayMs: args["startup-delay-ms"] } : {}),
        ...(args["exit-after"] ? { exitAfter: args["exit-after"] } : {}),
        ...(args["hang-after"] ? { hangAfter: args["hang-after"] } : {}),
        ...(args["drop-ws-ms"] ? { dropWsMs: args["drop-ws-ms"] } : {}),
        ...(args["node-ms"] ? { nodeMs: args["node-ms"] } : {}),
        ...(args["log-burst"] ? { logBurst: args["log-burst"] } : {}),
        previews: Boolean(args.previews) || (args["preview-method"] !== undefined && args["preview-method"] !== "none"),
        ...(args["comfyui-version"] ? { comfyuiVersion: args["comfyui-version"] } : {}),
        failedPacks: _repeated(rawArgs, "--failed-pack"),
        readModels: Boolean(args["read-models"]),
        ...(args["read-mbps"] ? { readMbps: args["read-mbps"] } : {}),
      } as Parameters<typeof runEmulator>[0],
      { env: config.env },
    );
    await signal;
    await handle.stop();
  },
});

/** Every value of a flag that may repeat, in `--flag v` and `--flag=v` forms; argparse nargs='+' too. */
function _repeated(rawArgs: string[], flag: string): string[] {
  const values: string[] = [];
  for (let i = 0; i < rawArgs.length; i++) {
    const arg = rawArgs[i] ?? "";
    if (arg.startsWith(`${flag}=`)) values.push(arg.slice(flag.length + 1));
    if (arg !== flag) continue;
    while (i + 1 < rawArgs.length && !(rawArgs[i + 1] ?? "-").startsWith("-")) values.push(rawArgs[++i] ?? "");
  }
  return values;
}

function _listenHost(rawArgs: string[]): string {
  const index = rawArgs.findIndex((arg) => arg === "--listen" || arg.startsWith("--listen="));
  if (index < 0) return DEFAULT_HOST;
  const arg = rawArgs[index] ?? "";
  const value = arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : rawArgs[index + 1];
  // a comma list binds several addresses in ComfyUI; Bun.serve takes one, so the first wins
  if (!value || value.startsWith("-")) return LISTEN_ALL;
  return value.split(",")[0] || LISTEN_ALL;
}
