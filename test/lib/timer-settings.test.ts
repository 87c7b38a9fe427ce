import { afterEach, expect, test } from "bun:test";
import { watchHealth } from "../../src/comfy/_probe.ts";
import { loadConfig } from "../../src/config.ts";
import { isWorkerError } from "../../src/errors.ts";
import { delay, MAX_TIMER_MS, secondsToTimerMs, settlesWithin, timerMs } from "../../src/lib/time.ts";
import { createRunpodClient } from "../../src/runpod/client.ts";
import { startHeartbeat } from "../../src/runpod/heartbeat.ts";
import { resolveRunpodUrls } from "../../src/runpod/urls.ts";
import { type FakeRunpod, startFakeRunpod } from "../helpers/fake-runpod.ts";
import { testLog } from "../runpod/_helpers.ts";

// SPEC §3: platform-set timer values are clamped with a warning, never fatal; no duration overflows a timer

let fake: FakeRunpod | undefined;
const servers: Array<{ stop: (force?: boolean) => unknown }> = [];
afterEach(async () => {
  await fake?.close();
  fake = undefined;
  for (const server of servers.splice(0)) await server.stop(true);
});

function configError(env: Record<string, string>): string {
  try {
    loadConfig({ env });
  } catch (error) {
    if (isWorkerError(error) && error.code === "E_CONFIG") return error.message;
    throw error;
  }
  throw new Error(`expected E_CONFIG for ${JSON.stringify(env)}`);
}

test.each([
  ["500", 1_000, "outside"],
  ["0", 1_000, "outside"],
  ["-5", 1_000, "outside"],
  ["4294967295", 300_000, "outside"],
  ["every ten seconds", 10_000, "not a number"],
  ["1e400", 10_000, "not a number"],
])("RUNPOD_PING_INTERVAL=%p is clamped to %p with a warning, never an error", (given, expected, why) => {
  const config = loadConfig({ env: { RUNPOD_PING_INTERVAL: given } });
  expect(config.RUNPOD_PING_INTERVAL).toBe(expected);
  expect(config.warnings).toHaveLength(1);
  expect(config.warnings[0]).toContain("RUNPOD_PING_INTERVAL");
  expect(config.warnings[0]).toContain(why);
  expect(config.warnings[0]).toContain(`using ${expected}`);
});

test("an in-range RUNPOD_PING_INTERVAL is kept as given, without a warning", () => {
  const config = loadConfig({ env: { RUNPOD_PING_INTERVAL: "2500" } });
  expect(config.RUNPOD_PING_INTERVAL).toBe(2_500);
  expect(config.warnings).toEqual([]);
});

test("user duration settings have maximums named in the error (exit 2), and accept values up to them", () => {
  expect(configError({ JOB_TIMEOUT_S: "4294968" })).toContain("JOB_TIMEOUT_S");
  expect(configError({ COMFY_HEALTH_INTERVAL_S: "1e12" })).toContain("COMFY_HEALTH_INTERVAL_S");
  expect(configError({ SHUTDOWN_GRACE_S: "Infinity" })).toContain("SHUTDOWN_GRACE_S");
  expect(configError({ FAILED_EXIT_GRACE_S: "-1" })).toContain("FAILED_EXIT_GRACE_S");
  const config = loadConfig({
    env: { JOB_TIMEOUT_S: "604800", RESULT_TTL_S: "604800", COMFY_READY_TIMEOUT_S: "86400" },
  });
  for (const seconds of [config.JOB_TIMEOUT_S, config.RESULT_TTL_S, config.COMFY_READY_TIMEOUT_S])
    expect(secondsToTimerMs(seconds)).toBeLessThanOrEqual(MAX_TIMER_MS);
});

test("timerMs: NaN and negatives are 0, huge and infinite values are capped at 2^31-1 ms", () => {
  expect([Number.NaN, -1, 0, 0.2, 1500].map(timerMs)).toEqual([0, 0, 0, 1, 1500]);
  expect(timerMs(4_294_967_295)).toBe(MAX_TIMER_MS);
  expect(timerMs(Number.POSITIVE_INFINITY)).toBe(MAX_TIMER_MS);
  expect(secondsToTimerMs(4_294_968)).toBe(MAX_TIMER_MS);
});

test("a delay or deadline longer than a timer can hold waits instead of firing at once", async () => {
  // unclamped, setTimeout(fn, 2^32) fires after 1 ms
  expect(await settlesWithin(delay(4_294_967_295), 100)).toBe(false);
  expect(await settlesWithin(delay(4_294_968_000), 100)).toBe(false);
});

test("a 4294967295 ms heartbeat interval sends one ping, not hundreds a second", async () => {
  fake = startFakeRunpod();
  const config = loadConfig({ env: fake.env() });
  const urls = resolveRunpodUrls(config, fake.workerId);
  const client = createRunpodClient({ urls, apiKey: fake.apiKey, log: testLog });
  const heartbeat = startHeartbeat({ client, intervalMs: 4_294_967_295, jobIds: () => [], log: testLog });
  await fake.waitFor(() => fake?.of("ping").length === 1, "the first ping");
  await Bun.sleep(300);
  await heartbeat.stop();
  expect(fake.of("ping")).toHaveLength(1);
});

test("a huge health interval probes a running ComfyUI rarely, not in a busy loop", async () => {
  let probes = 0;
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => {
      probes++;
      return Response.json({});
    },
  });
  servers.push(server);
  const stop = new AbortController();
  const watch = watchHealth({
    url: `http://127.0.0.1:${server.port}`,
    intervalMs: 1e12,
    timeoutMs: 1e12,
    ended: new Promise(() => undefined),
    signal: stop.signal,
  });
  await Bun.sleep(300);
  stop.abort();
  expect(await watch).toBe("aborted");
  expect(probes).toBe(0);
});
