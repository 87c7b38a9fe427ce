import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { addModel, type SpawnedEmulator, spawnEmulator } from "../helpers/emulator.ts";
import { type Proc, spawnEndpoint, spawnProxy } from "./_stack.ts";

// A real browser on a page served through the proxy (same origin), using its own fetch and WebSocket the way
// ComfyUI's frontend does, so ComfyUI's origin check sees real browser headers on every request.
const CHROMIUM = "/usr/bin/chromium";
const HAS_CHROMIUM = existsSync(CHROMIUM);
if (!HAS_CHROMIUM) console.warn(`skipped: the proxy's browser test needs Debian's chromium at ${CHROMIUM}`);
const LAUNCH_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const WORKFLOW = await Bun.file(join(import.meta.dir, "../../examples/sd15-txt2img.json")).json();

let local: SpawnedEmulator;
let endpoint: Proc & { url: string };
let proxy: Proc & { url: string; jobIds(): string[] };

beforeAll(async () => {
  if (!HAS_CHROMIUM) return;
  [local, endpoint] = await Promise.all([spawnEmulator(), spawnEndpoint()]);
  await addModel(local.base, "checkpoints", "v1-5-pruned-emaonly.safetensors");
  proxy = await spawnProxy(local.url, endpoint.url);
}, 60_000);

afterAll(async () => {
  await Promise.all([proxy?.stop(), endpoint?.stop(), local?.stop()]);
});

interface PageResult {
  status: number;
  promptId?: string;
  types?: string[];
  image?: { ok: boolean; width: number; height: number };
}

interface PageGlobals {
  location: { protocol: string; host: string };
  window: { name: string };
  sessionStorage: { setItem(key: string, value: string): void };
  Image: new () => {
    onload: () => void;
    onerror: () => void;
    src: string;
    naturalWidth: number;
    naturalHeight: number;
  };
}

// runs inside the page: api.ts's createSocket, queuePrompt and the image preview's /view URL
async function queueLikeTheFrontend(workflow: unknown): Promise<PageResult> {
  // the page's own globals (the test program is typed without the DOM library)
  const { location, window, sessionStorage, Image } = globalThis as unknown as PageGlobals;
  const events: { type: string; data: Record<string, unknown> }[] = [];
  const fetchApi = (route: string, init: RequestInit = {}) =>
    fetch(`/api${route}`, { cache: "no-cache", ...init, headers: { ...init.headers, "Comfy-User": "" } });
  const socket = new WebSocket(`${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`);
  socket.binaryType = "arraybuffer";
  socket.addEventListener("open", () =>
    socket.send(JSON.stringify({ type: "feature_flags", data: { supports_preview_metadata: true } })),
  );
  let clientId: string | undefined;
  socket.addEventListener("message", (event) => {
    if (event.data instanceof ArrayBuffer) return;
    const msg = JSON.parse(event.data);
    if (msg.type === "status" && msg.data.sid) {
      clientId = msg.data.sid;
      window.name = msg.data.sid;
      sessionStorage.setItem("clientId", msg.data.sid);
    }
    events.push(msg);
  });
  const until = async (check: () => boolean) => {
    const deadline = Date.now() + 45_000;
    while (!check()) {
      if (Date.now() > deadline) throw new Error("timed out in the page");
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };
  await until(() => clientId !== undefined);
  const res = await fetchApi("/prompt", {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ client_id: clientId, prompt: workflow, extra_data: { extra_pnginfo: { workflow: {} } } }),
  });
  if (res.status !== 200) return { status: res.status };
  const { prompt_id } = (await res.json()) as { prompt_id: string };
  await until(() =>
    events.some((e) => e.type === "executing" && e.data.node === null && e.data.prompt_id === prompt_id),
  );
  const executed = events.find((e) => e.type === "executed" && e.data.prompt_id === prompt_id);
  const output = executed?.data.output as { images?: { filename: string; subfolder: string; type: string }[] };
  const file = output?.images?.[0];
  const params = new URLSearchParams({
    filename: file?.filename ?? "",
    type: file?.type ?? "",
    subfolder: file?.subfolder ?? "",
  });
  const image = await new Promise<{ ok: boolean; width: number; height: number }>((resolve) => {
    const img = new Image();
    img.onload = () => resolve({ ok: true, width: img.naturalWidth, height: img.naturalHeight });
    img.onerror = () => resolve({ ok: false, width: 0, height: 0 });
    img.src = `/api/view?${params}&rand=${Math.random()}`;
  });
  socket.close();
  const types = events.filter((e) => e.data.prompt_id === prompt_id && e.type !== "progress_state").map((e) => e.type);
  return { status: 200, promptId: prompt_id, types, image };
}

// runs inside a page of another origin: a blind POST (no-cors) and a websocket to the proxy's 127.0.0.1 address
async function crossOriginAttempt({ target, workflow }: { target: string; workflow: unknown }): Promise<string> {
  await fetch(`${target}/api/prompt`, { method: "POST", mode: "no-cors", body: JSON.stringify({ prompt: workflow }) });
  const socket = new WebSocket(`${target.replace("http", "ws")}/ws`);
  return new Promise((resolve) => {
    socket.addEventListener("open", () => resolve("open"));
    socket.addEventListener("error", () => resolve("refused"));
  });
}

test.skipIf(!HAS_CHROMIUM)(
  "headless Chromium queues through the proxy and the output image loads from /view",
  async () => {
    const { chromium } = await import("playwright-core");
    const profile = mkdtempSync(join(tmpdir(), "cw-chromium-"));
    const browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: LAUNCH_ARGS,
    });
    try {
      const page = await browser.newPage();
      const loaded = await page.goto(`${proxy.url}/`);
      expect(loaded?.status()).toBe(200);
      const result = await page.evaluate(queueLikeTheFrontend, WORKFLOW);
      expect(result.status).toBe(200);
      expect(result.types?.[0]).toBe("execution_start");
      expect(result.types).toContain("execution_success");
      expect(result.types?.at(-1)).toBe("executing");
      expect(result.image).toEqual({ ok: true, width: 512, height: 512 });
      expect(proxy.jobIds()).toHaveLength(1);
      // another origin on the same machine (localhost vs 127.0.0.1): refused like ComfyUI refuses it
      const other = await browser.newPage();
      await other.goto(`${proxy.url.replace("127.0.0.1", "localhost")}/`);
      const refused = await other.evaluate(crossOriginAttempt, { target: proxy.url, workflow: WORKFLOW });
      expect(refused).toBe("refused");
      expect(proxy.jobIds()).toHaveLength(1);
    } finally {
      await browser.close();
      rmSync(profile, { recursive: true, force: true });
    }
  },
  90_000,
);
