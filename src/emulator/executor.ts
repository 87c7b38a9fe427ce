import type { ObjectInfo } from "../comfy/object-info.ts";
import { apiNodeTypes } from "../workflow/api.ts";
import { executedLine, formatFrames } from "./comfy-log.ts";
import type { EmulatorContext } from "./context.ts";
import { annotatedPath } from "./files.ts";
import { executionOrder, nodeSignatures } from "./graph.ts";
import { startKnobs } from "./knobs.ts";
import { Interrupted, NodeFailure, type NodeRun, resolveInputs, runNode } from "./node-runner.ts";
import type { UiOutput } from "./outputs.ts";
import { type HistoryEntry, type QueueItem, queueTuple } from "./queue.ts";
import { formatInput, type Value } from "./values.ts";

type Messages = HistoryEntry["status"]["messages"];
type Outcome = "success" | "error" | "interrupted";

interface PromptRun extends NodeRun {
  item: QueueItem;
  messages: Messages;
  executed: string[];
  ui: Map<string, UiOutput>;
  nodes: Record<string, Record<string, unknown>>;
}

/** The worker thread: takes queued prompts one at a time and executes them. */
export interface Executor {
  /** Resolves when the loop ends (after `stop`). */
  done: Promise<void>;
  stop(): void;
}

/** Starts the worker loop (ComfyUI's `prompt_worker`). */
export function startExecutor(ctx: EmulatorContext): Executor {
  let stopped = false;
  const done = (async () => {
    for (;;) {
      const item = await ctx.queue.take();
      if (!item || stopped) return;
      await executePrompt(ctx, item);
    }
  })();
  return {
    done,
    stop() {
      stopped = true;
      ctx.state.interrupted = true;
      ctx.queue.close();
    },
  };
}

/** Executes one prompt and records it: events, outputs, history, then `executing` with `node: null`. */
export async function executePrompt(ctx: EmulatorContext, item: QueueItem): Promise<void> {
  const started = performance.now();
  const run = _newRun(ctx, item);
  ctx.state.clientId = run.clientId;
  ctx.state.interrupted = false;
  _message(ctx, run, "execution_start", { prompt_id: item.promptId }, false);
  const info = await ctx.catalog.nodesInfo(apiNodeTypes(item.prompt));
  const order = executionOrder(item.prompt, item.outputs);
  const signatures = nodeSignatures(item.prompt, (id) => _salt(ctx, item, id));
  const cached = Object.keys(item.prompt).filter((id) => ctx.state.cache.has(signatures.get(id) ?? ""));
  _message(ctx, run, "execution_cached", { nodes: cached, prompt_id: item.promptId }, false);
  const knobs = startKnobs(
    ctx,
    item,
    order.filter((id) => !cached.includes(id)),
  );
  run.midpoint = knobs.midpoint;
  await knobs.atStart();
  let outcome: Outcome = "success";
  for (const id of order) {
    outcome = await _step(ctx, run, info, id, signatures.get(id) ?? "");
    if (outcome !== "success") break;
  }
  knobs.clear();
  _pruneCache(ctx, signatures);
  if (outcome === "success") _message(ctx, run, "execution_success", { prompt_id: item.promptId }, false);
  _finish(ctx, run, order, outcome);
  ctx.log.info(executedLine((performance.now() - started) / 1000));
}

async function _step(ctx: EmulatorContext, run: PromptRun, info: ObjectInfo, id: string, signature: string) {
  const node = run.item.prompt[id];
  const nodeInfo = node ? info[node.class_type] : undefined;
  if (!node || !nodeInfo) return "success";
  const hit = ctx.state.cache.get(signature);
  if (hit) {
    // cached nodes are not executed, but their UI output is replayed to the client
    _publish(ctx, run, id, hit.values, hit.ui);
    return "success";
  }
  try {
    if (ctx.state.interrupted) throw new Interrupted("Processing interrupted");
    ctx.state.lastNode = id;
    // ComfyUI 0.28.2 sends the node's progress_state (running) before its `executing` (recorded from a real server)
    run.progress(id, "running", 0, 1);
    _toClient(ctx, run, "executing", { node: id, display_node: id, prompt_id: run.promptId });
    const { values, ui } = await runNode(ctx, run, id, node, nodeInfo);
    ctx.state.cache.set(signature, { values, ...(ui ? { ui } : {}) });
    _publish(ctx, run, id, values, ui);
    run.executed.push(id);
    return "success";
  } catch (error) {
    return _failed(ctx, run, id, node.class_type, error);
  }
}

function _publish(ctx: EmulatorContext, run: PromptRun, id: string, values: Value[], ui: UiOutput | undefined) {
  run.values.set(id, values);
  if (ui) {
    run.ui.set(id, ui);
    _toClient(ctx, run, "executed", { node: id, display_node: id, output: ui, prompt_id: run.promptId });
  }
  run.progress(id, "finished", 1, 1);
}

