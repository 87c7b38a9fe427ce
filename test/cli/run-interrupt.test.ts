import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureBinary } from "../helpers/binary.ts";
import { type FakeEndpoint, startFakeEndpoint } from "../helpers/fake-endpoint.ts";

const EXAMPLE = join(import.meta.dir, "../../examples/sd15-txt2img.json");
const dir = mkdtempSync(join(tmpdir(), "cw-run-int-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fake: FakeEndpoint;
afterEach(() => fake?.stop());

let binary: string;
// a build (when src/ is newer than the binary) can take a minute on a loaded machine: not in the test's time
beforeAll(async () => {
  binary = await ensureBinary();
}, 300_000);

test("Ctrl-C (SIGINT) on the compiled binary cancels the remote job and exits 130", async () => {
  fake = startFakeEndpoint({ apiKey: "rpa_k" });
  fake.plan = { queueMs: 60_000 };
  const ledger = join(dir, "runs.jsonl");
  const proc = Bun.spawn([binary, "run", EXAMPLE, "--endpoint", fake.id, "--out", join(dir, "out")], {
    env: {
      PATH: process.env.PATH ?? "",
      HOME: dir,
      RUNPOD_API_KEY: "rpa_k",
      RUNPOD_ENDPOINT_BASE_URL: fake.base,
      RUNS_LEDGER: ledger,
    },
    stdout: "pipe",
    stderr: "pipe",
  });
  try {
    for (let i = 0; i < 300 && fake.jobs.size === 0; i++) await Bun.sleep(50);
    expect(fake.jobs.size).toBe(1);
    proc.kill("SIGINT");
    const code = await Promise.race([proc.exited, Bun.sleep(15_000).then(() => "still running")]);
    expect(code).toBe(130);
  } finally {
    proc.kill("SIGKILL");
  }
  const [id] = [...fake.jobs.keys()];
  expect(fake.cancels).toEqual([id as string]);
  expect(fake.jobs.get(id as string)?.status).toBe("CANCELLED");
  const stderr = await new Response(proc.stderr).text();
  expect(stderr).toContain(`cancelled job ${id}`);
  expect(JSON.parse(readFileSync(ledger, "utf8"))).toMatchObject({ job_id: id, status: "CANCELLED" });
}, 120_000);
