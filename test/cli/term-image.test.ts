import { describe, expect, test } from "bun:test";
import { inflateSync } from "node:zlib";
import { encode as encodeJpeg } from "jpeg-js";
import { imageProtocol, terminalImage } from "../../src/cli/_term-image.ts";
import { itermImage } from "../../src/cli/_term-image-iterm.ts";
import { KITTY_CHUNK, kittyDelete, kittyImage } from "../../src/cli/_term-image-kitty.ts";
import { sixelImage } from "../../src/cli/_term-image-sixel.ts";
import { encodePng, gradientImage } from "../../src/emulator/png.ts";

const ESC = "\x1b";
const BEL = "\x07";

function must<T>(value: T | undefined | null): T {
  if (value === undefined || value === null) throw new Error("missing");
  return value;
}

/** Splits kitty escape codes into [control, payload] pairs; fails on anything between them. */
function kittyCodes(out: string): Array<[string, string]> {
  const codes = [...out.matchAll(new RegExp(`${ESC}_G([^;${ESC}]*);?([^${ESC}]*)${ESC}\\\\`, "g"))];
  expect(codes.map((m) => m[0]).join("")).toBe(out);
  return codes.map((m) => [m[1] ?? "", m[2] ?? ""]);
}

function rgba(width: number, height: number): Uint8Array {
  const data = new Uint8Array(width * height * 4);
  for (let i = 0; i < data.length; i++) data[i] = (i * 37) & 0xff;
  return data;
}