function _failed(ctx: EmulatorContext, run: PromptRun, id: string, classType: string, error: unknown): Outcome {
  const base = { prompt_id: run.promptId, node_id: id, node_type: classType, executed: [...run.executed] };
  if (error instanceof Interrupted) {
    ctx.log.info("Processing interrupted");
    _message(ctx, run, "execution_interrupted", base, true);
    return "interrupted";
  }
  const failure =
    error instanceof NodeFailure ? error : new NodeFailure("Exception", String((error as Error)?.message ?? error), []);
  const traceback = formatFrames(failure.frames);
  ctx.log.error([
    `!!! Exception during processing !!! ${failure.message}`,
    `Traceback (most recent call last):\n${traceback.join("").trimEnd()}\n${failure.type}: ${failure.message}`,
  ]);
  const node = run.item.prompt[id];
  const inputs = node ? resolveInputs(node, run.values) : {};
  const currentInputs = Object.fromEntries(Object.entries(inputs).map(([k, v]) => [k, [formatInput(v)]]));
  run.progress(id, "error", 0, 1);
  _message(
    ctx,
    run,
    "execution_error",
    {
      ...base,
      exception_message: failure.message,
      exception_type: failure.type,
      traceback,
      current_inputs: currentInputs,
      current_outputs: [...run.values.keys()],
    },
    false,
  );
  return "error";
}

function _finish(ctx: EmulatorContext, run: PromptRun, order: string[], outcome: Outcome): void {
  // built with fromEntries: a node id is any string ("__proto__" too), as in ComfyUI's dicts
  const shown = order.flatMap((id) => {
    const ui = run.ui.get(id);
    return ui ? [[id, ui] as const] : [];
  });
  const outputs: Record<string, UiOutput> = Object.fromEntries(shown);
  const meta: Record<string, unknown> = Object.fromEntries(
    shown.map(([id]) => [id, { node_id: id, display_node: id, parent_node: null, real_node_id: id }]),
  );
  const success = outcome === "success";
  const status = { status_str: success ? "success" : "error", completed: success, messages: run.messages } as const;
  ctx.history.put(run.promptId, { prompt: queueTuple(run.item), outputs, status, meta });
  ctx.state.lastNode = null;
  ctx.queue.done();
  _toClient(ctx, run, "executing", { node: null, prompt_id: run.promptId });
}

function _newRun(ctx: EmulatorContext, item: QueueItem): PromptRun {
  const clientId = typeof item.extraData.client_id === "string" ? item.extraData.client_id : null;
  const nodes: Record<string, Record<string, unknown>> = {};
  return {
    item,
    promptId: item.promptId,
    prompt: item.prompt,
    extraData: item.extraData,
    clientId,
    messages: [],
    executed: [],
    values: new Map<string, Value[]>(),
    ui: new Map(),
    nodes,
    progress(nodeId, state, value, max) {
      const entry = {
        value,
        max,
        state,
        node_id: nodeId,
        prompt_id: item.promptId,
        display_node_id: nodeId,
        parent_node_id: null,
        real_node_id: nodeId,
      };
      // an own key whatever the id: `nodes["__proto__"] = …` would set the object's prototype instead
      Object.defineProperty(nodes, nodeId, { value: entry, enumerable: true, writable: true, configurable: true });
      ctx.hub.send("progress_state", { prompt_id: item.promptId, nodes }, null);
    },
  };
}

// add_message: stored for history always, sent to the client, or broadcast when asked and there is none
function _message(
  ctx: EmulatorContext,
  run: PromptRun,
  event: string,
  data: Record<string, unknown>,
  broadcast: boolean,
) {
  const payload = { ...data, timestamp: Date.now() };
  run.messages.push([event, payload]);
  if (run.clientId !== null || broadcast) ctx.hub.send(event, payload, run.clientId);
}

// executing/executed go only to the prompt's own client, never broadcast
function _toClient(ctx: EmulatorContext, run: PromptRun, event: string, data: Record<string, unknown>) {
  if (run.clientId !== null) ctx.hub.send(event, data, run.clientId);
}

// IS_CHANGED of file loaders: a changed input file must not hit the cache
function _salt(ctx: EmulatorContext, item: QueueItem, id: string): string {
  const node = item.prompt[id];
  if (!node?.class_type.startsWith("Load")) return "";
  return JSON.stringify(Object.values(node.inputs ?? {}).map((v) => (typeof v === "string" ? _mtime(ctx, v) : "")));
}

function _mtime(ctx: EmulatorContext, name: string): string {
  const path = annotatedPath(name, ctx.dirs, "input");
  if (!path) return "";
  const file = Bun.file(path);
  return `${file.size}:${file.lastModified}`;
}

// the classic cache keeps only what the latest prompt used
function _pruneCache(ctx: EmulatorContext, signatures: Map<string, string>): void {
  const keep = new Set(signatures.values());
  for (const key of ctx.state.cache.keys()) if (!keep.has(key)) ctx.state.cache.delete(key);
}
