import { afterAll, expect, test } from "bun:test";
import { loadConfig } from "../../src/config.ts";
import { checkJobUrl, guardedFetch } from "../../src/lib/url-guard.ts";

// two loopback servers: the first redirects to the second, which must never be reached unless allowed
const hits: string[] = [];
const inner = Bun.serve({
  port: 0,
  hostname: "127.0.0.2",
  fetch(req) {
    hits.push(new URL(req.url).pathname);
    return new Response("inner");
  },
});
const outer = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/to-inner") return Response.redirect(`http://127.0.0.2:${inner.port}/secret`, 307);
    return new Response("outer");
  },
});
afterAll(() => {
  inner.stop(true);
  outer.stop(true);
});

const web = ["http:", "https:"];
const publicLookup = async (host: string) => (host === "metadata.example" ? ["169.254.169.254"] : ["93.184.216.34"]);

test("loopback, private, link-local and metadata addresses are refused, by literal or after DNS", async () => {
  for (const url of [
    "http://127.0.0.1:8188/interrupt",
    "http://169.254.169.254/latest/meta-data/",
    "http://10.1.2.3/",
    "http://[::1]:8000/",
    "http://[fe80::1]/",
    // URL parsing turns this into [::ffff:7f00:1], which still reaches 127.0.0.1
    "http://[::ffff:127.0.0.1]:8188/interrupt",
    "http://metadata.example/",
  ]) {
    const error = await checkJobUrl(url, "webhook", { privateAllowed: [], protocols: web, lookup: publicLookup }).catch(
      (e: unknown) => e,
    );
    expect([url, error]).toMatchObject([url, { code: "E_INPUT" }]);
    expect((error as Error).message).toContain("PRIVATE_HOSTS_ALLOWED");
  }
  const ok = await checkJobUrl("https://hooks.example/x", "webhook", { privateAllowed: [], lookup: publicLookup });
  expect(ok.hostname).toBe("hooks.example");
});

test("PRIVATE_HOSTS_ALLOWED admits named hosts, addresses and CIDRs, and nothing else", async () => {
  const guard = { privateAllowed: ["minio.lan", "10.0.0.0/8", "127.0.0.1"], protocols: web, lookup: publicLookup };
  await checkJobUrl("http://10.9.8.7:9000/", "s3", guard);
  await checkJobUrl("http://127.0.0.1:9000/", "s3", guard);
  // a named host is trusted whatever it resolves to; plain http is fine for it even where https is the rule
  await checkJobUrl("http://minio.lan:9000/", "s3", { ...guard, protocols: ["https:"] });
  await expect(checkJobUrl("http://127.0.0.2/", "s3", guard)).rejects.toThrow("127.0.0.2 is a private address");
  await expect(checkJobUrl("http://192.168.1.1/", "s3", guard)).rejects.toThrow("private address");
  await expect(checkJobUrl("http://files.example/", "x", { privateAllowed: [], lookup: publicLookup })).rejects.toThrow(
    "only https URLs",
  );
});

test("every redirect target is checked before anything is sent to it", async () => {
  hits.length = 0;
  const error = await guardedFetch(
    `http://127.0.0.1:${outer.port}/to-inner`,
    { method: "POST", body: "{}" },
    "webhook",
    {
      privateAllowed: ["127.0.0.1"],
      protocols: web,
    },
  ).catch((e: unknown) => e);
  expect(error).toMatchObject({ code: "E_INPUT" });
  expect((error as Error).message).toContain("127.0.0.2");
  expect(hits).toEqual([]);
  // allowed, the same redirect is followed and the POST body re-sent (307 keeps the method)
  const res = await guardedFetch(`http://127.0.0.1:${outer.port}/to-inner`, { method: "POST", body: "{}" }, "webhook", {
    privateAllowed: ["127.0.0.0/8"],
    protocols: web,
  });
  expect(await res.text()).toBe("inner");
  expect(hits).toEqual(["/secret"]);
});

test("the request goes to the address that was checked, not to a second DNS answer", async () => {
  hits.length = 0;
  // "hooks.test" exists only in the injected lookup: a fetch that resolved the name again would fail
  const lookup = async () => ["127.0.0.2"];
  const guard = { privateAllowed: ["127.0.0.2"], protocols: web, lookup };
  const res = await guardedFetch(
    `http://hooks.test:${inner.port}/pinned`,
    { method: "POST", body: "{}" },
    "webhook",
    guard,
  );
  expect(await res.text()).toBe("inner");
  expect(hits).toEqual(["/pinned"]);
});

test("PRIVATE_HOSTS_ALLOWED is a config list; entries that are no host, address or CIDR are config errors", () => {
  expect(loadConfig({ env: {} }).PRIVATE_HOSTS_ALLOWED).toEqual([]);
  expect(
    loadConfig({ env: { PRIVATE_HOSTS_ALLOWED: "minio.lan, 10.0.0.0/8,fd00::/8" } }).PRIVATE_HOSTS_ALLOWED,
  ).toEqual(["minio.lan", "10.0.0.0/8", "fd00::/8"]);
  expect(() => loadConfig({ env: { PRIVATE_HOSTS_ALLOWED: "10.0.0.0/40" } })).toThrow(/PRIVATE_HOSTS_ALLOWED/);
  expect(() => loadConfig({ env: { PRIVATE_HOSTS_ALLOWED: "http://x/" } })).toThrow(/PRIVATE_HOSTS_ALLOWED/);
});
