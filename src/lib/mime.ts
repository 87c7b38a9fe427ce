const MIME_BY_EXTENSION: Record<string, string> = {
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  webp: "image/webp",
  gif: "image/gif",
  bmp: "image/bmp",
  tif: "image/tiff",
  tiff: "image/tiff",
  mp4: "video/mp4",
  webm: "video/webm",
  mov: "video/quicktime",
  mkv: "video/x-matroska",
  avi: "video/x-msvideo",
  wav: "audio/wav",
  flac: "audio/flac",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  opus: "audio/opus",
  m4a: "audio/mp4",
  json: "application/json",
  txt: "text/plain",
  glb: "model/gltf-binary",
  gltf: "model/gltf+json",
  obj: "model/obj",
  latent: "application/octet-stream",
  safetensors: "application/octet-stream",
};

/** MIME type from a file name's extension; `application/octet-stream` when unknown. */
export function mimeFromName(name: string): string {
  const ext = name.slice(name.lastIndexOf(".") + 1).toLowerCase();
  return MIME_BY_EXTENSION[ext] ?? "application/octet-stream";
}
