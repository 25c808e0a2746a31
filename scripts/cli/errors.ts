/**
 * @module
 * The client's one error type: a one-line reason and an exit code. `main` prints it and exits;
 * nothing else ever reaches the user as a stack trace (unless COUNTERSIGN_DEBUG=1).
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

export const usageError = (message: string) => new CliError(message, EXIT.usage);
