import type { Server } from "bun";
import type { Config } from "../config.ts";
import { WorkerError } from "../errors.ts";

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

const WILDCARD_HOSTS: Record<string, string> = { "0.0.0.0": "127.0.0.1", "::": "::1", "[::]": "::1" };

/**
 * Bun.serve on HOST:PORT. A port already taken or an address this machine does not have is a configuration
 * error (exit 2) whose message names the setting to change, never a stack trace.
 */
export function listenHttp(config: Pick<Config, "HOST" | "PORT">, options: HttpListenOptions): HttpListener {
  let server: Server<undefined>;
  try {
    server = Bun.serve({ ...options, hostname: config.HOST, port: config.PORT });
  } catch (error) {
    throw _listenError(config, error);
  }
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

function _listenError(config: Pick<Config, "HOST" | "PORT">, error: unknown): WorkerError {
  const code = (error as NodeJS.ErrnoException)?.code;
  const where = `${config.HOST}:${config.PORT}`;
  if (code === "EADDRINUSE")
    return new WorkerError(
      "E_CONFIG",
      `port ${config.PORT} (PORT) is already in use on ${config.HOST}: stop the program using it, or set PORT (or --port) to a free port`,
      { cause: error, details: { host: config.HOST, port: config.PORT } },
    );
  if (code === "EACCES")
    return new WorkerError(
      "E_CONFIG",
      `not allowed to listen on port ${config.PORT} (PORT); ports below 1024 need privileges: set PORT (or --port) to 1024 or above`,
      { cause: error },
    );
  const reason = (error as Error)?.message ?? String(error);
  return new WorkerError(
    "E_CONFIG",
    `cannot listen on ${where} (${reason}); set HOST to an address of this machine (0.0.0.0 for all, 127.0.0.1 for this machine only) and PORT to a free port`,
    { cause: error },
  );
}
