/**
 * @module
 * What the checks report to the page, one value per settled link (and per signed file), so the
 * check logic never touches the DOM and the page shows each result as soon as it is known.
 */

import type { CheckId, CheckStatus } from "../checks.js";

/** One link of the chain, settled: `detail` says what was checked, against which key, and why not. */
export interface LinkOutcome {
  kind: "link";
  id: CheckId;
  status: CheckStatus;
  detail: string;
}

/** One path of a signed file list, compared with the artifact's entry at that path. */
export interface FileOutcome {
  kind: "file";
  path: string;
  status: "verified" | "failed";
  detail: string;
}

export type Outcome = LinkOutcome | FileOutcome;
export type Report = (outcome: Outcome) => void;

export const link = (id: CheckId, status: CheckStatus, detail: string): LinkOutcome => ({ kind: "link", id, status, detail });

/** `expected …, actual …` for a failure that has them. */
export function expectedActual(expected: string | undefined, actual: string | undefined): string {
  return expected === undefined && actual === undefined ? "" : ` (expected ${expected ?? "?"}, actual ${actual ?? "?"})`;
}
