/**
 * @module
 * The client's one error type: a one-line reason and an exit code. `main` prints it and exits;
 * nothing else ever reaches the user as a stack trace (unless COUNTERSIGN_DEBUG=1).
 *
 * Exit codes, the only four the client ever returns:
 *
 * - 0 ok;
 * - 1 rejected: verification or policy refused something, or the registry refused a request
 *   (400/403/409) — the build must fail;
 * - 2 usage: the command line, a flag's value, a name or version, a key file or a config file
 *   is wrong — the person running it must change something;
 * - 3 unavailable: the registry, the network or the file system failed (outages, timeouts,
 *   5xx, unreadable files) — retrying may help.
 *
 * An unexpected exception (a bug) is not a fourth kind: it is reported as
 * "internal error: …" with exit 3 (something failed, nothing was judged, so never 1, and
 * it must not pass as 0), and COUNTERSIGN_DEBUG=1 prints its stack trace.
 * Under --json every failure also prints one JSON object on stdout:
 * `{ "error": reason, "exitCode": n, ...detail }` (errorJson).
 */

export const EXIT = {
  ok: 0,
  /** Verification or policy rejected something: the build must fail. */
  rejected: 1,
  /** Wrong command line. */
  usage: 2,
  /** The registry, the network or the file system failed. */
  unavailable: 3,
} as const;

export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.unavailable,
    /** Structured detail for --json output. */
    readonly detail?: unknown,
  ) {
    super(message);
    this.name = "CliError";
  }
}

export const usageError = (message: string, detail?: Record<string, unknown>) => new CliError(message, EXIT.usage, detail);

/** Any thrown value as a CliError: CliErrors as they are, anything else an internal error (exit 3). */
export function toCliError(err: unknown): CliError {
  if (err instanceof CliError) return err.exitCode === EXIT.rejected || err.exitCode === EXIT.usage || err.exitCode === EXIT.unavailable ? err : new CliError(err.message, EXIT.unavailable, err.detail);
  const reason = err instanceof Error ? err.message : String(err);
  return new CliError(`internal error: ${reason}${process.env.COUNTERSIGN_DEBUG ? "" : " (COUNTERSIGN_DEBUG=1 prints the stack trace)"}`, EXIT.unavailable, { internal: true });
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

/** The --json form of a failure: `{ error, exitCode, ...detail }` (detail that is not an object goes under `detail`). */
export function errorJson(err: CliError): Record<string, unknown> {
  const detail = err.detail === undefined ? {} : isPlainObject(err.detail) ? err.detail : { detail: err.detail };
  return Object.assign({ error: err.message, exitCode: err.exitCode }, detail, { error: err.message, exitCode: err.exitCode });
}
