import { WorkerError } from "../errors.ts";

/** What to change when a bind fails: the setting's name, and how to fix the port and the address with it. */
export interface ListenSettings {
  name: string;
  portFix: string;
  hostFix: string;
}

/**
 * A failed bind as a configuration error (exit 2) naming what to change: a port in use, a privileged port, an
 * address this machine does not have. Never a stack trace.
 */
export function listenError(host: string, port: number, error: unknown, settings: ListenSettings): WorkerError {
  const code = (error as NodeJS.ErrnoException)?.code;
  // with a websocket handler Bun says "Failed to start server. Is port N in use?" and gives no code
  const message = (error as Error)?.message ?? String(error);
  if (code === "EADDRINUSE" || /\bin use\?/i.test(message))
    return new WorkerError(
      "E_CONFIG",
      `port ${port} (${settings.name}) is already in use on ${host}: stop the program using it, or ${settings.portFix}`,
      { cause: error, details: { host, port } },
    );
  if (code === "EACCES")
    return new WorkerError(
      "E_CONFIG",
      `not allowed to listen on port ${port} (${settings.name}): ports below 1024 need privileges; use 1024 or above`,
      { cause: error },
    );
  return new WorkerError("E_CONFIG", `cannot listen on ${host}:${port} (${message}); ${settings.hostFix}`, {
    cause: error,
  });
}

/** `serve()` (a Bun.serve call), or, when the bind fails, the error `listenError` words for it. */
export function listenOrExplain<T>(host: string, port: number, settings: ListenSettings, serve: () => T): T {
  try {
    return serve();
  } catch (error) {
    throw listenError(host, port, error, settings);
  }
}
