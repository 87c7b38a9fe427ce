import { afterAll, beforeAll, expect, test } from "bun:test";
import { runCliCaptured } from "../helpers/cli.ts";
import { modelsDir, patterned, sha256, startVolumeServer, syncEnv, type VolumeServer } from "./_harness.ts";

const API_KEY = "rpa_test_key_0123456789";
const S3_SECRET = "rps_secret_value_0123456789";
let server: VolumeServer;
let rest: ReturnType<typeof Bun.serve>;
const seen: string[] = [];

// RunPod's REST API as documented: GET /endpoints/{id} (networkVolumeId, networkVolumeIds), GET /networkvolumes/{id}
const ENDPOINTS: Record<string, object> = {
  ep2: { id: "ep2", name: "flux", networkVolumeId: "vol-ro", networkVolumeIds: ["vol-ro", "vol-is"], workersMax: 3 },
  none: { id: "none", name: "bare", networkVolumeIds: [] },
  ep3: { id: "ep3", name: "one gone", networkVolumeIds: ["vol-gone", "vol-ro"] },
};
const VOLUMES: Record<string, object> = {
  "vol-ro": { id: "vol-ro", name: "models-ro", size: 100, dataCenterId: "EU-RO-1" },
  "vol-is": { id: "vol-is", name: "models-is", size: 100, dataCenterId: "EUR-IS-1" },
  // known to the REST API, but its S3 bucket is not there
  "vol-gone": { id: "vol-gone", name: "models-gone", size: 100, dataCenterId: "EU-RO-1" },
};

beforeAll(async () => {
  server = await startVolumeServer(["vol-ro", "vol-is"]);
  rest = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch(req) {
      const url = new URL(req.url);
      seen.push(url.pathname);
      if (req.headers.get("authorization") !== `Bearer ${API_KEY}`)
        return Response.json({ error: "unauthorized" }, { status: 401 });
      const [, , kind, id] = url.pathname.split("/");
      const body =
        kind === "endpoints" ? ENDPOINTS[id ?? ""] : kind === "networkvolumes" ? VOLUMES[id ?? ""] : undefined;
      return body ? Response.json(body) : Response.json({ error: "not found" }, { status: 404 });
    },
  });
});
afterAll(async () => {
  rest.stop(true);
  await server.stop();
});

const env = (extra: Record<string, string> = {}) => ({
  ...syncEnv(server),
  RUNPOD_S3_SECRET_KEY: S3_SECRET,
  RUNPOD_API_KEY: API_KEY,
  RUNPOD_REST_BASE_URL: `http://127.0.0.1:${rest.port}/v1`,
  ...extra,
});

test("--endpoint syncs to every network volume of the endpoint, one per datacenter", async () => {
  const bytes = patterned(2000, 7);
  const dir = await modelsDir({ "vae/ae.safetensors": bytes });
  const result = await runCliCaptured(
    ["sync", dir, "--endpoint", "ep2", "--endpoint-url", server.endpoint, "--json"],
    env(),
    { captureStderr: true },
  );
  expect(result.code).toBe(0);
  const report = JSON.parse(result.stdout);
  expect(report.volumes.map((v: { volume: string; datacenter: string }) => [v.volume, v.datacenter])).toEqual([
    ["vol-ro", "EU-RO-1"],
    ["vol-is", "EUR-IS-1"],
  ]);
  for (const volume of ["vol-ro", "vol-is"])
    expect(await server.head(volume, "models/vae/ae.safetensors")).toEqual({ size: 2000, sha256: sha256(bytes) });
  expect(seen).toContain("/v1/endpoints/ep2");
  expect(seen).toContain("/v1/networkvolumes/vol-is");
  expect(result.stdout + result.stderr).not.toContain(S3_SECRET);
});

