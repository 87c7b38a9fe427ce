import { isWorkerError } from "../../src/errors.ts";

/** The message of the E_CONFIG error `fn` throws; rethrows anything else, fails when nothing is thrown. */
export function configError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (isWorkerError(error) && error.code === "E_CONFIG") return error.message;
    throw error;
  }
  throw new Error("expected an E_CONFIG error");
}
