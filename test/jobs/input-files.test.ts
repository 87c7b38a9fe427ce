import { afterAll, expect, test } from "bun:test";
import { decodeBase64, decodeJobFile, safeInputName } from "../../src/jobs/input-files.ts";

const PNG_BYTES = Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 1, 2, 3]);
const B64 = Buffer.from(PNG_BYTES).toString("base64");

// a local server stands in for a public host; the injected lookup says the host is public
const server = Bun.serve({
  port: 0,
  hostname: "127.0.0.1",
  fetch(req) {
    const path = new URL(req.url).pathname;
    if (path === "/img.png") return new Response(PNG_BYTES);
    if (path === "/redirect-private") return Response.redirect("https://internal.example/secret", 302);
    if (path === "/big") return new Response(new Uint8Array(2048));
    return new Response("nope", { status: 404 });
  },
});
afterAll(() => server.stop(true));

const publicLookup = async (host: string) => (host === "internal.example" ? ["10.0.0.5"] : ["93.184.216.34"]);
// route every https URL to the local server over http, so no test leaves the machine
const localFetch = ((url: string | URL | Request, init?: RequestInit) => {
  const target = new URL(String(url));
  return fetch(`http://127.0.0.1:${server.port}${target.pathname}`, init);
}) as typeof fetch;
const options = {
  allowHosts: ["huggingface.co", "files.example"],
  maxBytes: 1024,
  lookup: publicLookup,
  fetch: localFetch,
};

test("accepts names with subfolders inside the input folder", () => {
  expect(safeInputName("in.png")).toEqual({ subfolder: "", filename: "in.png" });
  expect(safeInputName("masks/a/b.png")).toEqual({ subfolder: "masks/a", filename: "b.png" });
  expect(safeInputName("./x//y.png")).toEqual({ subfolder: "x", filename: "y.png" });
});

test("refuses names that could escape the input folder", () => {
  for (const name of [
    "../x.png",
    "a/../../x.png",
    "/etc/passwd",
    "C:/x.png",
    "a\\b.png",
    "x\u0000.png",
    "dir/",
    "x.png [output]",
  ]) {
    expect(() => safeInputName(name)).toThrow(/images\[\]\.name/);
  }
});

test("decodes raw base64, base64url and data URIs", async () => {
  expect(decodeBase64(B64, "x")).toEqual(Buffer.from(PNG_BYTES));
  expect(decodeBase64(Buffer.from(PNG_BYTES).toString("base64url"), "x")).toEqual(Buffer.from(PNG_BYTES));
  const file = await decodeJobFile({ name: "in.png", image: `data:image/png;base64,${B64}` }, options);
  expect(file).toEqual({ subfolder: "", filename: "in.png", bytes: Buffer.from(PNG_BYTES) });
});

test("refuses malformed base64 with a message naming the file", async () => {
  for (const image of ["not base64!", "abcde", "data:image/png,rawdata", "=="]) {
    await expect(decodeJobFile({ name: "in.png", image }, options)).rejects.toThrow(/in\.png/);
  }
});

test("downloads https URLs from allowed hosts", async () => {
  const file = await decodeJobFile({ name: "in.png", image: "https://files.example/img.png" }, options);
  expect(file.bytes).toEqual(Buffer.from(PNG_BYTES));
});

test("refuses hosts outside DOWNLOAD_ALLOW_HOSTS, plain http, credentials and private addresses", async () => {
  await expect(decodeJobFile({ name: "a.png", image: "https://evil.example/img.png" }, options)).rejects.toThrow(
    "not in DOWNLOAD_ALLOW_HOSTS",
  );
  await expect(decodeJobFile({ name: "a.png", image: "http://files.example/img.png" }, options)).rejects.toThrow(
    "only https",
  );
  await expect(decodeJobFile({ name: "a.png", image: "https://u:p@files.example/img.png" }, options)).rejects.toThrow(
    "credentials",
  );
  const privateLookup = async () => ["127.0.0.1"];
  await expect(
    decodeJobFile({ name: "a.png", image: "https://files.example/img.png" }, { ...options, lookup: privateLookup }),
  ).rejects.toThrow("private address 127.0.0.1");
});

test("re-checks every redirect target", async () => {
  const allowAll = { ...options, allowHosts: ["files.example", "internal.example"] };
  await expect(
    decodeJobFile({ name: "a.png", image: "https://files.example/redirect-private" }, allowAll),
  ).rejects.toThrow("private address 10.0.0.5");
});

test("a private host named in PRIVATE_HOSTS_ALLOWED serves input files; other private addresses stay refused", async () => {
  const lanLookup = async () => ["10.0.0.5"];
  const lan = { ...options, lookup: lanLookup };
  const image = "https://files.example/img.png";
  await expect(decodeJobFile({ name: "a.png", image }, lan)).rejects.toThrow("private address 10.0.0.5");
  const file = await decodeJobFile({ name: "a.png", image }, { ...lan, privateAllowed: ["10.0.0.0/24"] });
  expect(file.bytes).toEqual(Buffer.from(PNG_BYTES));
  await expect(decodeJobFile({ name: "a.png", image }, { ...lan, privateAllowed: ["10.0.1.0/24"] })).rejects.toThrow(
    "private address 10.0.0.5",
  );
});

test("refuses files over the size limit", async () => {
  await expect(decodeJobFile({ name: "a.bin", image: "https://files.example/big" }, options)).rejects.toThrow(
    "over the 1.0 KiB limit",
  );
  const big = Buffer.alloc(2048).toString("base64");
  await expect(decodeJobFile({ name: "a.bin", image: big }, options)).rejects.toThrow("over the");
});
