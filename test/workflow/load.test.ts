import { expect, test } from "bun:test";
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isWorkerError } from "../../src/errors.ts";
import { loadWorkflowFile, parseWorkflowBytes } from "../../src/workflow/load.ts";
import { concat, exifBlock, iTXt, latin1, tEXt, tinyPng, tinyWebp, zTXt } from "./_images.ts";
import { rawUi, sd15Links, sd15Nodes } from "./_ui.ts";

const CORPUS = join(import.meta.dir, "../../../shared/corpus/workflows");
const read = (name: string) => Bun.file(join(CORPUS, name)).text();
const bytes = (text: string) => new TextEncoder().encode(text);

/** The E_INPUT message `run` throws. */
function failure(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(isWorkerError(error) && error.code).toBe("E_INPUT");
    return (error as Error).message;
  }
  throw new Error("expected an error");
}

test("loads every corpus file as the format its name says, subgraphs and models metadata intact", async () => {
  const files = readdirSync(CORPUS).filter((f) => f.endsWith(".json"));
  expect(files.length).toBe(24);
  for (const file of files) {
    const loaded = await loadWorkflowFile(join(CORPUS, file));
    expect([file, loaded.format]).toEqual([file, file.startsWith("ui-") ? "ui" : "api"]);
    expect(Object.keys(loaded.api ?? {}).length + (loaded.ui?.nodes.length ?? 0)).toBeGreaterThan(2);
  }
  const zimage = await loadWorkflowFile(join(CORPUS, "ui-zimage-turbo-subgraph.json"));
  expect(zimage.ui?.definitions?.subgraphs[0]?.nodes.length).toBe(9);
  expect(zimage.ui?.definitions?.subgraphs[0]?.links[0]).toMatchObject({ id: 32, origin_id: 27, target_id: 33 });
  const flux = await loadWorkflowFile(join(CORPUS, "ui-flux-dev-unet-models.json"));
  // tuples are normalised to objects; unknown fields survive
  expect(flux.ui?.links[0]).toEqual({
    id: 9,
    origin_id: 8,
    origin_slot: 0,
    target_id: 9,
    target_slot: 0,
    type: "IMAGE",
  });
  expect(flux.ui?.nodes.find((n) => n.type === "UNETLoader")?.properties.models).toBeArray();
});

test("reads prompt and workflow from PNG tEXt, zTXt and iTXt chunks, preferring the API prompt", async () => {
  const api = await read("api-sd15-txt2img.json");
  const ui = await read("ui-hunyuan-video-i2v.json");
  const both = parseWorkflowBytes(tinyPng(tEXt("prompt", api), tEXt("workflow", ui)), "out.png");
  expect(both).toMatchObject({ file: "out.png", format: "api", container: "png" });
  expect(both.api).toEqual(JSON.parse(api));
  expect(both.ui?.nodes.length).toBe(24);
  for (const chunk of [zTXt("workflow", ui), iTXt("workflow", ui, true), iTXt("workflow", ui, false)]) {
    const loaded = parseWorkflowBytes(tinyPng(tEXt("parameters", "steps: 20"), chunk), "ui.png");
    expect(loaded.format).toBe("ui");
    expect(loaded.ui).toEqual((await loadWorkflowFile(join(CORPUS, "ui-hunyuan-video-i2v.json"))).ui as never);
  }
  // UTF-8 survives iTXt and browser exporters' UTF-8 tEXt
  const text = JSON.stringify({ "6": { class_type: "CLIPTextEncode", inputs: { text: "café ☕" } } });
  expect(parseWorkflowBytes(tinyPng(iTXt("prompt", text, false)), "x.png").api?.["6"]?.inputs.text).toBe("café ☕");
  const utf8Text = concat(latin1("prompt\0"), bytes(text));
  const { pngChunk } = await import("./_images.ts");
  expect(parseWorkflowBytes(tinyPng(pngChunk("tEXt", utf8Text)), "x.png").api?.["6"]?.inputs.text).toBe("café ☕");
});

test("reads ComfyUI's 'prompt:' / 'workflow:' EXIF strings from a WebP, either byte order", async () => {
  const api = await read("api-sd15-txt2img.json");
  const ui = await read("ui-wan21-i2v.json");
  const little = parseWorkflowBytes(tinyWebp(exifBlock([`prompt:${api}`, `workflow:${ui}`])), "a.webp");
  expect(little).toMatchObject({ format: "api", container: "webp" });
  expect(little.api).toEqual(JSON.parse(api));
  expect(little.ui?.nodes.length).toBe(14);
  const big = parseWorkflowBytes(tinyWebp(exifBlock([`workflow:${ui}`], { bigEndian: true, prefix: false })), "b.webp");
  expect(big.format).toBe("ui");
});

