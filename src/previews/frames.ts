/**
 * ComfyUI's binary websocket messages (server.py `encode_bytes`: a big-endian u32 event type, then the
 * payload). Previews come as PREVIEW_IMAGE (1: a u32 image type, 1 = JPEG, 2 = PNG, then the image) or,
 * to clients that announced `supports_preview_metadata`, PREVIEW_IMAGE_WITH_METADATA (4: a u32 length,
 * that many bytes of JSON with prompt_id/node_id/image_type, then the image). TEXT (3) is not a preview.
 */

/** One preview image as ComfyUI sent it. */
export interface PreviewFrame {
  mime: "image/jpeg" | "image/png";
  image: Uint8Array;
  /** Only with metadata (event 4): which prompt and node it belongs to. */
  promptId?: string;
  nodeId?: string;
}

export const PREVIEW_IMAGE = 1;
export const PREVIEW_IMAGE_WITH_METADATA = 4;

/** The preview in a binary message, or undefined for anything else (text events, malformed frames). */
export function parsePreviewFrame(message: Uint8Array): PreviewFrame | undefined {
  if (message.length < 8) return undefined;
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const event = view.getUint32(0);
  if (event === PREVIEW_IMAGE) {
    const type = view.getUint32(4);
    if (type !== 1 && type !== 2) return undefined;
    return { mime: type === 2 ? "image/png" : "image/jpeg", image: message.subarray(8) };
  }
  if (event !== PREVIEW_IMAGE_WITH_METADATA) return undefined;
  const length = view.getUint32(4);
  if (8 + length > message.length) return undefined;
  const meta = _json(message.subarray(8, 8 + length));
  const image = message.subarray(8 + length);
  const mime = meta?.image_type === "image/png" ? "image/png" : "image/jpeg";
  return {
    mime,
    image,
    ...(typeof meta?.prompt_id === "string" ? { promptId: meta.prompt_id } : {}),
    ...(typeof meta?.node_id === "string" ? { nodeId: meta.node_id } : {}),
  };
}

/** A PREVIEW_IMAGE message as ComfyUI's server sends it (what the proxy gives the browser). */
export function encodePreviewMessage(frame: Pick<PreviewFrame, "mime" | "image">): Uint8Array {
  const out = new Uint8Array(8 + frame.image.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, PREVIEW_IMAGE);
  view.setUint32(4, frame.mime === "image/png" ? 2 : 1);
  out.set(frame.image, 8);
  return out;
}

function _json(bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(new TextDecoder().decode(bytes));
    return typeof value === "object" && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A PREVIEW_IMAGE_WITH_METADATA message (send_image_with_metadata): the frame a client that announced
 * `supports_preview_metadata` gets instead of PREVIEW_IMAGE, naming the prompt and node the image belongs to.
 */
export function encodePreviewWithMetadata(
  frame: Pick<PreviewFrame, "mime" | "image">,
  meta: { promptId: string; nodeId: string | undefined },
): Uint8Array {
  const json = new TextEncoder().encode(
    JSON.stringify({
      node_id: meta.nodeId ?? null,
      prompt_id: meta.promptId,
      display_node_id: meta.nodeId ?? null,
      parent_node_id: null,
      real_node_id: meta.nodeId ?? null,
      image_type: frame.mime,
    }),
  );
  const out = new Uint8Array(8 + json.length + frame.image.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, PREVIEW_IMAGE_WITH_METADATA);
  view.setUint32(4, json.length);
  out.set(json, 8);
  out.set(frame.image, 8 + json.length);
  return out;
}
