import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runCliCaptured } from "../helpers/cli.ts";
import { addModel, useEmulator } from "../helpers/emulator.ts";

const emulator = useEmulator();
const EXAMPLE = join(import.meta.dir, "../../examples/sd15-txt2img.json");
const CHECKPOINT = "v1-5-pruned-emaonly.safetensors";

// a loopback proxy in front of the emulator that records every HTTP request path; it takes no websocket, so the
// run follows its prompt through /history alone
let proxy: ReturnType<typeof Bun.serve>;
const paths: string[] = [];
let out: string;

beforeAll(async () => {
  await addModel(emulator.base, "checkpoints", CHECKPOINT);
  out = mkdtempSync(join(tmpdir(), "cw-run-oi-"));
  proxy = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    async fetch(req) {
      const url = new URL(req.url);
      paths.push(url.pathname);
      if (url.pathname === "/ws") return new Response("no websockets here", { status: 404 });
      const body = req.method === "GET" ? undefined : await req.arrayBuffer();
      const target = `${emulator.url}${url.pathname}${url.search}`;
      const res = await fetch(target, { method: req.method, headers: req.headers, body });
      return new Response(await res.arrayBuffer(), { status: res.status, headers: res.headers });
    },
  });
});
afterAll(async () => {
  await proxy.stop(true);
  rmSync(out, { recursive: true, force: true });
});

test("run of an API workflow asks ComfyUI only for its own node types' /object_info, not the whole listing", async () => {
  paths.length = 0;
  const url = `http://127.0.0.1:${proxy.port}`;
  const { code, stderr } = await runCliCaptured(["run", EXAMPLE, "--comfy-url", url, "--out", out]);
  expect(stderr).not.toContain("error");
  expect(code).toBe(0);
  expect(paths).not.toContain("/object_info");
  const asked = paths.filter((p) => p.startsWith("/object_info/")).sort();
  expect(asked).toContain("/object_info/KSampler");
  expect(asked).toContain("/object_info/CheckpointLoaderSimple");
});
