import { describe, expect, test } from "bun:test";
import { attachComfy } from "../../src/comfy/supervisor.ts";
import { cleanUpAfterEach, cleanup, freePort, memoryLogger, nextExit, rejection } from "./_supervisor-helpers.ts";

cleanUpAfterEach();

describe("attachComfy", () => {
  function serve(port: number) {
    const server = Bun.serve({
      port,
      hostname: "127.0.0.1",
      fetch: (req) =>
        new URL(req.url).pathname === "/system_stats"
          ? Response.json({ devices: [] })
          : new Response(null, { status: 404 }),
    });
    cleanup.servers.push(server);
    return server;
  }

  test("follows a ComfyUI it does not own: ready, unavailable, ready again; stop() leaves it running", async () => {
    const port = await freePort();
    const server = serve(port);
    const handle = attachComfy({
      url: `http://127.0.0.1:${port}`,
      healthIntervalMs: 100,
      healthTimeoutMs: 300,
      log: memoryLogger(),
    });
    cleanup.handles.push(handle);
    await handle.start();
    expect(handle).toMatchObject({ state: "ready", supervised: false, pid: undefined, restarts: 0, generation: 1 });
    expect(handle.logs()).toHaveLength(1);
    expect(handle.logs()[0]).toContain("not supervised");

    const exited = nextExit(handle);
    const stoppedAt = Date.now();
    await server.stop(true);
    const exit = await exited;
    expect(exit.at - stoppedAt).toBeLessThan(100 + 300 + 100 + 300);
    expect(exit.reason).toBe("hang");
    expect(handle.state).toBe("restarting");

    const again = serve(port);
    await handle.waitReady(AbortSignal.timeout(3000));
    expect(handle.generation).toBe(2);
    expect(handle.restarts).toBe(0);
    await handle.stop();
    expect(handle.state).toBe("stopped");
    expect((await fetch(`http://127.0.0.1:${again.port}/system_stats`)).status).toBe(200);
  });

  test("a ComfyUI that stops listening is gone at the next probe, long before the hang timeout", async () => {
    const port = await freePort();
    const server = serve(port);
    // a hang is only called after a minute of silence; a refused connection is no hang
    const handle = attachComfy({
      url: `http://127.0.0.1:${port}`,
      healthIntervalMs: 100,
      healthTimeoutMs: 60_000,
      log: memoryLogger(),
    });
    cleanup.handles.push(handle);
    await handle.start();
    const exited = nextExit(handle);
    await server.stop(true);
    const outcome = await Promise.race([exited, Bun.sleep(10_000).then(() => "still ready" as const)]);
    expect(outcome).toMatchObject({ reason: "hang" });
    expect(handle.state).toBe("restarting");
    serve(port);
    await handle.waitReady(AbortSignal.timeout(3000));
    expect(handle.state).toBe("ready");
    await handle.stop();
  }, 20_000);

  test("start() fails with E_COMFY_START when nothing answers within the ready timeout", async () => {
    const port = await freePort();
    const handle = attachComfy({
      url: `http://127.0.0.1:${port}`,
      healthIntervalMs: 100,
      healthTimeoutMs: 300,
      readyTimeoutMs: 400,
      log: memoryLogger(),
    });
    cleanup.handles.push(handle);
    const started = Date.now();
    const error = await rejection(handle.start());
    expect(Date.now() - started).toBeLessThan(2000);
    expect(error.code).toBe("E_COMFY_START");
    expect(error.message).toContain("COMFY_URL");
    expect(handle.state).toBe("failed");
  });
});
