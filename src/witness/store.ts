/**
 * @module
 * What the witness remembers: for each log origin, the latest checkpoint it cosigned. The only
 * write is a compare-and-swap, because the spec requires the check of `old` against the stored
 * size and the update to be one atomic step: otherwise two requests checked against the same
 * state could both be cosigned, and the one answered last would roll the log back.
 */

import type { Hash } from "../core/index.js";

export interface StoredCheckpoint {
  readonly size: number;
  readonly rootHash: Hash;
  /** The checkpoint note as the log sent it. */
  readonly note: string;
  /** The cosignature line(s) returned for it. */
  readonly cosignature: string;
  /** ISO 8601. */
  readonly updatedAt: string;
}

/** `swapped`, or the state found instead of the expected one (undefined: none). */
export type SwapOutcome = { readonly swapped: true } | { readonly swapped: false; readonly current: StoredCheckpoint | undefined };

export interface WitnessStore {
  latest(origin: string): Promise<StoredCheckpoint | undefined>;
  /**
   * Stores `next` for `origin` only if the stored state is still `expected` (same size and root;
   * undefined: nothing stored yet), atomically with that check.
   */
  swap(origin: string, expected: Pick<StoredCheckpoint, "size" | "rootHash"> | undefined, next: StoredCheckpoint): Promise<SwapOutcome>;
}
