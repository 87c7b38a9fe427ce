import { WorkerError } from "../errors.ts";
import { nodeNet } from "../lib/lazy-modules.ts";
import { probeComfy } from "./_probe.ts";

/** Host and port a supervised ComfyUI's URL points at (brackets of an IPv6 literal removed). */
export function urlEndpoint(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  const port = Number(parsed.port || (parsed.protocol === "https:" ? 443 : 80));
  return { host: parsed.hostname.replace(/^\[|\]$/g, ""), port };
}

/**
 * True when something accepts TCP connections on host:port within `timeoutMs`. A connection, not an HTTP
 * probe: a program that is not ComfyUI (or does not answer HTTP) would make ComfyUI die of EADDRINUSE too.
 */
export function isListening(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = nodeNet().connect({ host, port });
    const done = (listening: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(listening);
    };
    // a filtered port that never answers is not one ComfyUI could bind either way; treat it as free
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
  });
}

/**
 * E_CONFIG (exit 2) when COMFY_PORT is taken by a process this worker did not start: a configuration
 * problem of this machine, named with the settings that resolve it.
 */
export function portBusyError(url: string, answersLikeComfy: boolean): WorkerError {
  const { port } = urlEndpoint(url);
  const who = answersLikeComfy
    ? `a ComfyUI this worker did not start already answers at ${url}`
    : `another program already listens on port ${port}`;
  const useIt = answersLikeComfy ? `, or set COMFY_URL=${url} to use that ComfyUI unsupervised` : "";
  const message = `port ${port} (COMFY_PORT) is already in use: ${who}; stop it or set COMFY_PORT to a free port${useIt}`;
  return new WorkerError("E_CONFIG", message, { details: { url, port } });
}

export interface ClaimPortOptions {
  /** Bounds the TCP connect and the ComfyUI probe. */
  timeoutMs: number;
  signal: AbortSignal;
  /** Stops what holds the port when it is a ComfyUI left by a dead predecessor; true when it did. */
  stopLeftover?: () => Promise<boolean>;
}

/**
 * Makes sure nothing listens where the supervised ComfyUI is about to: a leftover of a dead predecessor
 * is stopped, anything else is refused with portBusyError. Checked before every spawn, since a ComfyUI
 * already on the port would answer our probes while ours dies of EADDRINUSE.
 */
export async function claimPort(url: string, options: ClaimPortOptions): Promise<void> {
  const { host, port } = urlEndpoint(url);
  if (!(await isListening(host, port, options.timeoutMs))) return;
  if (options.signal.aborted || (await options.stopLeftover?.())) return;
  const comfy = (await probeComfy(url, options.timeoutMs, options.signal)) === "ok";
  if (!options.signal.aborted) throw portBusyError(url, comfy);
}
