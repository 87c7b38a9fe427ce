import { nodeZlib } from "../lib/lazy-modules.ts";

/** An image as the kitty graphics protocol takes it: PNG as is (f=100), or raw RGBA pixels (f=32). */
export type KittyImage =
  | { format: "png"; data: Uint8Array }
  | { format: "rgba"; width: number; height: number; data: Uint8Array };

export interface KittyPlacement {
  /** Image id (1…2^32-1): drawing the same id again first deletes the one drawn before. */
  id: number;
  /** Text rows the image is scaled to (its width follows from the aspect ratio). */
  rows: number;
}

/** The protocol's limit for the base64 payload of one escape code. */
export const KITTY_CHUNK = 4096;

/**
 * The escape codes that draw `image` at the cursor (kitty graphics protocol): transmit-and-display (`a=T`),
 * raw pixels deflated (`o=z`), the base64 payload cut into chunks of at most 4096 bytes (`m=1` on every
 * chunk but the last, whose `m=0`); only the first chunk carries the control keys. `q=2` because an image
 * with an id would otherwise make the terminal answer on our stdin; `C=1` keeps the cursor where it is.
 */
export function kittyImage(image: KittyImage, place: KittyPlacement): string {
  const keys =
    image.format === "png" ? ["a=T", "f=100"] : ["a=T", "f=32", `s=${image.width}`, `v=${image.height}`, "o=z"];
  keys.push(`i=${place.id}`, `r=${Math.max(1, Math.round(place.rows))}`, "C=1", "q=2");
  const payload = Buffer.from(image.format === "png" ? image.data : nodeZlib().deflateSync(image.data)).toString(
    "base64",
  );
  const parts: string[] = [];
  for (let at = 0; at < payload.length || at === 0; at += KITTY_CHUNK) {
    const chunk = payload.slice(at, at + KITTY_CHUNK);
    const more = at + KITTY_CHUNK < payload.length ? 1 : 0;
    const control = at === 0 ? `${keys.join(",")},m=${more}` : `m=${more}`;
    parts.push(`\x1b_G${control};${chunk}\x1b\\`);
  }
  return parts.join("");
}

/** Deletes the image with this id and frees its data (`a=d,d=I`), without an answer from the terminal. */
export function kittyDelete(id: number): string {
  return `\x1b_Ga=d,d=I,i=${id},q=2\x1b\\`;
}
