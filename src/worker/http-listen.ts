import type { Server } from "bun";
import type { Config } from "../config.ts";
import { type ListenSettings, listenOrExplain } from "../lib/listen-error.ts";

export interface HttpListenOptions {
  fetch: (request: Request, server: Server<undefined>) => Response | Promise<Response>;
  idleTimeout?: number;
  maxRequestBodySize?: number;
}

/** The HTTP server of `serve`, where it really listens, and the URL a client on this machine reaches it at. */
export interface HttpListener {
  server: Server<undefined>;
  /** What the server bound, for the start-up log: http://0.0.0.0:8000 (all interfaces) or http://127.0.0.1:8000. */
  bound: string;
  /** Connectable from this machine: a wildcard bind is reached on loopback. */
  url: string;
}

// what a failed bind tells the user to change
const SERVE_SETTINGS: ListenSettings = {
  name: "PORT",
  portFix: "set PORT (or --port) to a free port",
  hostFix:
    "set HOST to an address of this machine (0.0.0.0 for all, 127.0.0.1 for this machine only) and PORT to a free port",
};

const WILDCARD_HOSTS: Record<string, string> = { "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1" };

/**
 * Bun.serve on HOST:PORT. A port already taken or an address this machine does not have is a configuration
 * error (exit 2) whose message names the setting to change, never a stack trace.
 */
export function listenHttp(config: Pick<Config, "HOST" | "PORT">, options: HttpListenOptions): HttpListener {
  const server = listenOrExplain(config.HOST, config.PORT, SERVE_SETTINGS, () =>
    Bun.serve({ ...options, hostname: config.HOST, port: config.PORT }),
  );
  const bound = server.url.href.replace(/\/$/, "");
  const host = server.hostname ?? config.HOST;
  const local = WILDCARD_HOSTS[host] ?? host;
  const url = `http://${local.includes(":") ? `[${local}]` : local}:${server.port}`;
  return { server, bound, url };
}

/** How a start-up log names the bind: "http://0.0.0.0:8000 (all interfaces)". */
export function describeBind(listener: HttpListener): string {
  const host = listener.server.hostname ?? "";
  return WILDCARD_HOSTS[host] ? `${listener.bound} (all interfaces)` : listener.bound;
}
