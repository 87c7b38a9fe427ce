import { EMULATOR_VERSION } from "./options.ts";
import { type ComfyProfile, reportedVersion } from "./profile.ts";

/** A Python stack frame: file, line, function, source text. */
export type PyFrame = [file: string, line: number, fn: string, code: string];

/** ComfyUI-style logging: plain message lines on stderr, tracebacks formatted the way Python prints them. */
export interface ComfyLog {
  info(line: string): void;
  error(lines: string[]): void;
}

const COMFY_ROOT = "/comfyui";
const BURST_TEXTS = [
  "Requested to load BaseModel",
  "loaded completely 9.5367431640625e+25 1639.406135559082 True",
  "model weight dtype torch.float16, manual cast: None",
  "model_type EPS",
  "Using pytorch attention in VAE",
  "CLIP/text encoder model load device: cpu, offload device: cpu, current: cpu, dtype: torch.float16",
];

/** A ComfyLog over a line sink. */
export function createComfyLog(write: (text: string) => void): ComfyLog {
  return {
    info: (line) => write(`${line}\n`),
    error: (lines) => write(`${lines.join("\n")}\n`),
  };
}

/** The warning printed first, so nobody mistakes the emulator's placeholder outputs for real ones. */
export function notComfyWarning(): string[] {
  return [
    "WARNING: this is the comfy-worker ComfyUI EMULATOR, NOT ComfyUI.",
    "WARNING: it loads no models and runs no inference; every output is a placeholder (gradient PNGs, tones).",
  ];
}

/** Startup lines in the order main.py prints them (before the server listens). */
export function startupLines(ramBytes: number, profile: ComfyProfile): string[] {
  return [
    "Checkpoint files will always be loaded safely.",
    `Total VRAM 0 MB, total RAM ${Math.round(ramBytes / 1024 / 1024)} MB`,
    `pytorch version: ${EMULATOR_VERSION}`,
    "Set vram state to: DISABLED",
    "Device: cpu (comfy-worker emulator)",
    `Python version: 3.12.0 (comfy-worker emulator)`,
    `ComfyUI version: ${reportedVersion(profile)}`,
    "[Prompt Server] web root: (none: comfy-worker emulator)",
  ];
}

/** `count` noisy lines like those a busy ComfyUI prints, numbered so a test can count them. */
export function burstLines(count: number, where: string): string[] {
  return Array.from({ length: count }, (_, i) => `[log-burst ${where} ${i + 1}/${count}] ${BURST_TEXTS[i % 6]}`);
}

/** Frames of execution.py down to a node's function, as `traceback.format_tb` lists them. */
export function nodeFrames(classType: string): PyFrame[] {
  return [
    [
      `${COMFY_ROOT}/execution.py`,
      496,
      "execute",
      "output_data, output_ui, has_subgraph, has_pending_tasks = await get_output_data(prompt_id, unique_id, obj, input_data_all, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)",
    ],
    [
      `${COMFY_ROOT}/execution.py`,
      315,
      "get_output_data",
      "return_values = await _async_map_node_over_list(prompt_id, unique_id, obj, input_data_all, obj.FUNCTION, allow_interrupt=True, execution_block_cb=execution_block_cb, pre_execute_cb=pre_execute_cb, hidden_inputs=hidden_inputs)",
    ],
    [`${COMFY_ROOT}/execution.py`, 289, "_async_map_node_over_list", "await process_inputs(input_dict, i)"],
    [`${COMFY_ROOT}/execution.py`, 277, "process_inputs", "result = f(**inputs)"],
    [`${COMFY_ROOT}/comfy_worker_emulator.py`, 42, classType, `raise RuntimeError(message)`],
  ];
}

/** Frames of the worker thread dying outside any node (used by `--exit-after`). */
export function crashFrames(): PyFrame[] {
  return [
    [`${COMFY_ROOT}/main.py`, 259, "prompt_worker", "e.execute(item[2], prompt_id, extra_data, item[4])"],
    [
      `${COMFY_ROOT}/execution.py`,
      650,
      "execute",
      "asyncio.run(self.execute_async(prompt, prompt_id, extra_data, execute_outputs))",
    ],
    [`${COMFY_ROOT}/comfy/model_management.py`, 1090, "soft_empty_cache", "torch.cuda.empty_cache()"],
  ];
}

/** One string per frame, exactly as Python's `traceback.format_tb` returns them. */
export function formatFrames(frames: PyFrame[]): string[] {
  return frames.map(([file, line, fn, code]) => `  File "${file}", line ${line}, in ${fn}\n    ${code}\n`);
}

/** The full text Python prints for an uncaught exception. */
export function formatTraceback(frames: PyFrame[], type: string, message: string): string[] {
  const body = formatFrames(frames).join("").trimEnd();
  return ["Traceback (most recent call last):", body, `${type}: ${message}`];
}

/** "Prompt executed in X.XX seconds", or HH:MM:SS past ten minutes, as main.py formats it. */
export function executedLine(seconds: number): string {
  if (seconds <= 600) return `Prompt executed in ${seconds.toFixed(2)} seconds`;
  const whole = Math.floor(seconds);
  const pad = (n: number) => String(n).padStart(2, "0");
  return `Prompt executed in ${pad(Math.floor(whole / 3600))}:${pad(Math.floor((whole % 3600) / 60))}:${pad(whole % 60)}`;
}
