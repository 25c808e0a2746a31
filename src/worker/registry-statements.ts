/**
 * @module
 * Recording an admin change as a registry statement (core/registry-statement.ts, PROTOCOL §20):
 * read the highest sequence number, sign the statement with the next one, commit the statement
 * and the change in one batch (storage/d1.ts), and sign again with the new next number if a
 * publish or another statement took it first — the publish path's loop (publish.ts), for
 * namespaces and keys. Then the log's sequencer is asked to integrate it, so monitors see it in
 * the next checkpoint; if the sequencer fails, its next round (a publish, the cron) does.
 */

import { signRegistryStatement, type Envelope, type RegistryClaim } from "../core/index.js";
import type { Deps } from "./context.js";
import { ApiError } from "./errors.js";
import type { StatementRow } from "./storage/meta.js";

/** Attempts before giving up (503): each failed one means another commit took the number. */
const MAX_ATTEMPTS = 64;

export interface Recorded<O> {
  outcome: O;
  /** The signed statement, its log index and (unless the sequencer failed: pending) its tlog-proof, when the change was committed. */
  statement?: { sequence: number; envelope: Envelope; tlogProof: string | null };
}

/**
 * Signs `claim` with the next sequence number and runs `commit` with it until the number holds.
 * `commit` returns its outcome, or "sequence_taken" to be asked again with a new number.
 */
export async function recordStatement<O extends string>(
  deps: Deps,
  origin: string,
  claim: RegistryClaim | ((sequence: number) => RegistryClaim),
  lastSequence: number,
  commit: (row: StatementRow) => Promise<O | "sequence_taken">,
  committed: O,
): Promise<Recorded<O>> {
  const signer = await deps.signer();
  let sequence = lastSequence + 1;
  for (let attempt = 1; ; attempt++) {
    const at = deps.now().toISOString();
    const stated = typeof claim === "function" ? claim(sequence) : claim;
    const envelope = await signRegistryStatement(stated, { origin, sequence, at }, signer);
    const row: StatementRow = {
      sequence,
      kind: stated.kind,
      namespace: stated.namespace,
      keyid: stated.kind === "key_enrolled" ? stated.key.keyid : stated.kind === "key_revoked" ? stated.keyid : null,
      since: stated.kind === "key_revoked" ? stated.since : null,
      envelope: JSON.stringify(envelope),
      createdAt: at,
    };
    const outcome = await commit(row);
    if (outcome === committed) {
      return { outcome: committed, statement: { sequence, envelope, tlogProof: await logStatement(deps, sequence) } };
    }
    if (outcome !== "sequence_taken") return { outcome: outcome as O };
    if (attempt === MAX_ATTEMPTS) throw new ApiError(503, "storage_unavailable", "too many changes at once; nothing was changed, retry");
    sequence = (await deps.meta.lastSequence()) + 1;
  }
}

async function logStatement(deps: Deps, sequence: number): Promise<string | null> {
  try {
    return (await deps.log().logged(sequence)).tlogProof;
  } catch (err) {
    console.error(`log: registry statement ${sequence} is committed but not yet in a checkpoint: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}
