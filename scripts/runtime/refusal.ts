/**
 * @module
 * How a refusal ends the program when nothing catches it (docs/PROTOCOL.md §17): exactly one line
 * on stderr, `countersign: refusing to load <file> of <package>: <reason>`, and exit code 1 (the
 * CLI's "rejected"), instead of Node's 20-line report with a stack. A program that catches the
 * error (`code` ERR_COUNTERSIGN_UNVERIFIED_MODULE) decides for itself; the module stays unloaded.
 *
 * Errors that are not refusals keep Node's own report: when this is the only listener, it steps
 * aside and throws them again. A refusal from the ESM loader thread arrives as a plain Error with
 * the same `code` and message, so refusals are recognised by `code`, also inside `cause` chains.
 */

import { writeSync } from "node:fs";
import { UNVERIFIED_MODULE } from "./guard.js";

export const REFUSAL_EXIT_CODE = 1;

/** The one-line refusal an error carries (itself or in its `cause` chain), if it is one. */
export function refusalLine(error: unknown): string | undefined {
  for (let at = error, depth = 0; typeof at === "object" && at !== null && depth < 8; at = (at as { cause?: unknown }).cause, depth++) {
    const { code, message } = at as { code?: unknown; message?: unknown };
    if (code === UNVERIFIED_MODULE && typeof message === "string") return message.replace(/[\r\n]+/g, " ");
  }
  return undefined;
}

/** Makes an uncaught refusal print its one line and exit non-zero. */
export function exitOnUncaughtRefusal(): void {
  const onUncaught = (error: unknown, origin: NodeJS.UncaughtExceptionOrigin) => {
    const line = refusalLine(error);
    if (line !== undefined) {
      writeSync(2, `${line}\n`);
      process.exit(REFUSAL_EXIT_CODE);
    }
    if (process.listenerCount("uncaughtException") > 1) return; // the program has its own handler
    process.off("uncaughtException", onUncaught);
    if (origin === "unhandledRejection") void Promise.reject(error);
    else
      process.nextTick(() => {
        throw error;
      });
  };
  process.on("uncaughtException", onUncaught);
}
