// The reference for bench/job-overhead.ts: the least a client of ComfyUI can do per prompt. One websocket opened
// once, POST /prompt with its own prompt_id, wait for `executing` with node null for that id, GET /history/<id>,
// then every output through GET /view at once. No validation, no encoding of outputs.

type Waiter = () => void;

/** A bare ComfyUI client sharing one websocket between any number of prompts in flight. */
export class BareClient {
  private readonly waiters = new Map<string, Waiter>();
  private readonly clientId = `bare-${crypto.randomUUID()}`;
  private ws!: WebSocket;

  private constructor(private readonly url: string) {}

  static async open(url: string): Promise<BareClient> {
    const client = new BareClient(url);
    client.ws = new WebSocket(`${url.replace(/^http/, "ws")}/ws?clientId=${client.clientId}`);
    client.ws.onmessage = (event) => client.onMessage(event.data);
    await new Promise<void>((resolve, reject) => {
      client.ws.onopen = () => resolve();
      client.ws.onerror = () => reject(new Error(`bare client: websocket to ${url} failed`));
    });
    return client;
  }

  /** Runs one prompt to its downloaded outputs; returns the prompt id, the bytes fetched and the files. */
  async run(
    prompt: unknown,
  ): Promise<{ promptId: string; bytes: number; files: { filename: string; bytes: Uint8Array }[] }> {
    const promptId = crypto.randomUUID();
    const finished = new Promise<void>((resolve) => this.waiters.set(promptId, resolve));
    const res = await fetch(`${this.url}/prompt`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prompt, client_id: this.clientId, prompt_id: promptId }),
    });
    if (!res.ok) throw new Error(`bare client: POST /prompt ${res.status}: ${await res.text()}`);
    await res.arrayBuffer();
    await finished;
    const history = (await (await fetch(`${this.url}/history/${promptId}`)).json()) as Record<string, Entry>;
    const files = Object.values(history[promptId]?.outputs ?? {}).flatMap((o) => o.images ?? []);
    const fetched = await Promise.all(
      files.map(async (file) => ({ filename: file.filename, bytes: await this.view(file) })),
    );
    return { promptId, bytes: fetched.reduce((a, f) => a + f.bytes.byteLength, 0), files: fetched };
  }

  close(): void {
    this.ws.close();
  }

  private async view(file: { filename: string; subfolder: string; type: string }): Promise<Uint8Array> {
    const query = new URLSearchParams(file);
    const res = await fetch(`${this.url}/view?${query}`);
    return new Uint8Array(await res.arrayBuffer());
  }

  private onMessage(data: unknown): void {
    if (typeof data !== "string") return;
    const message = JSON.parse(data) as { type: string; data: { node?: string | null; prompt_id?: string } };
    if (message.type !== "executing" || message.data.node !== null || !message.data.prompt_id) return;
    const wake = this.waiters.get(message.data.prompt_id);
    this.waiters.delete(message.data.prompt_id);
    wake?.();
  }
}

interface Entry {
  outputs?: Record<string, { images?: Array<{ filename: string; subfolder: string; type: string }> }>;
}
