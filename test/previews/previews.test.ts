import { describe, expect, test } from "bun:test";
import { decode as decodeJpeg, encode as encodeJpeg } from "jpeg-js";
import { encodePng, gradientImage } from "../../src/emulator/png.ts";
import { fitPreview } from "../../src/previews/fit.ts";
import { encodePreviewMessage, parsePreviewFrame } from "../../src/previews/frames.ts";
import { decodePng } from "../../src/previews/png-decode.ts";
import { PreviewThrottle } from "../../src/previews/throttle.ts";

function u32(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n);
  return out;
}

function jpeg(side: number): Uint8Array {
  const data = new Uint8Array(side * side * 4);
  for (let i = 0; i < side * side; i++) {
    data.set([(i % side) & 255, (i / side) & 255, (i * 7) & 255, 255], i * 4);
  }
  return new Uint8Array(encodeJpeg({ width: side, height: side, data }, 95).data);
}

describe("ComfyUI's binary preview messages", () => {
  test("PREVIEW_IMAGE (1) with its JPEG/PNG type, and PREVIEW_IMAGE_WITH_METADATA (4) with prompt and node", () => {
    const image = new Uint8Array([9, 8, 7]);
    expect(parsePreviewFrame(Buffer.concat([u32(1), u32(1), image]))).toEqual({ mime: "image/jpeg", image });
    expect(parsePreviewFrame(Buffer.concat([u32(1), u32(2), image]))).toEqual({ mime: "image/png", image });
    const meta = new TextEncoder().encode(JSON.stringify({ prompt_id: "p1", node_id: "3", image_type: "image/png" }));
    expect(parsePreviewFrame(Buffer.concat([u32(4), u32(meta.length), meta, image]))).toEqual({
      mime: "image/png",
      image,
      promptId: "p1",
      nodeId: "3",
    });
    // TEXT (3), a bad image type, a metadata length past the end, and short frames are not previews
    expect(parsePreviewFrame(Buffer.concat([u32(3), u32(1), image]))).toBeUndefined();
    expect(parsePreviewFrame(Buffer.concat([u32(1), u32(7), image]))).toBeUndefined();
    expect(parsePreviewFrame(Buffer.concat([u32(4), u32(999), image]))).toBeUndefined();
    expect(parsePreviewFrame(new Uint8Array(5))).toBeUndefined();
  });

  test("encodePreviewMessage is what parsePreviewFrame reads", () => {
    const image = jpeg(16);
    expect(parsePreviewFrame(encodePreviewMessage({ mime: "image/jpeg", image }))).toEqual({
      mime: "image/jpeg",
      image,
    });
  });
});

describe("fitting a preview into its budget", () => {
  test("a PNG decodes to the pixels it was made from", () => {
    const pixels = gradientImage(37, 21, 3);
    const decoded = decodePng(encodePng(pixels, {}, 1));
    expect(decoded?.width).toBe(37);
    expect(decoded?.height).toBe(21);
    expect(decoded?.data.length).toBe(37 * 21 * 4);
  });

  test("a frame that already fits passes untouched", () => {
    const image = jpeg(64);
    expect(fitPreview({ mime: "image/jpeg", image }, 512, 1_000_000)).toMatchObject({
      mime: "image/jpeg",
      data: image,
      width: 64,
      height: 64,
    });
  });

  test("a large JPEG is downscaled to max_px and re-encoded under the byte budget", () => {
    const image = jpeg(768);
    const fitted = fitPreview({ mime: "image/jpeg", image }, 256, 40_000);
    expect(fitted?.mime).toBe("image/jpeg");
    expect(fitted?.data.length).toBeLessThanOrEqual(40_000);
    const back = decodeJpeg(fitted?.data ?? new Uint8Array(), { useTArray: true });
    expect([back.width, back.height]).toEqual([256, 256]);
  });

  test("a PNG preview (the emulator's) is downscaled to JPEG; an undecodable oversized frame is dropped", () => {
    const png = encodePng(gradientImage(300, 150, 1), {}, 1);
    const fitted = fitPreview({ mime: "image/png", image: png }, 100, 100_000);
    expect(fitted).toMatchObject({ mime: "image/jpeg", width: 100, height: 50 });
    expect(fitPreview({ mime: "image/jpeg", image: new Uint8Array(5000).fill(1) }, 100, 1000)).toBeUndefined();
    expect(fitPreview({ mime: "image/jpeg", image: new Uint8Array(10).fill(1) }, 100, 1000)).toMatchObject({
      data: new Uint8Array(10).fill(1),
    });
  });
});

describe("PreviewThrottle", () => {
  test("a slow consumer gets the first and then only the newest frame; nothing queues behind it", async () => {
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => (release = resolve));
    const got: number[] = [];
    const throttle = new PreviewThrottle<number>(1000, async (n) => {
      got.push(n);
      if (n === 0) await gate;
    });
    throttle.push(0);
    for (let i = 0; i < 10 && got.length === 0; i++) await Bun.sleep(5);
    for (let n = 1; n <= 50; n++) throttle.push(n);
    release();
    for (let i = 0; i < 100 && got.length < 2; i++) await Bun.sleep(5);
    expect(got).toEqual([0, 50]);
    expect(throttle.dropped).toBe(49);
    throttle.close();
  });

  test("max_fps bounds deliveries: a burst delivers only its newest frame, the next waits for the interval", async () => {
    const got: number[] = [];
    const throttle = new PreviewThrottle<number>(2, (n) => void got.push(n));
    for (let n = 1; n <= 20; n++) throttle.push(n);
    for (let i = 0; i < 20 && got.length === 0; i++) await Bun.sleep(5);
    expect(got).toEqual([20]);
    throttle.push(21);
    // the next delivery is due 500 ms after the first; closing now drops what waits
    throttle.close();
    expect(got).toEqual([20]);
    expect(throttle.dropped).toBe(20);
  });
});
