/** Replacement shown wherever a secret would have been. */
export const REDACTED = "***";

const SECRET_KEY_RE = /token|secret|password|passwd|api_?key|authorization|access_?key|credential|_key$/i;
// user:password@ in URLs, signed-URL and token query parameters, bearer tokens, HF/Civitai-looking tokens
const URL_CREDENTIALS_RE = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+(?::[^\s/@]*)?@/gi;
const SECRET_PARAM_RE =
  /([?&](?:token|access_token|api_key|apikey|key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token)=)[^&\s"']+/gi;
const BEARER_RE = /\b(Bearer\s+)[A-Za-z0-9._~+/=-]+/g;
const HF_TOKEN_RE = /\bhf_[A-Za-z0-9]{16,}\b/g;

/**
 * Removes secrets from strings and objects before they reach a log line, an error, a report or a job
 * result. Known secret values (from config and from jobs) are replaced wherever they appear; keys that
 * name secrets are replaced whole.
 */
export class Redactor {
  readonly #secrets = new Set<string>();

  constructor(secrets: Iterable<string | undefined> = []) {
    for (const secret of secrets) this.add(secret);
  }

  /** Remember a secret value so later output never shows it; short values are ignored as too noisy. */
  add(secret: string | undefined): void {
    if (secret && secret.length >= 4) this.#secrets.add(secret);
  }

  /** Learns every secret `other` knows (the CLI's error printer learns the command's config secrets). */
  merge(other: Redactor): void {
    for (const secret of other.#secrets) this.#secrets.add(secret);
  }

  /** A copy of `text` with every known secret and secret-shaped substring replaced. */
  text(text: string): string {
    let out = text;
    for (const secret of this.#secrets) out = out.split(secret).join(REDACTED);
    return out
      .replace(URL_CREDENTIALS_RE, `$1${REDACTED}@`)
      .replace(SECRET_PARAM_RE, `$1${REDACTED}`)
      .replace(BEARER_RE, `$1${REDACTED}`)
      .replace(HF_TOKEN_RE, REDACTED);
  }

  /** A deep copy of `value` with secret keys and secret substrings replaced; cycles are cut. */
  value<T>(value: T): T {
    return this.#walk(value, new WeakSet()) as T;
  }

  #walk(value: unknown, seen: WeakSet<object>): unknown {
    if (typeof value === "string") return this.text(value);
    if (value instanceof Error) return this.text(value.message);
    if (value === null || typeof value !== "object") return value;
    if (seen.has(value)) return "[circular]";
    seen.add(value);
    if (Array.isArray(value)) return value.map((item) => this.#walk(item, seen));
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      out[key] =
        SECRET_KEY_RE.test(key) && item !== undefined && item !== null && item !== ""
          ? REDACTED
          : this.#walk(item, seen);
    }
    return out;
  }
}
