import type { JobPreview } from "../jobs/previews.ts";
import type { JobProgress } from "../jobs/progress.ts";
import { encodePreviewMessage, encodePreviewWithMetadata } from "../previews/frames.ts";
import type { BrowserHub } from "./hub.ts";
import type { RemotePrompt } from "./queue.ts";
import type { AnnouncedFile, UiOutput } from "./store.ts";

type Messages = [string, Record<string, unknown>][];

/** Weight downloads on the worker report progress under `download:<folder>/<name>`: no graph node to show. */
const DOWNLOAD_NODE_PREFIX = "download:";

/**
 * The websocket events ComfyUI's execution.py and main.py send for one prompt, made from the remote job's
 * stream: `add_message` events are kept for /history and sent to the prompt's client (broadcast only where
 * ComfyUI broadcasts), `executing`/`executed`/`progress` go to the client only, `progress_state` to everyone.
 */
export class PromptEvents {
  readonly messages: Messages = [];
  /** Nodes that ran, in the order the stream reported them. */
  readonly executed: string[] = [];
  readonly announced: AnnouncedFile[] = [];
  lastNode: string | null = null;
  #started = new Set<string>();
  #states: Record<string, Record<string, unknown>> = {};

  constructor(
    private readonly item: RemotePrompt,
    private readonly hub: BrowserHub,
  ) {}

  /** `add_message`: recorded with a timestamp; sent to the client, or to everyone when `broadcast` and none. */
  message(event: string, data: Record<string, unknown>, broadcast = false): void {
    const payload = { ...data, timestamp: Date.now() };
    this.messages.push([event, payload]);
    if (this.item.clientId !== null || broadcast) this.hub.send(event, payload, this.item.clientId);
  }

  /** A progress chunk: `executing` for every node not announced yet, `progress` for steps, `progress_state`. */
  progress(chunk: JobProgress): void {
    for (const node of chunk.finished ?? []) {
      if (this.executed.includes(node.node)) continue;
      this.#start(node.node);
      this.executed.push(node.node);
      for (const file of node.files) this.announced.push({ node: node.node, ...file });
      this.#state(node.node, "finished", 1, 1);
    }
    if (chunk.preview) this.#preview(chunk.preview);
    if (chunk.node.startsWith(DOWNLOAD_NODE_PREFIX) || this.executed.includes(chunk.node)) return;
    if (!this.item.prompt[chunk.node]) return;
    this.#start(chunk.node);
    if (chunk.max > 0) {
      const data = { value: chunk.value, max: chunk.max, prompt_id: this.item.promptId, node: chunk.node };
      // main.py's progress hook sends to the prompt's client, or to everyone when it named none
      this.hub.send("progress", data, this.item.clientId);
    }
    if (chunk.max > 0) this.#state(chunk.node, "running", chunk.value, chunk.max);
  }

  // the UI's live preview: as ComfyUI sends it, with its prompt and node to a client that reads that form
  #preview(preview: JobPreview): void {
    const frame = { mime: preview.mime, image: Buffer.from(preview.data, "base64") };
    const meta = { promptId: this.item.promptId, nodeId: preview.node ?? this.lastNode ?? undefined };
    this.hub.sendBinary(
      (withMetadata) => (withMetadata ? encodePreviewWithMetadata(frame, meta) : encodePreviewMessage(frame)),
      this.item.clientId,
    );
  }

  /** `executed` with each node's saved outputs (the bytes arrive with the job's result). */
  outputs(ui: Map<string, UiOutput>): void {
    for (const [node, output] of ui) {
      this.#start(node);
      if (!this.executed.includes(node)) this.executed.push(node);
      this.#toClient("executed", { node, display_node: node, output, prompt_id: this.item.promptId });
      this.#state(node, "finished", 1, 1);
    }
  }

  /** The node a failure or interrupt is charged to: the last one running, else the first output node. */
  blame(preferred?: string): { node_id: string; node_type: string } {
    const id = [preferred, this.lastNode, this.item.outputs[0], Object.keys(this.item.prompt)[0]].find(
      (candidate): candidate is string => typeof candidate === "string" && candidate in this.item.prompt,
    );
    const node = id ? (this.item.prompt[id] as { class_type?: unknown }) : undefined;
    return { node_id: id ?? "", node_type: typeof node?.class_type === "string" ? node.class_type : "" };
  }

  errorState(node: string): void {
    this.#state(node, "error", 0, 1);
  }

  /** main.py's last word for a prompt, after its history is written: `executing` with `node: null`. */
  finished(): void {
    this.#toClient("executing", { node: null, prompt_id: this.item.promptId });
  }

  #start(node: string): void {
    if (this.#started.has(node)) return;
    this.#started.add(node);
    // nodes run one after another: the one before has finished when the next one starts
    const previous = this.lastNode;
    if (previous && this.#states[previous]?.state === "running") this.#state(previous, "finished", 1, 1);
    this.lastNode = node;
    // ComfyUI 0.28.2 sends the node's progress_state (running) before its `executing`
    this.#state(node, "running", 0, 1);
    this.#toClient("executing", { node, display_node: node, prompt_id: this.item.promptId });
  }

  #state(node: string, state: string, value: number, max: number): void {
    this.#states[node] = {
      value,
      max,
      state,
      node_id: node,
      prompt_id: this.item.promptId,
      display_node_id: node,
      parent_node_id: null,
      real_node_id: node,
    };
    // progress.py sends it to the prompt's client only (everyone when it named none): another tab must not show
    // this prompt's node states, which the frontend applies whatever their prompt_id
    this.hub.send("progress_state", { prompt_id: this.item.promptId, nodes: this.#states }, this.item.clientId);
  }

  #toClient(event: string, data: Record<string, unknown>): void {
    if (this.item.clientId !== null) this.hub.send(event, data, this.item.clientId);
  }
}
