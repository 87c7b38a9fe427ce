import type { Catalog } from "./catalog.ts";
import type { ComfyLog } from "./comfy-log.ts";
import type { EmulatorIO, EmulatorSettings } from "./options.ts";
import type { TypeDirs, UiOutput } from "./outputs.ts";
import type { History, PromptQueue } from "./queue.ts";
import type { Value } from "./values.ts";
import type { WsHub } from "./ws-hub.ts";

/** `<base>` and the directories under it that ComfyUI creates. */
export interface EmulatorDirs extends TypeDirs {
  base: string;
  models: string;
}

/** A cached node result: ComfyUI's output cache plus its UI cache. */
export interface CacheEntry {
  values: Value[];
  ui?: UiOutput;
}

/** Mutable server-wide state, the emulator's counterpart of PromptServer's attributes. */
export interface EmulatorState {
  /** Prompts accepted so far (the exit/hang knobs count them). */
  received: number;
  /** PromptServer.number: the next queue number. */
  number: number;
  hung: boolean;
  interrupted: boolean;
  /** client_id of the running prompt (PromptServer.client_id). */
  clientId: string | null;
  lastNode: string | null;
  /** Node signature → cached result. */
  cache: Map<string, CacheEntry>;
}

/** Everything the routes and the executor share. */
export interface EmulatorContext {
  settings: EmulatorSettings;
  io: EmulatorIO;
  log: ComfyLog;
  dirs: EmulatorDirs;
  hub: WsHub;
  queue: PromptQueue;
  history: History;
  catalog: Catalog;
  state: EmulatorState;
}
