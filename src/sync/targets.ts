import { z } from "zod";
import type { Config } from "../config.ts";
import { transientError, withRetry } from "../download/retry.ts";
import { WorkerError } from "../errors.ts";
import { describeIssues } from "../lib/issues.ts";
import { deadlineSignal } from "../lib/time.ts";
import type { S3Target } from "./s3/client.ts";

/** Which volume(s) a command addresses, as given on the command line. */
export interface TargetArgs {
  volume?: string;
  datacenter?: string;
  /** A RunPod endpoint id: every network volume it uses. */
  endpoint?: string;
  /** Any other S3-compatible server (then --volume is the bucket). */
  endpointUrl?: string;
}

/** One volume to work on. */
export interface VolumeTarget extends S3Target {
  volume: string;
  datacenter?: string;
}

const REST_TIMEOUT_MS = 30_000;
const DEFAULT_REGION = "us-east-1";
const VolumeId = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "expected a volume id such as agv6w2qcg7");
const Datacenter = z.string().regex(/^[A-Za-z]+(-[A-Za-z]+)*-\d+$/, "expected a datacenter id such as EU-RO-1");
// any other S3-compatible server; the address is yours, so loopback and private ones are fine
const EndpointUrl = z.url({
  protocol: /^https?$/,
  error: "expected an http(s) URL of an S3-compatible server such as https://s3.example.com",
});

/** RunPod's REST answer for an endpoint: older ones carry networkVolumeId, newer ones networkVolumeIds. */
const EndpointBody = z.object({
  id: z.string().optional(),
  networkVolumeId: z.string().nullish(),
  networkVolumeIds: z.array(z.union([z.string(), z.object({ id: z.string() })])).nullish(),
});
const NetworkVolumeBody = z.object({ id: z.string(), dataCenterId: z.string(), name: z.string().nullish() });

/** The S3 endpoint of a RunPod datacenter. */
export function runpodS3Endpoint(datacenter: string): string {
  return `https://s3api-${datacenter.toLowerCase()}.runpod.io`;
}

/** The S3 key pair: RUNPOD_S3_* first, else the AWS_* pair; E_CONFIG naming both when neither is complete. */
export function s3Credentials(config: Config): { accessKeyId: string; secretAccessKey: string } {
  if (config.RUNPOD_S3_ACCESS_KEY && config.RUNPOD_S3_SECRET_KEY)
    return { accessKeyId: config.RUNPOD_S3_ACCESS_KEY, secretAccessKey: config.RUNPOD_S3_SECRET_KEY };
  if (config.AWS_ACCESS_KEY_ID && config.AWS_SECRET_ACCESS_KEY)
    return { accessKeyId: config.AWS_ACCESS_KEY_ID, secretAccessKey: config.AWS_SECRET_ACCESS_KEY };
  throw new WorkerError(
    "E_CONFIG",
    "no S3 API key: set RUNPOD_S3_ACCESS_KEY and RUNPOD_S3_SECRET_KEY (create an S3 API key in RunPod's console Settings), or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
  );
}

/** The volumes to address: one from --volume (+ --datacenter or --endpoint-url), or every volume of --endpoint. */
export async function resolveTargets(args: TargetArgs, config: Config, signal?: AbortSignal): Promise<VolumeTarget[]> {
  if (Boolean(args.volume) === Boolean(args.endpoint))
    throw new WorkerError(
      "E_USAGE",
      "give either --volume ID (with --datacenter DC or --endpoint-url URL) or --endpoint ID",
    );
  // what the command line says is checked before the keys, so a mistyped flag is what gets reported
  const endpointUrl =
    args.endpointUrl === undefined ? undefined : _parse(EndpointUrl, args.endpointUrl, "--endpoint-url");
  if (args.volume) {
    const volume = _parse(VolumeId, args.volume, "--volume");
    if (!args.datacenter && !endpointUrl)
      throw new WorkerError(
        "E_USAGE",
        "--volume needs --datacenter DC (the volume's datacenter, e.g. EU-RO-1) or --endpoint-url URL",
      );
    const datacenter = args.datacenter ? _parse(Datacenter, args.datacenter, "--datacenter") : undefined;
    return [_target(volume, datacenter, endpointUrl, s3Credentials(config))];
  }
  const keys = s3Credentials(config);
  const volumes = await endpointVolumes(config, args.endpoint as string, signal);
  return volumes.map(({ id, dataCenterId }) => _target(id, dataCenterId, endpointUrl, keys));
}

