import { describe, expect, test } from "bun:test";
import { type ComfyClient, createComfyClient, transportOf } from "../../src/comfy/client.ts";
import { healthOf, type PromptEvent, runPrompt } from "../../src/comfy/run-prompt.ts";
import type { ApiWorkflow } from "../../src/comfy/schemas.ts";
import { isWorkerError, WorkerError } from "../../src/errors.ts";
import { addModel, type SpawnedEmulator, sd15Workflow, spawnEmulator } from "../helpers/emulator.ts";

// generous next to what each scenario needs, so a regression shows up as a failure, not a hung suite
const TEST_TIMEOUT_MS = 15_000;

async function withEmulator(args: string[], body: (emu: SpawnedEmulator, client: ComfyClient) => Promise<void>) {
  const emu = await spawnEmulator({ args });
  try {
    await addModel(emu.base, "checkpoints", "dreamshaper_8.safetensors");
    await body(emu, createComfyClient({ url: emu.url, timeoutMs: 5_000 }));
  } finally {
    await emu.stop(1_000);
  }
}

function sd15(): ApiWorkflow {
  return sd15Workflow() as ApiWorkflow;
}

/** Two nodes, no sampler: nothing is sent on the socket while a node runs. */
function latentOnly(): ApiWorkflow {
  return {
    "1": { class_type: "EmptyLatentImage", inputs: { width: 64, height: 64, batch_size: 1 } },
    "2": { class_type: "SaveLatent", inputs: { samples: ["1", 0], filename_prefix: "latents/test" } },
  };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error("expected a rejection");
    },
    (error: unknown) => error,
  );
}

function codeOf(error: unknown): string | undefined {
  return isWorkerError(error) ? error.code : undefined;
}

describe("runPrompt completes", () => {
  test(
    "success: queued first, node events in execution order, outputs in the entry (binary previews ignored)",
    () =>
      withEmulator(["--previews"], async (_emu, client) => {
        const events: PromptEvent[] = [];
        const result = await runPrompt(client, sd15(), { onEvent: (e) => events.push(e) });
        expect(result.status).toBe("success");
        expect(events[0]).toEqual({ type: "queued", promptId: result.promptId, nodeErrors: {} });
        const executing = events.flatMap((e) => (e.type === "executing" ? [e.node] : []));
        expect(executing).toEqual(["4", "6", "7", "5", "3", "8", "9"]);
        const kinds = events.map((e) => (e.type === "executing" ? `executing:${e.node}` : e.type));
        const progress = events.flatMap((e) => (e.type === "progress" ? [e] : []));
        expect(progress.length).toBeGreaterThan(0);
        expect(progress.at(-1)?.percent).toBe(100);
        expect(kinds.indexOf("progress")).toBeGreaterThan(kinds.indexOf("executing:3"));
        expect(kinds.lastIndexOf("progress")).toBeLessThan(kinds.indexOf("executing:8"));
        expect(kinds.at(-1)).toBe("executed");
        const images = result.entry.outputs["9"]?.images as { filename: string; type: string }[];
        expect(images[0]).toMatchObject({ type: "output" });
        expect(result.error).toBeUndefined();
        expect(result.startedAt).toBeGreaterThanOrEqual(result.queuedAt);
        expect(result.finishedAt).toBeGreaterThanOrEqual(result.startedAt ?? 0);
        expect(
          codeOf(await rejection(runPrompt(client, { ...sd15(), "30": { class_type: "NoSuchNode", inputs: {} } }))),
        ).toBe("E_UNKNOWN_NODE");
      }),
    TEST_TIMEOUT_MS,
  );

  test(
    "--fail-node: resolves with status error and the execution_error data",
    () =>
      withEmulator(["--fail-node", "KSampler"], async (_emu, client) => {
        const result = await runPrompt(client, sd15());
        expect(result.status).toBe("error");
        expect(result.entry.status?.status_str).toBe("error");
        expect(result.error).toMatchObject({ node_type: "KSampler", node_id: "3" });
        expect(result.error?.exception_type).not.toBe("");
        expect(result.error?.exception_message).toContain("KSampler");
      }),
    TEST_TIMEOUT_MS,
  );

  test(
    "--drop-ws-ms: still completes through reconnect and /history polling",
    () =>
      withEmulator(["--drop-ws-ms", "150", "--node-ms", "100"], async (emu, client) => {
        const result = await runPrompt(client, sd15(), { pollIntervalMs: 200 });
        expect(result.status).toBe("success");
        expect(result.entry.outputs["9"]).toBeDefined();
        expect(emu.stderr()).toContain("dropping every websocket");
      }),
    TEST_TIMEOUT_MS,
  );

  test(
    "a long node with a silent socket is not mistaken for a hang",
    () =>
      withEmulator(["--node-ms", "1500"], async (_emu, client) => {
        const result = await runPrompt(client, latentOnly(), { stallMs: 600 });
        expect(result.status).toBe("success");
      }),
    TEST_TIMEOUT_MS,
  );
});

