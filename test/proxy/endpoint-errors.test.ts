import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodePng, gradientImage } from "../../src/emulator/png.ts";
import { Redactor } from "../../src/lib/redact.ts";
import { createLogger } from "../../src/log.ts";
import { type ProxyHandle, startProxy } from "../../src/proxy/server.ts";
import { saveResult } from "../../src/proxy/store.ts";
import { createEndpointClient } from "../../src/remote/index.ts";
import { addModel, type SpawnedEmulator, spawnEmulator } from "../helpers/emulator.ts";
import { FrontendClient } from "../helpers/frontend-client.ts";

// The endpoint misbehaves (bad key, unknown endpoint): the UI gets execution_error saying what to do.
const WORKFLOW = await Bun.file(join(import.meta.dir, "../../examples/sd15-txt2img.json")).json();
const log = createLogger({ level: "error", format: "json", redactor: new Redactor(), stream: process.stderr });

let local: SpawnedEmulator;
let fake: ReturnType<typeof Bun.serve>;
const proxies: ProxyHandle[] = [];

beforeAll(async () => {
  local = await spawnEmulator();
  await addModel(local.base, "checkpoints", "v1-5-pruned-emaonly.safetensors");
  fake = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path.startsWith("/v2/badkey/")) return new Response("Unauthorized", { status: 401 });
      if (path.endsWith("/x.png")) return new Response(encodePng(gradientImage(4, 4, 1)));
      return new Response("not found", { status: 404 });
    },
  });
}, 30_000);

afterAll(async () => {
  await Promise.all(proxies.map((p) => p.stop()));
  await fake?.stop(true);
  await local?.stop();
});

function proxyTo(endpointId: string): ProxyHandle {
  const proxy = startProxy({
    host: "127.0.0.1",
    port: 0,
    comfyUrl: local.url,
    client: createEndpointClient({ endpoint: `http://127.0.0.1:${fake.port}/v2/${endpointId}` }),
    outDir: mkdtempSync(join(tmpdir(), "cw-proxy-err-")),
    guard: { privateAllowed: [] },
    target: "remote",
    log,
  });
  proxies.push(proxy);
  return proxy;
}

async function failureOf(endpointId: string): Promise<Record<string, unknown>> {
  const c = new FrontendClient(proxyTo(endpointId).url);
  await c.init();
  const { prompt_id } = await c.queuePrompt(0, { output: WORKFLOW, workflow: {} });
  await c.finished(prompt_id, 20_000);
  const error = c.eventsOf(prompt_id).find((e) => e.type === "execution_error");
  c.close();
  return error?.data ?? {};
}

describe("endpoint errors reach the UI as execution_error", () => {
  test("a bad API key", async () => {
    const error = await failureOf("badkey");
    expect(error.exception_type).toBe("E_AUTH");
    expect(String(error.exception_message)).toContain("401");
  });

  test("an unknown endpoint", async () => {
    const error = await failureOf("nosuch");
    expect(error.exception_type).toBe("E_NOT_FOUND");
    expect(String(error.exception_message)).toContain("404");
  });

  test("an output URL on a private address is refused unless PRIVATE_HOSTS_ALLOWED names it", async () => {
    const out = mkdtempSync(join(tmpdir(), "cw-proxy-url-"));
    const url = `http://127.0.0.1:${fake.port}/bucket/x.png`;
    const result = {
      images: [{ filename: "x.png", subfolder: "", node_id: "9", type: "s3_url", data: url, mime: "image/png" }],
    };
    await expect(saveResult(result, [], { outDir: out, guard: { privateAllowed: [] } })).rejects.toThrow("private");
    const ui = await saveResult(result, [], { outDir: out, guard: { privateAllowed: ["127.0.0.1"] } });
    expect(ui.get("9")).toEqual({ images: [{ filename: "x.png", subfolder: "remote", type: "output" }] });
    expect((await Bun.file(join(out, "remote", "x.png")).bytes()).length).toBeGreaterThan(50);
  });
});