/** Every network volume of a RunPod endpoint with its datacenter, via the REST API. */
export async function endpointVolumes(
  config: Config,
  endpointId: string,
  signal?: AbortSignal,
): Promise<Array<{ id: string; dataCenterId: string }>> {
  if (!config.RUNPOD_API_KEY)
    throw new WorkerError(
      "E_CONFIG",
      "--endpoint needs RUNPOD_API_KEY (a RunPod API key that can read endpoints and network volumes)",
    );
  const raw = await _rest(config, `/endpoints/${encodeURIComponent(endpointId)}`, signal);
  const endpoint = EndpointBody.safeParse(raw);
  if (!endpoint.success)
    throw new WorkerError(
      "E_INPUT",
      `RunPod's answer for endpoint ${endpointId} is not the expected shape: ${describeIssues(endpoint.error, raw, "endpoint").join("; ")}`,
    );
  const ids = [
    endpoint.data.networkVolumeId,
    ...(endpoint.data.networkVolumeIds ?? []).map((v) => (typeof v === "string" ? v : v.id)),
  ];
  const unique = [...new Set(ids.filter((id): id is string => Boolean(id)))];
  if (unique.length === 0)
    throw new WorkerError(
      "E_NOT_FOUND",
      `endpoint ${endpointId} has no network volume: attach one in its settings, or use --volume ID --datacenter DC`,
    );
  const volumes = [];
  for (const id of unique) {
    const body = NetworkVolumeBody.safeParse(await _rest(config, `/networkvolumes/${encodeURIComponent(id)}`, signal));
    if (!body.success) throw new WorkerError("E_INPUT", `RunPod's answer for network volume ${id} has no dataCenterId`);
    volumes.push({ id: body.data.id, dataCenterId: body.data.dataCenterId });
  }
  return volumes;
}

function _target(
  volume: string,
  datacenter: string | undefined,
  endpointUrl: string | undefined,
  keys: { accessKeyId: string; secretAccessKey: string },
): VolumeTarget {
  // one spelling per endpoint (no trailing slash): resume records are keyed by it
  const endpoint = (endpointUrl ?? runpodS3Endpoint(datacenter as string)).replace(/\/+$/, "");
  return {
    volume,
    bucket: volume,
    endpoint,
    region: datacenter ?? DEFAULT_REGION,
    ...keys,
    ...(datacenter ? { datacenter } : {}),
  };
}

function _parse<T>(schema: z.ZodType<T>, value: string, flag: string): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success)
    throw new WorkerError(
      "E_USAGE",
      `${flag} ${JSON.stringify(value)}: ${parsed.error.issues[0]?.message ?? "not valid"}`,
    );
  return parsed.data;
}

async function _rest(config: Config, path: string, signal?: AbortSignal): Promise<unknown> {
  const url = `${config.RUNPOD_REST_BASE_URL.replace(/\/+$/, "")}${path}`;
  return withRetry(
    `GET ${url}`,
    async () => {
      const deadline = deadlineSignal(REST_TIMEOUT_MS, signal);
      try {
        const res = await fetch(url, {
          headers: { authorization: `Bearer ${config.RUNPOD_API_KEY}`, accept: "application/json" },
          signal: deadline.signal,
        });
        if (res.status === 401 || res.status === 403)
          throw new WorkerError(
            "E_AUTH",
            `RunPod refused RUNPOD_API_KEY for ${path} (HTTP ${res.status}); check the key and its permissions`,
          );
        if (res.status === 404)
          throw new WorkerError(
            "E_NOT_FOUND",
            `RunPod knows no ${path.split("/")[1]?.replace(/s$/, "")} ${decodeURIComponent(path.split("/")[2] ?? "")}`,
          );
        if (res.status === 429 || res.status >= 500)
          throw transientError(`GET ${url} answered HTTP ${res.status}`, { status: res.status });
        if (!res.ok) throw new WorkerError("E_INPUT", `GET ${url} answered HTTP ${res.status}`);
        return await res.json();
      } finally {
        deadline.dispose();
      }
    },
    { signal },
  );
}
