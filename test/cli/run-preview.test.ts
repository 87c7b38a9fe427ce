import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encode as encodeJpeg } from "jpeg-js";
import { withPreviews } from "../../src/cli/_preview.ts";
import { createProgressRenderer } from "../../src/cli/_progress.ts";
import { encodePng, gradientImage } from "../../src/emulator/png.ts";
import type { JobPreview } from "../../src/jobs/previews.ts";
import { decodePng } from "../../src/previews/png-decode.ts";
import { runCliCaptured } from "../helpers/cli.ts";
import { freePort } from "../helpers/emulator.ts";

const dir = mkdtempSync(join(tmpdir(), "cw-run-preview-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const EXAMPLE = join(import.meta.dir, "../../examples/sd15-txt2img.json");
const DEMO_CONFIG = join(import.meta.dir, "../../examples/demo.yaml");
const ESC = "\x1b";

function fakeTty(rows = 40) {
  const writes: string[] = [];
  const write = ((chunk: string) => writes.push(String(chunk)) > 0) as NodeJS.WriteStream["write"];
  const stream = { isTTY: true, columns: 120, rows, write };
  return { stream, write, writes, screen: () => writes.join("") };
}

function jpegPreview(seed: number): JobPreview {
  const data = new Uint8Array(32 * 24 * 4).fill(seed);
  const jpeg = encodeJpeg({ width: 32, height: 24, data }, 80).data;
  return { node: "3", mime: "image/jpeg", data: Buffer.from(jpeg).toString("base64"), width: 32, height: 24 };
}

function pngPreview(): JobPreview {
  return { node: "3", mime: "image/png", data: Buffer.from(encodePng(gradientImage(16, 16, 1))).toString("base64") };
}

const step = { node: "3", class_type: "KSampler", value: 2, max: 6, percent: 33 };
// the first draw waits for a zero-delay timer, the next one for the draw throttle (a quarter second)
const nextDraw = () => Bun.sleep(300);

describe("run --emulate --preview", () => {
  test("saves the newest preview next to the outputs and says where (JSON lines off a terminal)", async () => {
    const out = join(dir, "local");
    const result = await runCliCaptured(
      ["run", EXAMPLE, "--emulate", "--config", DEMO_CONFIG, "--out", out, "--set", "3.steps=6", "--preview", "--json"],
      { COMFY_PORT: String(await freePort()), COMFY_ARGS: "--node-ms 300" },
      { captureStderr: true },
    );
    expect(result.code).toBe(0);
    const path = join(out, "sd15-txt2img.preview.png");
    const events = result.stderr
      .split("\n")
      .filter((line) => line.startsWith("{"))
      .map((line) => JSON.parse(line));
    expect(events).toContainEqual({ event: "preview", path, node: "3" });
    expect(JSON.parse(result.stdout)).toMatchObject({
      preview: path,
      saved: [join(out, "demo", "lighthouse_00001_.png")],
    });
    // a whole image, and no temp file left behind
    expect(decodePng(readFileSync(path))?.width).toBeGreaterThan(0);
    expect(readdirSync(out).sort()).toEqual(["demo", "sd15-txt2img.preview.png"]);
  }, 60_000);

  test("without --preview no previews are asked for and no preview file is written", async () => {
    const out = join(dir, "plain");
    const result = await runCliCaptured(
      ["run", EXAMPLE, "--emulate", "--config", DEMO_CONFIG, "--out", out, "--set", "3.steps=6", "--json"],
      { COMFY_PORT: String(await freePort()), COMFY_ARGS: "--node-ms 300" },
      { captureStderr: true },
    );
    expect(result.code).toBe(0);
    expect(result.stderr).not.toContain('"event":"preview"');
    expect(existsSync(join(out, "sd15-txt2img.preview.png"))).toBe(false);
    expect(JSON.parse(result.stdout).preview).toBeUndefined();
  }, 60_000);

  test("--preview-fps and --preview-px out of range are refused before anything runs", async () => {
    const result = await runCliCaptured(
      ["run", EXAMPLE, "--emulate", "--preview-fps", "0"],
      {},
      { captureStderr: true },
    );
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("--preview-fps must be a number from 0.1 to 30");
  });
});

// a preview view on a fake terminal whose environment is `env`, saving under dir/<name>
function terminalView(name: string, env: Record<string, string>, workflowPath = "flow.json") {
  const tty = fakeTty();
  const out = join(dir, name);
  const view = withPreviews(createProgressRenderer(tty.stream, true), {
    outDir: out,
    workflowPath,
    stream: tty.stream,
    env,
  });
  return { tty, out, view };
}

describe("the preview view on a terminal", () => {
  test("kitty: the image is drawn above the live line, in place while nothing else is printed", async () => {
    const { tty, out, view } = terminalView("kitty", { TERM: "xterm-kitty" }, "/w/flow.json");
    view.progress(step);
    view.preview(jpegPreview(10));
    await nextDraw();
    await view.settled();
    let screen = tty.screen();
    // 16 rows kept free (40% of 40), the cursor saved on the live line, the image from the box's top
    const first = screen.indexOf(`${"\n".repeat(16)}\r${ESC}7${ESC}[16A\r${ESC}_Ga=T,f=32,s=32,v=24,o=z,i=1,r=16,`);
    expect(first).toBeGreaterThan(0);
    // ...and the live line comes back after it
    expect(screen.slice(first)).toContain(`${ESC}8\r${ESC}[2KKSampler (node 3)`);
    expect(readFileSync(join(out, "flow.preview.jpg")).length).toBeGreaterThan(0);

    view.preview(jpegPreview(20));
    await nextDraw();
    screen = tty.screen().slice(screen.indexOf(`${ESC}8`, first));
    // the same box: the old image deleted and the new one drawn with the same id, no new rows
    expect(screen).toContain(`${ESC}_Ga=d,d=I,i=1,q=2${ESC}\\${ESC}7${ESC}[16A\r${ESC}_Ga=T,f=32,s=32,v=24,o=z,i=1,`);
    expect(screen).not.toContain("\n");

    // a log line went out between the box and the live line: the next image opens a new box below it
    tty.stream.write("WARN something happened\n");
    view.preview(jpegPreview(30));
    await nextDraw();
    expect(tty.screen()).toContain(`${"\n".repeat(16)}\r${ESC}7${ESC}[16A\r${ESC}_Ga=T,f=32,s=32,v=24,o=z,i=2,`);
    view.done();
    // the stream is plain again
    tty.stream.write("after\n");
    expect(tty.writes.at(-1)).toBe("after\n");
  });

  test("iTerm2 gets the preview file itself", async () => {
    const { tty, view } = terminalView("iterm", { TERM_PROGRAM: "iTerm.app" });
    const preview = jpegPreview(40);
    view.preview(preview);
    await nextDraw();
    view.done();
    expect(tty.screen()).toContain(
      `${ESC}]1337;File=inline=1;size=${Buffer.from(preview.data, "base64").length};width=auto;height=16;preserveAspectRatio=1:${preview.data}\x07`,
    );
  });

  test("a terminal without images gets the path, once, and again when it changes", async () => {
    const { tty, out, view } = terminalView("plain-tty", { TERM: "xterm-256color" });
    view.progress(step);
    for (const preview of [jpegPreview(1), jpegPreview(2), pngPreview(), pngPreview()]) {
      view.preview(preview);
      await view.settled();
    }
    view.done();
    const notes = tty.screen().match(/live preview: [^\n]*/g);
    expect(notes).toEqual([
      `live preview: ${join(out, "flow.preview.jpg")}`,
      `live preview: ${join(out, "flow.preview.png")}`,
    ]);
    expect(tty.screen()).not.toContain(`${ESC}_G`);
  });

  test("off a terminal: a preview event at most once a second, the file replaced whole each time", async () => {
    const tty = fakeTty();
    const out = join(dir, "json");
    const stream = { write: tty.write };
    const view = withPreviews(createProgressRenderer(stream, false), {
      outDir: out,
      workflowPath: "f.json",
      stream,
      env: {},
    });
    view.preview(jpegPreview(1));
    await view.settled();
    const last = jpegPreview(99);
    view.preview(last);
    await view.settled();
    view.done();
    expect(tty.writes.map((w) => JSON.parse(w))).toEqual([
      { event: "preview", path: join(out, "f.preview.jpg"), node: "3" },
    ]);
    expect(readFileSync(join(out, "f.preview.jpg")).toString("base64")).toBe(last.data);
    expect(readdirSync(out)).toEqual(["f.preview.jpg"]);
  });
});