test("a file path is read from disk; a missing one is E_NOT_FOUND", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cw-load-"));
  try {
    const path = join(dir, "wf.png");
    writeFileSync(path, tinyPng(tEXt("prompt", await read("api-sd15-txt2img.json"))));
    expect((await loadWorkflowFile(path)).file).toBe(path);
    const missing = await loadWorkflowFile(join(dir, "nope.json")).catch((e: unknown) => e);
    expect(isWorkerError(missing) && missing.code).toBe("E_NOT_FOUND");
    expect((missing as Error).message).toContain("nope.json: no such file");
    // a folder where a workflow file goes says so, without the system's EISDIR text as a cause
    const folder = await loadWorkflowFile(dir).catch((e: unknown) => e);
    expect(isWorkerError(folder) && [folder.code, folder.message, folder.cause]).toEqual([
      "E_INPUT",
      `${dir}: is a folder; give a workflow file (.json, or a .png/.webp with the workflow embedded)`,
      undefined,
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("UTF-16 JSON with a byte order mark (PowerShell's Out-File) loads like UTF-8; other bytes are refused", () => {
  const api = { "1": { class_type: "EmptyImage", inputs: { width: 8, height: 8, batch_size: 1, color: 0 } } };
  const text = JSON.stringify(api);
  const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, "utf16le")]);
  const be = Buffer.from(le);
  be.swap16();
  for (const bytes of [le, be]) expect(parseWorkflowBytes(new Uint8Array(bytes), "wf.json").api).toEqual(api);
  // without a mark, UTF-16 is not read as text
  expect(() => parseWorkflowBytes(new Uint8Array(Buffer.from(`${text}\udc00`, "utf16le")), "wf.json")).toThrow(
    "wf.json: neither JSON text (UTF-8, or UTF-16 with a byte order mark) nor a PNG or WebP image",
  );
});

test("malformed JSON says which file, the line and column, and what was expected", () => {
  const bad = '{\n  "3": {"class_type": "KSampler",, "inputs": {}}\n}';
  expect(failure(() => parseWorkflowBytes(bytes(bad), "wf.json"))).toBe(
    "wf.json: invalid JSON at line 2, column 34: expected a quoted property name",
  );
  expect(failure(() => parseWorkflowBytes(bytes('{"nodes": [1, 2'), "cut.json"))).toBe(
    'cut.json: invalid JSON at line 1, column 16: expected "," or "]", but the text ends',
  );
  expect(failure(() => parseWorkflowBytes(bytes('{"a": "\\q"}'), "esc.json"))).toContain(
    "line 1, column 8: invalid escape",
  );
  expect(failure(() => parseWorkflowBytes(bytes('{"foo": 1}'), "x.json"))).toContain("x.json: not a ComfyUI workflow");
  expect(failure(() => parseWorkflowBytes(new Uint8Array([0xff, 0xfe, 0x00]), "bin"))).toContain("bin: neither JSON");
});

test("a UI file with a bad field names the JSON path and the node; a link from a missing node names both", () => {
  const raw = rawUi(sd15Nodes(), sd15Links());
  (raw.nodes[3] as { inputs: { link: unknown }[] }).inputs[0] = { name: "clip", type: "CLIP", link: "3" } as never;
  expect(failure(() => parseWorkflowBytes(bytes(JSON.stringify(raw)), "ui.json"))).toBe(
    'ui.json: nodes[3].inputs[0].link (node 6 CLIPTextEncode) must be a number, not text "3" (UI-format workflow)',
  );
  const dangling = rawUi(sd15Nodes(), [...sd15Links().filter((l) => l[0] !== 8), [8, 77, 2, 8, 1, "VAE"]]);
  expect(failure(() => parseWorkflowBytes(bytes(JSON.stringify(dangling)), "ui.json"))).toBe(
    'ui.json: node 8 (VAEDecode) input "vae" uses link 8 from node 77, which is not in the workflow; reconnect or delete that input in the editor',
  );
});

test("damaged images say which file, which chunk and at which byte", async () => {
  const png = tinyPng(tEXt("prompt", await read("api-sd15-txt2img.json")));
  const cut = png.subarray(0, png.length - 20);
  expect(failure(() => parseWorkflowBytes(cut, "cut.png"))).toMatch(
    /^cut\.png: truncated image: chunk IDAT of \d+ bytes at byte \d+ runs past the end \(\d+ bytes\)$/,
  );
  expect(failure(() => parseWorkflowBytes(png.subarray(0, png.length - 12), "noend.png"))).toContain("no IEND chunk");
  const corrupt = png.slice();
  corrupt[50] = (corrupt[50] ?? 0) ^ 0xff;
  expect(failure(() => parseWorkflowBytes(corrupt, "bad.png"))).toBe(
    "bad.png: PNG chunk tEXt at byte 33 is corrupt (CRC mismatch)",
  );
  expect(failure(() => parseWorkflowBytes(tinyPng(tEXt("parameters", "x")), "plain.png"))).toContain(
    'plain.png: no embedded ComfyUI workflow (expected a "prompt" or "workflow" text chunk; it has "parameters")',
  );
  expect(failure(() => parseWorkflowBytes(tinyPng(tEXt("prompt", '{"3": ')), "p.png"))).toContain(
    'p.png (embedded "prompt"): invalid JSON at line 1, column 7',
  );
  const webp = tinyWebp(exifBlock(["prompt:{}"]));
  expect(failure(() => parseWorkflowBytes(webp.subarray(0, webp.length - 4), "cut.webp"))).toContain(
    'cut.webp: truncated image: chunk "EXIF"',
  );
});