test("a volume of the endpoint that cannot be synced fails alone: the others are still synced, and the exit is 4", async () => {
  const bytes = patterned(500, 9);
  const dir = await modelsDir({ "loras/one.safetensors": bytes });
  const result = await runCliCaptured(
    ["sync", dir, "--endpoint", "ep3", "--endpoint-url", server.endpoint, "--json"],
    env(),
    { captureStderr: true },
  );
  expect(result.code).toBe(4);
  const report = JSON.parse(result.stdout);
  expect(report.ok).toBe(false);
  expect(report.volumes[0]).toMatchObject({
    volume: "vol-gone",
    failed: 1,
    error: expect.stringContaining("vol-gone"),
  });
  expect(report.volumes[1]).toMatchObject({ volume: "vol-ro", failed: 0 });
  expect(await server.head("vol-ro", "models/loras/one.safetensors")).toEqual({ size: 500, sha256: sha256(bytes) });
});

test("an endpoint without volumes, an unknown endpoint and a wrong API key are errors that say what to do", async () => {
  const dir = await modelsDir({ "a.pt": "a" });
  const none = await runCliCaptured(["sync", dir, "--endpoint", "none"], env());
  expect([none.code, none.stderr]).toEqual([2, expect.stringContaining("has no network volume")]);
  const unknown = await runCliCaptured(["sync", dir, "--endpoint", "nope"], env());
  expect([unknown.code, unknown.stderr]).toEqual([2, expect.stringContaining("nope")]);
  const denied = await runCliCaptured(
    ["sync", dir, "--endpoint", "ep2"],
    env({ RUNPOD_API_KEY: "rpa_wrong_key_000000" }),
  );
  expect([denied.code, denied.stderr]).toEqual([2, expect.stringContaining("RUNPOD_API_KEY")]);
  expect(denied.stderr).not.toContain("rpa_wrong_key_000000");
});

test("usage: a volume needs its datacenter, keys are required, and --volume and --endpoint exclude each other", async () => {
  const dir = await modelsDir({ "a.pt": "a" });
  const noDc = await runCliCaptured(["sync", dir, "--volume", "vol-ro"], env());
  expect([noDc.code, noDc.stderr]).toEqual([2, expect.stringContaining("--datacenter")]);
  const both = await runCliCaptured(["sync", dir, "--volume", "v", "--endpoint", "e"], env());
  expect(both.code).toBe(2);
  const noKeys = await runCliCaptured(["sync", dir, "--volume", "vol-ro", "--datacenter", "EU-RO-1"], {
    XDG_CACHE_HOME: "/tmp",
    RUNPOD_S3_ACCESS_KEY: "",
    RUNPOD_S3_SECRET_KEY: "",
    AWS_ACCESS_KEY_ID: "",
    AWS_SECRET_ACCESS_KEY: "",
  });
  expect([noKeys.code, noKeys.stderr]).toEqual([2, expect.stringContaining("RUNPOD_S3_ACCESS_KEY")]);
  const badDc = await runCliCaptured(["sync", dir, "--volume", "vol-ro", "--datacenter", "moon base"], env());
  expect([badDc.code, badDc.stderr]).toEqual([2, expect.stringContaining("EU-RO-1")]);
});

test("usage: --endpoint-url must be an http(s) URL, and flags are checked before the keys", async () => {
  const dir = await modelsDir({ "a.pt": "a" });
  // it was a stack trace ("notaurl") or six retries of a request that could never be sent ("ftp://")
  for (const url of ["notaurl", "ftp://s3.example.com"]) {
    const bad = await runCliCaptured(["sync", dir, "--volume", "v", "--endpoint-url", url], env());
    expect([bad.code, bad.stderr.trim()]).toEqual([
      2,
      `error: --endpoint-url "${url}": expected an http(s) URL of an S3-compatible server such as https://s3.example.com; see \`comfy-worker sync --help\``,
    ]);
  }
  const noKeys = { XDG_CACHE_HOME: "/tmp", RUNPOD_S3_ACCESS_KEY: "", RUNPOD_S3_SECRET_KEY: "" };
  const noDc = await runCliCaptured(["sync", dir, "--volume", "vol-ro"], noKeys);
  expect([noDc.code, noDc.stderr]).toEqual([2, expect.stringContaining("--volume needs --datacenter")]);
});
