import type { Logger } from "../log.ts";
import { ExecutionErrorData, type HistoryEntry, type KnownWsMessage, type NodeError } from "./schemas.ts";

/** What a caller sees of a prompt while it runs (forwarded as job progress). */
export type PromptEvent =
  | { type: "progress"; node: string; value: number; max: number; percent: number }
  | { type: "executing"; node: string }
  | { type: "cached"; nodes: string[] }
  | { type: "executed"; node: string; output: unknown }
  | { type: "queued"; promptId: string; nodeErrors: Record<string, NodeError> };

/** A finished prompt: its history entry and how it ended. */
export interface PromptResult {
  promptId: string;
  status: "success" | "error" | "interrupted";
  entry: HistoryEntry;
  error?: ExecutionErrorData;
  nodeErrors: Record<string, NodeError>;
  queuedAt: number;
  startedAt?: number;
  finishedAt: number;
}

/** `finishing` = a completion event arrived; the history entry is what we wait for next. */
export type PromptPhase = "submitting" | "queued" | "running" | "finishing";

/** What the websocket has told us about one prompt. */
export interface PromptState {
  promptId: string;
  phase: PromptPhase;
  outputs: Record<string, Record<string, unknown>>;
  outcome?: PromptResult["status"];
  error?: ExecutionErrorData;
  nodeErrors: Record<string, NodeError>;
  queuedAt: number;
  startedAt?: number;
  finishedAt?: number;
}

/** Applies one event to `state`, emitting caller events; returns true when it signals completion. */
export function applyEvent(state: PromptState, message: KnownWsMessage, emit: (event: PromptEvent) => void): boolean {
  const promptId = "prompt_id" in message.data ? message.data.prompt_id : undefined;
  // our socket only gets our prompt's events, plus broadcasts that carry another prompt's id
  if (promptId !== undefined && promptId !== state.promptId) return false;
  switch (message.type) {
    case "execution_start":
      _started(state);
      return false;
    case "execution_cached":
      emit({ type: "cached", nodes: message.data.nodes });
      return false;
    case "executing":
      if (message.data.node === null) return _finished(state);
      _started(state);
      emit({ type: "executing", node: message.data.node });
      return false;
    case "progress":
      emit(_progress(message.data.node ?? "", message.data.value, message.data.max));
      return false;
    case "executed":
      return _executed(state, message.data.node, message.data.output, emit);
    case "execution_success":
      return _finished(state, "success");
    case "execution_error":
      state.error = message.data;
      return _finished(state, "error");
    case "execution_interrupted":
      return _finished(state, "interrupted");
    default:
      return false;
  }
}

/** Builds the result from the history entry, which wins over what the socket said. */
export function toResult(state: PromptState, entry: HistoryEntry): PromptResult {
  const status = statusOf(entry, state.outcome);
  const error = status === "error" ? (state.error ?? _errorFromEntry(entry)) : undefined;
  // when the socket was down we saw no events; history's own timestamps (epoch ms) fill in
  const startedAt = state.startedAt ?? _messageTime(entry, ["execution_start"]);
  return {
    promptId: state.promptId,
    status,
    entry,
    ...(error ? { error } : {}),
    nodeErrors: state.nodeErrors,
    queuedAt: state.queuedAt,
    ...(startedAt !== undefined ? { startedAt } : {}),
    finishedAt: state.finishedAt ?? _messageTime(entry, FINAL_MESSAGES) ?? Date.now(),
  };
}

/** How a history entry ended; interrupted runs are stored as `status_str: "error"` plus an interrupt message. */
export function statusOf(entry: HistoryEntry, fallback: PromptResult["status"] = "success"): PromptResult["status"] {
  if (!entry.status) return fallback;
  if (entry.status.messages.some(([name]) => name === "execution_interrupted")) return "interrupted";
  return entry.status.status_str === "success" ? "success" : "error";
}

/** The entry to use when ComfyUI finished but wrote no history: what the `executed` events carried. */
export function entryFromEvents(state: PromptState): HistoryEntry {
  const outcome = state.outcome ?? "success";
  const messages: [string, Record<string, unknown>][] =
    outcome === "interrupted" ? [["execution_interrupted", { prompt_id: state.promptId }]] : [];
  if (state.error) messages.push(["execution_error", state.error]);
  const status_str = outcome === "success" ? "success" : "error";
  return { outputs: state.outputs, status: { status_str, completed: outcome === "success", messages } };
}

function _started(state: PromptState): void {
  if (state.phase === "finishing") return;
  state.phase = "running";
  state.startedAt ??= Date.now();
}

function _finished(state: PromptState, outcome?: PromptResult["status"]): true {
  // the first definite outcome wins; the trailing `executing: null` carries none
  if (outcome) state.outcome ??= outcome;
  state.phase = "finishing";
  state.finishedAt ??= Date.now();
  return true;
}

function _executed(state: PromptState, node: string, output: unknown, emit: (e: PromptEvent) => void): false {
  if (output !== null && typeof output === "object") state.outputs[node] = output as Record<string, unknown>;
  emit({ type: "executed", node, output });
  return false;
}

function _progress(node: string, value: number, max: number): PromptEvent {
  return { type: "progress", node, value, max, percent: max > 0 ? Math.round((value / max) * 100) : 0 };
}

const FINAL_MESSAGES = ["execution_success", "execution_error", "execution_interrupted"];

function _messageTime(entry: HistoryEntry, names: string[]): number | undefined {
  const found = entry.status?.messages.find(([name]) => names.includes(name));
  const timestamp = found?.[1].timestamp;
  return typeof timestamp === "number" ? timestamp : undefined;
}

function _errorFromEntry(entry: HistoryEntry): ExecutionErrorData | undefined {
  const found = entry.status?.messages.find(([name]) => name === "execution_error");
  const parsed = found ? ExecutionErrorData.safeParse(found[1]) : undefined;
  return parsed?.success ? parsed.data : undefined;
}

/** Hands `event` to the caller's handler; a handler that throws (a broken progress reporter) never fails the prompt. */
export function emitSafely(
  onEvent: ((event: PromptEvent) => void) | undefined,
  log: Logger | undefined,
  event: PromptEvent,
) {
  try {
    onEvent?.(event);
  } catch (error) {
    log?.warn("prompt event handler threw", { event: event.type, error: String(error) });
  }
}
