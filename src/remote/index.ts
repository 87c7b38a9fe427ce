/**
 * Client of RunPod's public endpoint API (reference §4), for `run --endpoint` and `proxy`:
 *
 * ```ts
 * // an endpoint id (RUNPOD_ENDPOINT_BASE_URL + RUNPOD_API_KEY) or a full URL such as http://127.0.0.1:8000/v2/local
 * const client = endpointClientFromConfig(config, "abc123");
 * const { id } = await client.submit({ input: { workflow } });
 * for await (const event of followJob(client, id, { signal })) {
 *   if (event.type === "progress") show(event.progress);  // node, class_type, title, value/max/percent, finished
 *   if (event.type === "terminal") done(event.job);       // status, output | error, delayTime, executionTime
 * }
 * // on Ctrl-C / UI interrupt: await client.cancel(id)
 * ```
 * Errors are WorkerErrors with a message that says what to do; `isRetryable(error)` is true for 429/5xx/no answer.
 */
export {
  createEndpointClient,
  DEFAULT_ENDPOINT_BASE_URL,
  type EndpointClient,
  endpointClientFromConfig,
} from "./endpoint.ts";
export { type EndpointTarget, resolveEndpoint } from "./endpoint-url.ts";
export { type FollowEvent, type FollowOptions, followJob } from "./follow.ts";
export { isRetryable } from "./http.ts";
export * from "./schemas.ts";