/** A sixel reader: the raster attributes, palette, and the pixels each band actually paints. */
function readSixel(out: string) {
  expect(out.startsWith("\x1bPq")).toBe(true);
  expect(out.endsWith("\x1b\\")).toBe(true);
  const body = out.slice(3, -2);
  const raster = /^"1;1;(\d+);(\d+)/.exec(body);
  const palette = new Map<number, [number, number, number]>();
  for (const m of body.matchAll(/#(\d+);2;(\d+);(\d+);(\d+)/g))
    palette.set(Number(m[1]), [Number(m[2]), Number(m[3]), Number(m[4])]);
  const data = body.replace(/^"[\d;]+/, "").replace(/#\d+;2;\d+;\d+;\d+/g, "");
  const bands = data.split("-");
  let width = 0;
  let height = 0;
  const painted = new Map<string, number>();
  bands.forEach((band, b) => {
    for (const run of band.split("$")) {
      const m = /^#(\d+)(.*)$/.exec(run);
      expect(m).not.toBeNull();
      let x = 0;
      for (const piece of (m?.[2] ?? "").matchAll(/!(\d+)(.)|(.)/g)) {
        const n = piece[1] ? Number(piece[1]) : 1;
        const bits = (piece[2] ?? piece[3] ?? "?").charCodeAt(0) - 63;
        expect(bits).toBeGreaterThanOrEqual(0);
        expect(bits).toBeLessThan(64);
        for (let i = 0; i < n; i++, x++) {
          for (let dy = 0; dy < 6; dy++) {
            if (!(bits & (1 << dy))) continue;
            const key = `${x},${b * 6 + dy}`;
            expect(painted.has(key)).toBe(false);
            painted.set(key, Number(m?.[1]));
            width = Math.max(width, x + 1);
            height = Math.max(height, b * 6 + dy + 1);
          }
        }
      }
    }
  });
  return {
    raster: raster ? [Number(raster[1]), Number(raster[2])] : undefined,
    palette,
    bands: bands.length,
    width,
    height,
    painted,
  };
}

describe("terminal detection", () => {
  test("kitty, iTerm2/WezTerm, sixel by what the terminal announces; nothing off a TTY or inside tmux", () => {
    expect(imageProtocol({ TERM: "xterm-kitty" }, true)).toBe("kitty");
    expect(imageProtocol({ TERM: "xterm-256color", KITTY_WINDOW_ID: "1" }, true)).toBe("kitty");
    expect(imageProtocol({ TERM_PROGRAM: "iTerm.app" }, true)).toBe("iterm2");
    expect(imageProtocol({ TERM_PROGRAM: "WezTerm" }, true)).toBe("iterm2");
    expect(imageProtocol({ TERM: "xterm-sixel" }, true)).toBe("sixel");
    expect(imageProtocol({ TERM: "xterm-256color", COMFY_WORKER_SIXEL: "1" }, true)).toBe("sixel");
    expect(imageProtocol({ TERM: "xterm-256color" }, true)).toBeUndefined();
    expect(imageProtocol({ TERM: "xterm-kitty" }, false)).toBeUndefined();
    expect(imageProtocol({ TERM: "tmux-256color", KITTY_WINDOW_ID: "1" }, true)).toBeUndefined();
    expect(imageProtocol({ TERM: "xterm-kitty", TMUX: "/tmp/tmux-0/default,1,0" }, true)).toBeUndefined();
  });
});

describe("kitty", () => {
  test("a PNG goes as f=100, base64 cut into chunks of at most 4096, m=1 on all but the last, keys only first", () => {
    const png = encodePng(gradientImage(120, 90, 1), {}, 0);
    const codes = kittyCodes(kittyImage({ format: "png", data: png }, { id: 7, rows: 9 }));
    expect(codes.length).toBe(Math.ceil(Buffer.from(png).toString("base64").length / KITTY_CHUNK));
    expect(codes.length).toBeGreaterThan(2);
    const first = Object.fromEntries(
      must(codes[0])[0]
        .split(",")
        .map((kv) => kv.split("=")),
    );
    expect(first).toMatchObject({ a: "T", f: "100", i: "7", r: "9", C: "1", q: "2", m: "1" });
    for (const [control, payload] of codes.slice(1, -1)) {
      expect(control).toBe("m=1");
      expect(payload.length).toBe(KITTY_CHUNK);
    }
    expect(must(codes.at(-1))[0]).toBe("m=0");
    expect(must(codes.at(-1))[1].length).toBeLessThanOrEqual(KITTY_CHUNK);
    expect(Buffer.from(codes.map((c) => c[1]).join(""), "base64")).toEqual(Buffer.from(png));
  });

  test("raw RGBA goes as f=32 with its size, deflated (o=z); a small image is one code with m=0", () => {
    const data = rgba(4, 3);
    const codes = kittyCodes(kittyImage({ format: "rgba", width: 4, height: 3, data }, { id: 1, rows: 5 }));
    expect(codes).toHaveLength(1);
    expect(must(codes[0])[0]).toBe("a=T,f=32,s=4,v=3,o=z,i=1,r=5,C=1,q=2,m=0");
    expect(new Uint8Array(inflateSync(Buffer.from(must(codes[0])[1], "base64")))).toEqual(new Uint8Array(data));
  });

  test("a JPEG preview is decoded to RGBA for kitty (kitty takes no JPEG); a PNG one passes as it is", () => {
    const jpeg = encodeJpeg({ width: 40, height: 30, data: rgba(40, 30) }, 90).data;
    const out = terminalImage({ mime: "image/jpeg", data: Buffer.from(jpeg).toString("base64") }, "kitty", {
      rows: 6,
      columns: 80,
      id: 2,
    });
    const codes = kittyCodes(out ?? "");
    expect(must(codes[0])[0]).toStartWith("a=T,f=32,s=40,v=30,o=z,i=2,r=6");
    const pixels = inflateSync(Buffer.from(codes.map((c) => c[1]).join(""), "base64"));
    expect(pixels.length).toBe(40 * 30 * 4);
    const png = encodePng(gradientImage(8, 8, 2));
    const passed = kittyCodes(
      terminalImage({ mime: "image/png", data: Buffer.from(png).toString("base64") }, "kitty", {
        rows: 6,
        columns: 80,
        id: 3,
      }) ?? "",
    );
    expect(must(passed[0])[0]).toStartWith("a=T,f=100,");
    expect(Buffer.from(passed.map((c) => c[1]).join(""), "base64")).toEqual(Buffer.from(png));
    expect(
      terminalImage({ mime: "image/jpeg", data: "bm90IGFuIGltYWdl" }, "kitty", { rows: 6, columns: 80, id: 4 }),
    ).toBeUndefined();
  });

  test("delete frees the image with that id, quietly", () => {
    expect(kittyDelete(3)).toBe("\x1b_Ga=d,d=I,i=3,q=2\x1b\\");
  });
});

describe("iTerm2", () => {
  test("one OSC 1337 File escape: inline, the file's size, height in rows, the file in base64, ended by BEL", () => {
    const file = new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3, 250]);
    const out = itermImage(file, 8);
    const m = new RegExp(`^${ESC}\\]1337;File=([^:]*):([A-Za-z0-9+/=]*)${BEL}$`).exec(out);
    expect(m).not.toBeNull();
    const args = Object.fromEntries((m?.[1] ?? "").split(";").map((kv) => kv.split("=")));
    expect(args).toEqual({ inline: "1", size: "7", width: "auto", height: "8", preserveAspectRatio: "1" });
    expect(new Uint8Array(Buffer.from(m?.[2] ?? "", "base64"))).toEqual(file);
  });
});

describe("sixel", () => {
  test("decodes to the image's size: one band per 6 rows, every pixel painted once, in its cube colour", () => {
    const width = 13;
    const height = 20;
    const data = new Uint8Array(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = (y * width + x) * 4;
        data.set([x < 6 ? 255 : 0, y < 10 ? 255 : 0, 51, 255], p);
      }
    }
    const image = readSixel(sixelImage({ width, height, data }));
    expect(image.raster).toEqual([13, 20]);
    expect(image.bands).toBe(4);
    expect([image.width, image.height]).toEqual([13, 20]);
    expect(image.painted.size).toBe(width * height);
    // (255, 255, 51) is register 5*36 + 5*6 + 1 = 211 = 100%, 100%, 20%
    expect(image.painted.get("0,0")).toBe(211);
    expect(image.palette.get(211)).toEqual([100, 100, 20]);
    expect(image.palette.get(image.painted.get("12,19") ?? -1)).toEqual([0, 0, 20]);
    expect(image.palette.size).toBe(4);
  });

  test("a flat image is drawn with repeat counts, and a preview is fitted into the rows it may take", () => {
    const flat = sixelImage({ width: 100, height: 6, data: new Uint8Array(100 * 6 * 4).fill(255) });
    expect(flat).toContain("#215!100~");
    const png = encodePng(gradientImage(512, 512, 3));
    const out = terminalImage({ mime: "image/png", data: Buffer.from(png).toString("base64") }, "sixel", {
      rows: 10,
      columns: 200,
      id: 1,
    });
    const image = readSixel(out ?? "");
    // 10 rows of at least 12 pixels: at most 120 pixels high, the aspect ratio kept
    expect(image.raster).toEqual([120, 120]);
    expect(image.bands).toBe(20);
  });
});
