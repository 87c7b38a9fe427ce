import { describe, expect, test } from "bun:test";
import { inflateSync, crc32 as zlibCrc32 } from "node:zlib";
import { encodeFlac, encodeWebp } from "../../src/emulator/media.ts";
import { crc32, encodePng, gradientImage, pngSize } from "../../src/emulator/png.ts";

/** Reads PNG chunks, checking each CRC with zlib's own implementation (independent of the encoder). */
function pngChunks(bytes: Uint8Array): { type: string; data: Uint8Array; crcOk: boolean }[] {
  expect([...bytes.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const chunks = [];
  for (let offset = 8; offset < bytes.length; ) {
    const length = view.getUint32(offset);
    const type = new TextDecoder().decode(bytes.subarray(offset + 4, offset + 8));
    const data = bytes.subarray(offset + 8, offset + 8 + length);
    const crcOk = view.getUint32(offset + 8 + length) === zlibCrc32(bytes.subarray(offset + 4, offset + 8 + length));
    chunks.push({ type, data, crcOk });
    offset += 12 + length;
  }
  return chunks;
}

function crc8(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b;
    for (let i = 0; i < 8; i++) crc = (crc & 0x80 ? (crc << 1) ^ 0x07 : crc << 1) & 0xff;
  }
  return crc;
}

function crc16(bytes: Uint8Array): number {
  let crc = 0;
  for (const b of bytes) {
    crc ^= b << 8;
    for (let i = 0; i < 8; i++) crc = (crc & 0x8000 ? (crc << 1) ^ 0x8005 : crc << 1) & 0xffff;
  }
  return crc;
}

describe("PNG encoder", () => {
  test("writes a PNG whose chunks all carry correct CRCs and whose IHDR has the requested size", () => {
    const png = encodePng(gradientImage(37, 21, 3), { prompt: '{"1":{}}' });
    const chunks = pngChunks(png);
    expect(chunks.map((c) => c.type)).toEqual(["IHDR", "tEXt", "IDAT", "IEND"]);
    expect(chunks.every((c) => c.crcOk)).toBe(true);
    const [ihdr, text, idat] = chunks.map((c) => c.data);
    if (!ihdr || !text || !idat) throw new Error("missing chunks");
    const view = new DataView(ihdr.buffer, ihdr.byteOffset);
    expect([view.getUint32(0), view.getUint32(4), ihdr[8], ihdr[9]]).toEqual([37, 21, 8, 2]);
    // one filter byte plus three bytes per pixel on every row
    expect(inflateSync(idat).length).toBe(21 * (1 + 37 * 3));
    expect(new TextDecoder().decode(text)).toBe('prompt\0{"1":{}}');
    expect(pngSize(png)).toEqual({ width: 37, height: 21 });
  });

  test("stores non-Latin-1 text in an iTXt chunk", () => {
    const chunks = pngChunks(encodePng(gradientImage(2, 2, 0), { workflow: '{"title":"猫"}' }));
    expect(chunks.map((c) => c.type)).toContain("iTXt");
    expect(chunks.every((c) => c.crcOk)).toBe(true);
  });

  test("crc32 matches zlib", () => {
    const bytes = new TextEncoder().encode("comfy-worker");
    expect(crc32(bytes)).toBe(zlibCrc32(bytes));
  });

  test("pngSize rejects non-PNG bytes", () => {
    expect(pngSize(new TextEncoder().encode("GIF89a................."))).toBeUndefined();
  });
});

describe("FLAC encoder", () => {
  test("writes fLaC + STREAMINFO and frames whose CRC-8 and CRC-16 check out", () => {
    const flac = encodeFlac(0.5);
    expect(new TextDecoder().decode(flac.subarray(0, 4))).toBe("fLaC");
    const view = new DataView(flac.buffer, flac.byteOffset);
    expect(flac[4]).toBe(0x80); // last metadata block, type STREAMINFO
    expect(view.getUint32(4) & 0xffffff).toBe(34);
    const packed = view.getBigUint64(18);
    expect(Number(packed >> 44n)).toBe(44_100);
    const totalSamples = Number(packed & 0xfffffffffn);
    const frameBytes = 5 + 1 + 1 + 4096 * 2 + 2;
    const frames = (flac.length - 42) / frameBytes;
    expect(frames).toBe(totalSamples / 4096);
    for (let i = 0; i < frames; i++) {
      const frame = flac.subarray(42 + i * frameBytes, 42 + (i + 1) * frameBytes);
      expect([frame[0], frame[1]]).toEqual([0xff, 0xf8]);
      expect(frame[5]).toBe(crc8(frame.subarray(0, 5)));
      expect(new DataView(frame.buffer, frame.byteOffset).getUint16(frameBytes - 2)).toBe(crc16(frame.subarray(0, -2)));
    }
  });
});

describe("WebP encoder", () => {
  test("writes a still lossless WebP with the requested size", () => {
    const webp = encodeWebp(300, 200, [[10, 200, 30]]);
    const view = new DataView(webp.buffer, webp.byteOffset);
    expect(new TextDecoder().decode(webp.subarray(0, 4))).toBe("RIFF");
    expect(view.getUint32(4, true)).toBe(webp.length - 8);
    expect(new TextDecoder().decode(webp.subarray(8, 16))).toBe("WEBPVP8L");
    expect(webp[20]).toBe(0x2f);
    const bits = view.getUint32(21, true);
    expect([(bits & 0x3fff) + 1, ((bits >>> 14) & 0x3fff) + 1]).toEqual([300, 200]);
  });

  test("writes an animated WebP with one ANMF chunk per frame", () => {
    const webp = encodeWebp(64, 48, [
      [1, 2, 3],
      [4, 5, 6],
      [7, 8, 9],
    ]);
    const text = new TextDecoder("latin1").decode(webp);
    expect(text.slice(12, 16)).toBe("VP8X");
    expect((webp[20] ?? 0) & 0x02).toBe(0x02);
    expect(text.split("ANMF").length - 1).toBe(3);
    expect(new DataView(webp.buffer, webp.byteOffset).getUint32(4, true)).toBe(webp.length - 8);
  });
});
