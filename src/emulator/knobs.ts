import { crashFrames, formatTraceback } from "./comfy-log.ts";
import type { EmulatorContext } from "./context.ts";
import type { QueueItem } from "./queue.ts";

/** The fault knobs acting on one prompt run. */
export interface PromptKnobs {
  /** Runs before the first node; fires the exit/hang knob when no node will execute. */
  atStart(): Promise<void>;
  /** Called halfway through each executing node; fires the exit/hang knob on the chosen one. */
  midpoint(nodeId: string): Promise<void>;
  clear(): void;
}

const CRASH_MESSAGE = "CUDA error: an illegal memory access was encountered";
const CRASH_HINTS = [
  "CUDA kernel errors might be asynchronously reported at some other API call, so the stacktrace below might be incorrect.",
  "For debugging consider passing CUDA_LAUNCH_BLOCKING=1",
  "Compile with `TORCH_USE_CUDA_DSA` to enable device-side assertions.",
];

/** Arms the knobs for a prompt: exit/hang fire mid-way through its middle executing node, drop-ws on a timer. */
export function startKnobs(ctx: EmulatorContext, item: QueueItem, toRun: string[]): PromptKnobs {
  const { exitAfter, hangAfter, dropWsMs } = ctx.settings;
  const fault =
    exitAfter > 0 && item.ordinal === exitAfter
      ? "exit"
      : hangAfter > 0 && item.ordinal === hangAfter
        ? "hang"
        : undefined;
  const target = toRun[Math.floor(toRun.length / 2)];
  const timer =
    dropWsMs > 0
      ? setTimeout(() => {
          ctx.log.info(`[comfy-worker emulator] --drop-ws-ms ${dropWsMs}: dropping every websocket`);
          ctx.hub.dropAll();
        }, dropWsMs)
      : undefined;
  const fire = () => (fault === "exit" ? _crash(ctx, item) : _hang(ctx, item));
  return {
    atStart: async () => {
      if (fault && target === undefined) await fire();
    },
    midpoint: async (nodeId) => {
      if (fault && nodeId === target) await fire();
    },
    clear: () => clearTimeout(timer),
  };
}

async function _crash(ctx: EmulatorContext, item: QueueItem): Promise<never> {
  ctx.log.info(
    `[comfy-worker emulator] --exit-after ${ctx.settings.exitAfter}: crashing while executing prompt ${item.promptId}`,
  );
  ctx.log.error([...formatTraceback(crashFrames(), "RuntimeError", CRASH_MESSAGE), ...CRASH_HINTS]);
  ctx.io.exit(1);
  return _forever();
}

async function _hang(ctx: EmulatorContext, item: QueueItem): Promise<never> {
  ctx.log.info(
    `[comfy-worker emulator] --hang-after ${ctx.settings.hangAfter}: hanging while executing prompt ${item.promptId}`,
  );
  ctx.state.hung = true;
  ctx.hub.mute();
  return _forever();
}

function _forever(): Promise<never> {
  return new Promise<never>(() => {});
}
