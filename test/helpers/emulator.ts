import { afterAll, beforeAll } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";

const ROOT = join(import.meta.dir, "../..");
const READY_TIMEOUT_MS = 15_000;
const POLL_MS = 50;

/** A port nothing listens on right now (listen on 0, read the port, close). */
export async function freePort(): Promise<number> {
  // the kernel may hand a just-released port out again at once: two calls in a row (PORT, COMFY_PORT) then
  // get the same one, and the second server finds it taken. No port is handed out twice in this process.
  for (let attempt = 0; attempt < 50; attempt++) {
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response() });
    const port = server.port ?? 0;
    await server.stop(true);
    if (!GIVEN_PORTS.has(port)) {
      GIVEN_PORTS.add(port);
      return port;
    }
  }
  throw new Error("no fresh loopback port after 50 tries");
}

const GIVEN_PORTS = new Set<number>();

/** An emulator running as a real `comfy-worker emulate` process. */
export interface SpawnedEmulator {
  url: string;
  port: number;
  base: string;
  proc: Subprocess<"ignore", "pipe", "pipe">;
  /** Everything written to stderr so far (ComfyUI logs there). */
  stderr(): string;
  /** Resolves once stderr matches, or rejects after `timeoutMs`. */
  waitForLog(pattern: RegExp | string, timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL if it is still alive after `graceMs`; resolves with the exit code (null when killed). Removes a temp base it created. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface SpawnEmulatorOptions {
  /** Extra `emulate` flags (knobs). */
  args?: string[];
  /** Base dir; a fresh temp dir by default. */
  base?: string;
  /** Skip waiting for /system_stats (startup-delay tests probe it themselves). */
  noWait?: boolean;
  readyTimeoutMs?: number;
  /** This port instead of a free one (a ComfyUI that comes back where it was). */
  port?: number;
}

/** Spawns `bun src/main.ts emulate` on a free port and waits until GET /system_stats answers 200. */
export async function spawnEmulator(options: SpawnEmulatorOptions = {}): Promise<SpawnedEmulator> {
  const port = options.port ?? (await freePort());
  const ownBase = options.base === undefined;
  const base = options.base ?? mkdtempSync(join(tmpdir(), "cw-emu-"));
  const argv = [
    process.execPath,
    "src/main.ts",
    "emulate",
    "--port",
    String(port),
    "--base",
    base,
    ...(options.args ?? []),
  ];
  const proc = Bun.spawn(argv, { cwd: ROOT, stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let text = "";
  const drain = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stderr) text += decoder.decode(chunk, { stream: true });
  })();
  void new Response(proc.stdout).text();
  const url = `http://127.0.0.1:${port}`;
  const emulator: SpawnedEmulator = {
    url,
    port,
    base,
    proc,
    stderr: () => text,
    waitForLog: (pattern, timeoutMs = 5000) =>
      _until(
        () => (typeof pattern === "string" ? text.includes(pattern) : pattern.test(text)),
        timeoutMs,
        `log ${pattern}`,
      ),
    async stop(graceMs = 3000) {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill("SIGTERM");
      const code = await Promise.race([proc.exited, Bun.sleep(graceMs).then(() => "timeout" as const)]);
      if (code === "timeout") proc.kill("SIGKILL");
      await drain.catch(() => {});
      if (ownBase) rmSync(base, { recursive: true, force: true });
      return code === "timeout" ? null : code;
    },
  };
  if (!options.noWait) {
    try {
      await waitForReady(url, options.readyTimeoutMs ?? READY_TIMEOUT_MS, proc);
    } catch (error) {
      await emulator.stop(500);
      throw new Error(`${(error as Error).message}\n--- emulator stderr ---\n${text}`);
    }
  }
  return emulator;
}

/** The emulator a whole test file shares: spawned in beforeAll (with these model files), stopped in afterAll. */
export interface SharedEmulator {
  readonly url: string;
  readonly base: string;
  /** GET a route and parse its JSON body (5 s deadline). */
  json(path: string): Promise<Json>;
}

/** Registers beforeAll/afterAll hooks that run one emulator process for the calling test file. */
export function useEmulator(models: Array<[folder: string, name: string]> = []): SharedEmulator {
  let current: SpawnedEmulator | undefined;
  beforeAll(async () => {
    current = await spawnEmulator();
    for (const [folder, name] of models) await addModel(current.base, folder, name);
  });
  afterAll(async () => {
    await current?.stop();
  });
  const started = () => {
    if (!current) throw new Error("the emulator is used before beforeAll started it");
    return current;
  };
  return {
    get url() {
      return started().url;
    },
    get base() {
      return started().base;
    },
    json: async (path) =>
      (await fetch(`${started().url}${path}`, { signal: AbortSignal.timeout(5000) })).json() as Promise<Json>,
  };
}

/** Polls GET /system_stats until it answers 200; fails fast when the process exits first. */
export async function waitForReady(url: string, timeoutMs = READY_TIMEOUT_MS, proc?: Subprocess): Promise<void> {
  await _until(
    async () => {
      if (proc && proc.exitCode !== null) throw new Error(`emulator exited with ${proc.exitCode} before it was ready`);
      const res = await fetch(`${url}/system_stats`, { signal: AbortSignal.timeout(1000) }).catch(() => undefined);
      return res?.status === 200;
    },
    timeoutMs,
    `${url}/system_stats`,
  );
}

async function _until(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return;
    await Bun.sleep(POLL_MS);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

/** Parsed JSON in test assertions: deliberately loose, the assertions themselves check the shape. */
// biome-ignore lint/suspicious/noExplicitAny: tests index into arbitrary response JSON
export type Json = Record<string, any>;

/** A JSON frame from ComfyUI's websocket. */
export interface WsMessage {
  type: string;
  data: Record<string, unknown>;
}

/** A websocket client that records every frame, for asserting on ComfyUI's event stream. */
export interface WsClient {
  ws: WebSocket;
  messages: WsMessage[];
  binary: Uint8Array[];
  /** Resolves with the first recorded (or future) message matching `match`. */
  next(match: (m: WsMessage) => boolean, timeoutMs?: number): Promise<WsMessage>;
  closed: Promise<CloseEvent>;
  close(): void;
}

/** Opens `/ws?clientId=` (or `/api/ws`), resolving once the first frame (`status`) arrived. */
export async function connectWs(
  url: string,
  clientId?: string,
  options: { path?: string; featureFlags?: Record<string, unknown> } = {},
) {
  const query = clientId === undefined ? "" : `?clientId=${encodeURIComponent(clientId)}`;
  const ws = new WebSocket(`${url.replace(/^http/, "ws")}${options.path ?? "/ws"}${query}`);
  ws.binaryType = "arraybuffer";
  const messages: WsMessage[] = [];
  const binary: Uint8Array[] = [];
  const closed = new Promise<CloseEvent>((resolve) => ws.addEventListener("close", resolve));
  ws.addEventListener("message", (event) => {
    if (typeof event.data === "string") messages.push(JSON.parse(event.data) as WsMessage);
    else binary.push(new Uint8Array(event.data as ArrayBuffer));
  });
  await new Promise<void>((resolve, reject) => {
    ws.addEventListener("open", () => resolve());
    ws.addEventListener("error", () => reject(new Error(`websocket to ${url} failed`)));
  });
  if (options.featureFlags) ws.send(JSON.stringify({ type: "feature_flags", data: options.featureFlags }));
  const client: WsClient = {
    ws,
    messages,
    binary,
    closed,
    async next(match, timeoutMs = 5000) {
      let found: WsMessage | undefined;
      await _until(
        () => {
          found = messages.find(match);
          return found !== undefined;
        },
        timeoutMs,
        "a websocket message",
      );
      return found as WsMessage;
    },
    close: () => ws.close(),
  };
  await client.next(() => true);
  return client;
}

/** POST /prompt; returns the status and the parsed body. */
export async function postPrompt(url: string, body: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${url}/prompt`, {
    method: "POST",
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(5000),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

/** Polls GET /history/{id} until the entry exists. */
export async function waitForHistory(url: string, promptId: string, timeoutMs = 10_000): Promise<Json> {
  let entry: Json | undefined;
  await _until(
    async () => {
      const body = (await (await fetch(`${url}/history/${promptId}`)).json()) as Json;
      entry = body[promptId];
      return entry !== undefined;
    },
    timeoutMs,
    `history of ${promptId}`,
  );
  return entry as Json;
}

// shared/corpus/workflows/api-sd15-txt2img.json (API format), inlined so the tests need nothing outside the repo
const SD15_TXT2IMG = {
  "3": {
    inputs: {
      seed: 712610403220747,
      steps: 20,
      cfg: 8,
      sampler_name: "euler",
      scheduler: "normal",
      denoise: 1,
      model: ["4", 0],
      positive: ["6", 0],
      negative: ["7", 0],
      latent_image: ["5", 0],
    },
    class_type: "KSampler",
    _meta: { title: "KSampler" },
  },
  "4": {
    inputs: { ckpt_name: "dreamshaper_8.safetensors" },
    class_type: "CheckpointLoaderSimple",
    _meta: { title: "Load Checkpoint" },
  },
  "5": {
    inputs: { width: 512, height: 512, batch_size: 1 },
    class_type: "EmptyLatentImage",
    _meta: { title: "Empty Latent Image" },
  },
  "6": {
    inputs: { text: "beautiful scenery nature glass bottle landscape, , purple galaxy bottle,", clip: ["4", 1] },
    class_type: "CLIPTextEncode",
    _meta: { title: "CLIP Text Encode (Prompt)" },
  },
  "7": {
    inputs: { text: "text, watermark", clip: ["4", 1] },
    class_type: "CLIPTextEncode",
    _meta: { title: "CLIP Text Encode (Prompt)" },
  },
  "8": { inputs: { samples: ["3", 0], vae: ["4", 2] }, class_type: "VAEDecode", _meta: { title: "VAE Decode" } },
  "9": {
    inputs: { filename_prefix: "ComfyUI", images: ["8", 0] },
    class_type: "SaveImage",
    _meta: { title: "Save Image" },
  },
};

/** A fresh copy of the corpus SD 1.5 txt2img workflow (needs checkpoints/dreamshaper_8.safetensors). */
export function sd15Workflow(): Json {
  return structuredClone(SD15_TXT2IMG);
}

/** Creates a small dummy file `<base>/models/<folder>/<name>` so the emulator lists it. */
export async function addModel(base: string, folder: string, name: string): Promise<void> {
  await Bun.write(join(base, "models", folder, name), "dummy weights");
}
