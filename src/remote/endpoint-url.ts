import { WorkerError } from "../errors.ts";
import { Redactor } from "../lib/redact.ts";

/** Where an endpoint's operations live. */
export interface EndpointTarget {
  /** The endpoint id (last path segment of a `…/v2/ID` URL). */
  id: string;
  /** Base of every operation: `<url>/run`, `<url>/status/<job>`, … (no trailing slash). */
  url: string;
  /** `url` as it may be shown: a user name and password in it are `***` (notes, errors, the runs ledger). */
  shown: string;
  /** True when given as a full URL (our own `serve --mode api`, a test fake): an API key is then optional. */
  explicitUrl: boolean;
}

// RunPod endpoint ids are short lowercase alphanumerics; allow what a URL path segment can safely hold
const ENDPOINT_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/**
 * `--endpoint` → target: an endpoint id is joined to `baseUrl` (RUNPOD_ENDPOINT_BASE_URL, RunPod's
 * `https://api.runpod.ai/v2` by default); a full `http(s)://…/v2/ID` URL is used as it is.
 */
export function resolveEndpoint(value: string, baseUrl: string): EndpointTarget {
  const given = value.trim();
  if (/^https?:\/\//i.test(given)) {
    let url: URL;
    try {
      url = new URL(given);
    } catch {
      throw new WorkerError("E_USAGE", `--endpoint ${given} is not a valid URL`);
    }
    url.search = "";
    url.hash = "";
    const base = url.toString().replace(/\/+$/, "");
    const id = url.pathname.split("/").filter(Boolean).pop() ?? "";
    return { id: id || url.host, url: base, shown: shownUrl(base), explicitUrl: true };
  }
  if (!ENDPOINT_ID.test(given)) {
    throw new WorkerError(
      "E_USAGE",
      `--endpoint "${given}" is neither an endpoint id (letters, digits, - and _) nor an http(s)://…/v2/ID URL`,
    );
  }
  const url = `${baseUrl.replace(/\/+$/, "")}/${given}`;
  return { id: given, url, shown: shownUrl(url), explicitUrl: false };
}

/** A URL without the credentials it may carry (`http://***@host/…`, a token query parameter as `***`). */
export function shownUrl(raw: string): string {
  // the redactor every log line passes through: one rule for what counts as a credential in a URL
  return new Redactor().text(raw);
}
