/**
 * A client that talks to a ComfyUI server the way ComfyUI's own frontend does (ComfyUI_frontend
 * src/scripts/api.ts): `${base}/ws` with the clientId it was given by the first `status` (sid), the
 * `feature_flags` frame sent first on open, JSON and binary frames decoded as `api.ts` decodes them
 * (1 preview, 3 progress text, 4 preview with metadata), every HTTP call under `/api` with a `Comfy-User`
 * header, `queuePrompt` posting `{client_id, prompt, extra_data: {extra_pnginfo: {workflow}}}` and throwing
 * on a non-200 answer, `interrupt(prompt_id)` and queue/history edits as `#postItem` sends them. Like a
 * browser, it sends `Origin` on POSTs and on the websocket.
 */

export interface FrontendEvent {
  type: string;
  data: Record<string, unknown>;
}

/** A non-200 POST /prompt, with ComfyUI's `{error, node_errors}` body (PromptExecutionError). */
export class PromptExecutionError extends Error {
  constructor(readonly response: Record<string, unknown>) {
    super("Prompt execution failed");
  }
}

const CLIENT_FEATURE_FLAGS = { supports_preview_metadata: true, max_upload_size: 100 * 1024 * 1024 };

export class FrontendClient {
  readonly events: FrontendEvent[] = [];
  readonly previews: { nodeId?: string; promptId?: string; mime: string; bytes: number }[] = [];
  clientId: string | undefined;
  serverFeatureFlags: Record<string, unknown> = {};
  #socket: WebSocket | undefined;

  constructor(
    readonly base: string,
    private readonly user = "",
    /** The feature flags the client announces (an older frontend announces none). */
    private readonly featureFlags: Record<string, unknown> = CLIENT_FEATURE_FLAGS,
  ) {}

  /** Opens the websocket (api.init → createSocket) and waits for the first `status`. */
  async init(existingSession?: string): Promise<void> {
    const query = existingSession ? `?${new URLSearchParams({ clientId: existingSession })}` : "";
    const socket = new WebSocket(`${this.base.replace(/^http/, "ws")}/ws${query}`, {
      headers: { origin: this.base },
    } as unknown as string[]);
    socket.binaryType = "arraybuffer";
    this.#socket = socket;
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "feature_flags", data: this.featureFlags }));
    });
    socket.addEventListener("message", (event) => this.#onMessage(event.data));
    await this.waitFor((e) => e.type === "status", 10_000);
  }

  close(): void {
    this.#socket?.close();
  }

  /** `api.fetchApi`: `/api` + route, `Comfy-User` header, no-cache; POSTs carry Origin like a browser's. */
  fetchApi(route: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    headers.set("Comfy-User", this.user);
    if (init.method && init.method !== "GET") headers.set("Origin", this.base);
    return fetch(`${this.base}/api${route}`, {
      cache: "no-cache",
      ...init,
      headers,
      signal: AbortSignal.timeout(30_000),
    });
  }

  /** `api.queuePrompt(number, {output, workflow})`. */
  async queuePrompt(
    number: number,
    data: { output: Record<string, unknown>; workflow: Record<string, unknown> },
  ): Promise<{ prompt_id: string; number: number; node_errors: Record<string, unknown> }> {
    const body: Record<string, unknown> = {
      client_id: this.clientId ?? "",
      prompt: data.output,
      extra_data: { extra_pnginfo: { workflow: data.workflow } },
    };
    if (number === -1) body.front = true;
    else if (number !== 0) body.number = number;
    const res = await this.fetchApi("/prompt", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (res.status !== 200) throw new PromptExecutionError((await res.json()) as Record<string, unknown>);
    return (await res.json()) as { prompt_id: string; number: number; node_errors: Record<string, unknown> };
  }

  /** `api.interrupt(runningPromptId)`. */
  async interrupt(runningPromptId: string | null): Promise<void> {
    await this.#postItem("interrupt", runningPromptId ? { prompt_id: runningPromptId } : undefined);
  }

  async deleteItem(type: "queue" | "history", id: string): Promise<void> {
    await this.#postItem(type, { delete: [id] });
  }

  async getQueue(): Promise<{ queue_running: unknown[][]; queue_pending: unknown[][] }> {
    return (await this.fetchApi("/queue")).json() as Promise<{
      queue_running: unknown[][];
      queue_pending: unknown[][];
    }>;
  }

  async getHistory(maxItems = 200): Promise<Record<string, Record<string, unknown>>> {
    return (await this.fetchApi(`/history?max_items=${maxItems}`)).json() as Promise<
      Record<string, Record<string, unknown>>
    >;
  }

  /** An output's bytes as the UI's image preview loads them (`/api/view?filename=&type=&subfolder=`). */
  async view(file: { filename: string; subfolder: string; type: string }): Promise<Response> {
    const params = new URLSearchParams({ filename: file.filename, type: file.type, subfolder: file.subfolder });
    return this.fetchApi(`/view?${params}`);
  }

  /** Resolves with the first recorded (or future) event matching `match`. */
  async waitFor(match: (event: FrontendEvent) => boolean, timeoutMs = 20_000): Promise<FrontendEvent> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = this.events.find(match);
      if (found) return found;
      if (Date.now() > deadline) throw new Error(`no matching websocket event within ${timeoutMs} ms`);
      await Bun.sleep(20);
    }
  }

  /** Waits for main.py's last word on a prompt: `executing` with `node: null`. */
  finished(promptId: string, timeoutMs = 30_000): Promise<FrontendEvent> {
    return this.waitFor(
      (e) => e.type === "executing" && e.data.node === null && e.data.prompt_id === promptId,
      timeoutMs,
    );
  }

  /** The events of one prompt, in order (status and feature_flags are not per prompt). */
  eventsOf(promptId: string): FrontendEvent[] {
    return this.events.filter((e) => e.data.prompt_id === promptId);
  }

  async #postItem(type: string, body?: Record<string, unknown>): Promise<void> {
    await this.fetchApi(`/${type}`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
  }

  #onMessage(data: unknown): void {
    if (data instanceof ArrayBuffer) {
      this.#binary(data);
      return;
    }
    const msg = JSON.parse(String(data)) as FrontendEvent;
    if (msg.type === "status" && typeof msg.data.sid === "string") this.clientId = msg.data.sid;
    if (msg.type === "feature_flags") this.serverFeatureFlags = msg.data;
    this.events.push(msg);
  }

  #binary(buffer: ArrayBuffer): void {
    const view = new DataView(buffer);
    const type = view.getUint32(0);
    if (type === 1) {
      this.previews.push({ mime: view.getUint32(4) === 2 ? "image/png" : "image/jpeg", bytes: buffer.byteLength - 8 });
    } else if (type === 4) {
      const length = view.getUint32(4);
      const meta = JSON.parse(new TextDecoder().decode(buffer.slice(8, 8 + length))) as Record<string, string>;
      const bytes = buffer.byteLength - 8 - length;
      this.previews.push({ nodeId: meta.node_id, promptId: meta.prompt_id, mime: meta.image_type ?? "", bytes });
    }
  }
}
