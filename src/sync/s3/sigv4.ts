/**
 * AWS Signature Version 4 for S3 requests (header auth), as RunPod's volume API and every S3 clone expect.
 * Bodies streamed from disk are sent as UNSIGNED-PAYLOAD: hashing a 500 MB part before sending it would read it
 * twice; integrity is checked instead by the sha256 metadata and size we verify after each upload.
 */

/** The key pair and the scope a request is signed for. */
export interface SigningKey {
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
}

/** What the signer needs of one request; `headers` are lower-case names. */
export interface RequestToSign {
  method: string;
  url: URL;
  headers: Record<string, string>;
  /** Hex sha256 of the body, or "UNSIGNED-PAYLOAD". */
  payloadHash: string;
}

export const UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD";
/** sha256 of the empty string, for bodiless requests. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/** RFC 3986 encoding as SigV4 wants it: everything but A-Z a-z 0-9 - _ . ~ is percent-encoded. */
export function uriEncode(text: string, keepSlash = false): string {
  const encoded = encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return keepSlash ? encoded.replace(/%2F/g, "/") : encoded;
}

/** Returns the headers to add (x-amz-date, x-amz-content-sha256, authorization) for `request` at `now`. */
export function signRequest(request: RequestToSign, key: SigningKey, now = new Date()): Record<string, string> {
  const amzDate = now
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d{3}/, "");
  const day = amzDate.slice(0, 8);
  const headers: Record<string, string> = {
    ...request.headers,
    host: request.url.host,
    "x-amz-date": amzDate,
    "x-amz-content-sha256": request.payloadHash,
  };
  const names = Object.keys(headers).sort();
  const canonicalHeaders = names.map((name) => `${name}:${String(headers[name]).trim().replace(/\s+/g, " ")}\n`);
  const signedHeaders = names.join(";");
  const canonical = [
    request.method,
    request.url.pathname,
    _canonicalQuery(request.url.searchParams),
    canonicalHeaders.join(""),
    signedHeaders,
    request.payloadHash,
  ].join("\n");
  const scope = `${day}/${key.region}/s3/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", amzDate, scope, sha256Hex(canonical)].join("\n");
  let signing: Uint8Array = _hmac(`AWS4${key.secretAccessKey}`, day);
  for (const part of [key.region, "s3", "aws4_request"]) signing = _hmac(signing, part);
  const signature = new Bun.CryptoHasher("sha256", signing).update(toSign).digest("hex");
  return {
    "x-amz-date": amzDate,
    "x-amz-content-sha256": request.payloadHash,
    authorization: `AWS4-HMAC-SHA256 Credential=${key.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}

/** Hex sha256 of a string or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  return new Bun.CryptoHasher("sha256").update(data).digest("hex");
}

function _hmac(key: string | Uint8Array, data: string): Uint8Array {
  return new Bun.CryptoHasher("sha256", key).update(data).digest();
}

function _canonicalQuery(params: URLSearchParams): string {
  return [...params.entries()]
    .map(([name, value]) => [uriEncode(name), uriEncode(value)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join("&");
}
