import { describe, expect, test } from "bun:test";
import { connectWs, useEmulator } from "../helpers/emulator.ts";

// ComfyUI's origin-only middleware: a loopback Host with an Origin naming another host:port gets 403
const emulator = useEmulator();

function get(path: string, headers: Record<string, string>): Promise<Response> {
  return fetch(`${emulator.url}${path}`, { headers, signal: AbortSignal.timeout(5000) });
}

describe("emulator origin guard", () => {
  test("a mismatched Origin on a loopback Host is refused, as ComfyUI refuses it", async () => {
    const port = new URL(emulator.url).port;
    const refused = await get("/system_stats", { host: `127.0.0.1:${port}`, origin: "http://evil.example" });
    expect(refused.status).toBe(403);
    const otherPort = await get("/api/prompt", { host: `127.0.0.1:${port}`, origin: "http://127.0.0.1:1" });
    expect(otherPort.status).toBe(403);
  });

  test("same-origin, port-less origins, no Origin and non-loopback hosts pass", async () => {
    const port = new URL(emulator.url).port;
    expect((await get("/system_stats", { host: `127.0.0.1:${port}`, origin: `http://127.0.0.1:${port}` })).status).toBe(
      200,
    );
    // a side without a port is compared without the other side's port
    expect((await get("/system_stats", { host: `127.0.0.1:${port}`, origin: "http://127.0.0.1" })).status).toBe(200);
    expect((await get("/system_stats", { host: `localhost:${port}`, origin: "http://LOCALHOST" })).status).toBe(200);
    expect((await get("/system_stats", {})).status).toBe(200);
    expect((await get("/system_stats", { host: "example.com", origin: "http://evil.example" })).status).toBe(200);
    expect((await get("/system_stats", { host: `127.0.0.1:${port}`, origin: "null" })).status).toBe(200);
  });

  test("the websocket is guarded too, and OPTIONS answers 200 without a route", async () => {
    const port = new URL(emulator.url).port;
    const ws = new WebSocket(`${emulator.url.replace("http", "ws")}/ws?clientId=x`, {
      headers: { host: `127.0.0.1:${port}`, origin: "http://evil.example" },
    } as unknown as string[]);
    const outcome = await new Promise<string>((resolve) => {
      ws.addEventListener("open", () => resolve("open"));
      ws.addEventListener("error", () => resolve("refused"));
    });
    expect(outcome).toBe("refused");
    const client = await connectWs(emulator.url, "y");
    expect(client.messages[0]?.type).toBe("status");
    client.close();
    const options = await fetch(`${emulator.url}/prompt`, { method: "OPTIONS", signal: AbortSignal.timeout(5000) });
    expect(options.status).toBe(200);
  });
});
