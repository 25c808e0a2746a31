/**
 * @module
 * One call that checks a C2SP tlog-proof offline: the proof text parses strictly, its checkpoint
 * is signed by the log's key for the expected origin (and by any witnesses given), and the entry's
 * leaf hash is included at the proof's index in the tree that checkpoint commits to.
 *
 * This is the log part of an offline bundle (issue 10): with it, one artifact shows that the
 * countersignature was published in the log everybody else sees, not just signed.
 */

import { noteErrorText, openCheckpoint, parseTlogProof, type Checkpoint, type NoteSignature, type NoteVerifier } from "./note/index.js";
import { fail, ok, type Result } from "./result.js";
import { leafHash, verifyInclusion } from "./tlog/index.js";

export interface LogKey {
  /** The checkpoint's origin line: the log's schemeless URL prefix. */
  origin: string;
  verifier: NoteVerifier;
  /** Witnesses whose cosignatures are verified (and returned) when present. */
  witnesses?: readonly NoteVerifier[];
}

export interface LogInclusion {
  checkpoint: Checkpoint;
  index: number;
  /** The verified cosignatures of the given witnesses. */
  cosignatures: readonly NoteSignature[];
}

/** Checks that `entry` is in the log at the proof's index under a checkpoint `log` signed. Never throws. */
export async function verifyTlogProof(input: string | Uint8Array, entry: Uint8Array, log: LogKey): Promise<Result<LogInclusion, string>> {
  const proof = parseTlogProof(input);
  if (!proof.ok) return fail(`tlog-proof: ${proof.error}`);
  const opened = await openCheckpoint(proof.value.checkpoint, log.origin, log.verifier, log.witnesses);
  if (!opened.ok) return fail(`tlog-proof checkpoint: ${opened.error.code === "checkpoint" ? opened.error.reason : noteErrorText(opened.error)}`);
  const { checkpoint, cosignatures } = opened.value;
  const { index } = proof.value;
  if (index >= checkpoint.size) return fail(`tlog-proof: index ${index} is not below the checkpoint's tree size ${checkpoint.size}`);
  const included = await verifyInclusion(proof.value.proof, checkpoint.size, index, await leafHash(entry), checkpoint.rootHash);
  if (!included.ok) return fail(`tlog-proof: the entry is not at index ${index} of the tree of size ${checkpoint.size}: ${included.error}`);
  return ok({ checkpoint, index, cosignatures });
}