describe("runPrompt cancels", () => {
  test(
    "abort while running: interrupts in ComfyUI, then rejects with the caller's reason",
    () =>
      withEmulator(["--node-ms", "400"], async (_emu, client) => {
        const controller = new AbortController();
        const reason = new WorkerError("E_JOB_CANCELLED", "cancelled by the test");
        const promptId = crypto.randomUUID();
        const onEvent = (e: PromptEvent) => e.type === "executing" && controller.abort(reason);
        const started = performance.now();
        const error = await rejection(runPrompt(client, sd15(), { promptId, signal: controller.signal, onEvent }));
        expect(error).toBe(reason);
        expect(performance.now() - started).toBeLessThan(3_000);
        const entry = await client.history(promptId);
        expect(entry?.status?.messages.map(([name]) => name)).toContain("execution_interrupted");
      }),
    TEST_TIMEOUT_MS,
  );

  test(
    "abort while pending: deletes it from the queue, never runs it",
    () =>
      withEmulator(["--node-ms", "400"], async (_emu, client) => {
        const first = new AbortController();
        const second = new AbortController();
        let firstRunning!: () => void;
        const running = new Promise<void>((resolve) => (firstRunning = resolve));
        const a = runPrompt(client, sd15(), {
          signal: first.signal,
          onEvent: (e) => e.type === "executing" && firstRunning(),
        });
        await running;
        let secondQueued!: () => void;
        const queued = new Promise<void>((resolve) => (secondQueued = resolve));
        const promptId = crypto.randomUUID();
        const b = runPrompt(client, sd15(), {
          promptId,
          signal: second.signal,
          onEvent: (e) => e.type === "queued" && secondQueued(),
        });
        await queued;
        expect((await client.queue()).pending).toEqual([promptId]);
        const reason = new WorkerError("E_JOB_TIMEOUT", "too slow");
        second.abort(reason);
        expect(await rejection(b)).toBe(reason);
        expect((await client.queue()).pending).toEqual([]);
        first.abort(new Error("done"));
        await rejection(a);
        expect(await client.history(promptId)).toBeUndefined();
      }),
    TEST_TIMEOUT_MS,
  );

  test("an already aborted signal rejects before anything is queued", async () => {
    const reason = new Error("too late");
    const client = createComfyClient({ url: "http://127.0.0.1:9" });
    expect(await rejection(runPrompt(client, sd15(), { signal: AbortSignal.abort(reason) }))).toBe(reason);
  });
});

describe("runPrompt never hangs", () => {
  test(
    "--exit-after 1: ComfyUI dies mid-prompt → E_COMFY_UNAVAILABLE within a few seconds",
    () =>
      withEmulator(["--exit-after", "1", "--node-ms", "200"], async (emu, client) => {
        const started = performance.now();
        const error = await rejection(runPrompt(client, sd15(), { pollIntervalMs: 250 }));
        expect(codeOf(error)).toBe("E_COMFY_UNAVAILABLE");
        expect(transportOf(error)).toBe("refused");
        expect(performance.now() - started).toBeLessThan(4_000);
        expect(await emu.proc.exited).toBe(1);
      }),
    TEST_TIMEOUT_MS,
  );

  test(
    "--hang-after 1: no answers at all → E_COMFY_UNAVAILABLE once stallMs has passed",
    () =>
      withEmulator(["--hang-after", "1", "--node-ms", "200"], async (_emu, client) => {
        const started = performance.now();
        const error = await rejection(runPrompt(client, sd15(), { stallMs: 1_000, pollIntervalMs: 250 }));
        const elapsed = performance.now() - started;
        expect(codeOf(error)).toBe("E_COMFY_UNAVAILABLE");
        expect(transportOf(error)).toBe("timeout");
        expect(elapsed).toBeGreaterThan(1_000);
        expect(elapsed).toBeLessThan(4_000);
      }),
    TEST_TIMEOUT_MS,
  );

  test(
    "a health reason rejects at once with E_COMFY_DIED",
    () =>
      withEmulator(["--node-ms", "300"], async (_emu, client) => {
        let diedAt = 0;
        const health = () => (diedAt ? "ComfyUI exited (signal SIGKILL)" : undefined);
        const onEvent = (e: PromptEvent) => {
          if (e.type === "executing" && !diedAt) diedAt = performance.now();
        };
        const error = await rejection(runPrompt(client, sd15(), { health, onEvent }));
        expect(codeOf(error)).toBe("E_COMFY_DIED");
        expect((error as Error).message).toContain("SIGKILL");
        expect(performance.now() - diedAt).toBeLessThan(500);
      }),
    TEST_TIMEOUT_MS,
  );
});

describe("healthOf", () => {
  test("is quiet while the same ComfyUI is up, and names the exit once it is gone", () => {
    const comfy: Parameters<typeof healthOf>[0] = { state: "ready", generation: 1, lastExit: undefined };
    const health = healthOf(comfy);
    expect(health()).toBeUndefined();
    Object.assign(comfy, { state: "restarting", lastExit: { reason: "exit", code: 137, signal: null, lastLines: [] } });
    expect(health()).toBe("ComfyUI is restarting (last exit: exit 137)");
  });

  test("a restarted ComfyUI (new generation) has lost the prompt", () => {
    const comfy = { state: "ready" as const, generation: 1, lastExit: undefined };
    const health = healthOf(comfy);
    comfy.generation = 2;
    expect(health()).toBe("ComfyUI restarted");
  });
});
