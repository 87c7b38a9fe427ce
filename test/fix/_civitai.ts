import { LookupHttp } from "../../src/fix/http.ts";
import { fromCivitai } from "../../src/fix/sources/civitai.ts";
import type { WantedWeight } from "../../src/fix/sources/types.ts";

/** Asks the Civitai source directly (by hash when `wanted.sha256` is set) against the fake hosts. */
export function civitaiLookup(hosts: { url: string }, wanted: WantedWeight) {
  return fromCivitai({ http: new LookupHttp({ timeoutMs: 5000, minIntervalMs: 0 }), baseUrl: hosts.url }, wanted);
}
