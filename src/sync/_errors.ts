/** The message of anything thrown, for a report line. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
