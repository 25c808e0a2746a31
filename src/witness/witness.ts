/**
 * @module
 * add-checkpoint (c2sp.org/tlog-witness), without HTTP: the checks in the spec's order, each
 * refusal a typed outcome the routes turn into its status code.
 *
 *     malformed body, note or checkpoint         400 malformed
 *     origin not in WITNESS_LOGS                 404 unknown-log
 *     no valid signature by the log's key(s)     403 untrusted      (a bad one by a trusted key too)
 *     old size > checkpoint size                 400 old-too-large
 *     old size ≠ the size last cosigned          409 conflict       (body: that size)
 *     old = checkpoint size, other root hash     409 fork
 *     consistency proof does not verify          422 inconsistent
 *     otherwise: cosign, compare-and-swap, then 200 cosigned; a lost swap is a 409 conflict
 *
 * The cosignature is made before the swap and returned only after it: no cosignature leaves the
 * witness for a checkpoint it has not recorded, and a request that loses the race gets nothing.
 */

import {
  EMPTY_ROOT,
  equalBytes,
  noteErrorText,
  openNote,
  parseCheckpoint,
  parseNote,
  signNote,
  verifyConsistency,
  type Checkpoint,
} from "../core/index.js";
import type { WitnessConfig } from "./config.js";
import { parseAddCheckpoint } from "./request.js";
import type { WitnessStore } from "./store.js";

export type AddCheckpointOutcome =
  | { readonly kind: "cosigned"; readonly checkpoint: Checkpoint; readonly oldSize: number; readonly cosignature: string }
  | { readonly kind: "malformed"; readonly reason: string }
  | { readonly kind: "unknown-log" }
  | { readonly kind: "untrusted"; readonly reason: string }
  | { readonly kind: "old-too-large"; readonly oldSize: number; readonly size: number }
  | { readonly kind: "conflict"; readonly origin: string; readonly oldSize: number; readonly latestSize: number }
  | { readonly kind: "fork"; readonly origin: string; readonly size: number }
  | { readonly kind: "inconsistent"; readonly origin: string; readonly oldSize: number; readonly size: number; readonly reason: string };

export interface AddCheckpointDeps {
  readonly config: WitnessConfig;
  readonly store: WitnessStore;
  /** The time recorded with a cosigned checkpoint (the cosignature's own comes from the config's clock). */
  readonly now?: () => Date;
}

/** Handles one add-checkpoint body. Throws only for storage failures (a 500). */
export async function addCheckpoint(body: Uint8Array, deps: AddCheckpointDeps): Promise<AddCheckpointOutcome> {
  const { config, store } = deps;
  const request = parseAddCheckpoint(body);
  if (!request.ok) return { kind: "malformed", reason: request.error };
  const { oldSize, proof, note } = request.value;

  // Syntax first, so that the origin can be looked up: a note that does not parse is a 400, not a 403.
  const parsedNote = parseNote(note);
  if (!parsedNote.ok) return { kind: "malformed", reason: noteErrorText(parsedNote.error) };
  const parsed = parseCheckpoint(parsedNote.value.text);
  if (!parsed.ok) return { kind: "malformed", reason: `not a checkpoint: ${parsed.error}` };
  const log = config.logs.get(parsed.value.origin);
  if (!log) return { kind: "unknown-log" };

  // Signatures by other keys (other witnesses' cosignatures, say) are ignored, as the spec says;
  // every signature by one of the log's keys must verify, as the core's note rules say.
  const opened = await openNote(note, log.verifiers);
  if (!opened.ok) return { kind: "untrusted", reason: noteErrorText(opened.error) };
  const checkpoint = parsed.value;
  const { origin, size, rootHash } = checkpoint;

  if (oldSize > size) return { kind: "old-too-large", oldSize, size };
  const latest = await store.latest(origin);
  const latestSize = latest?.size ?? 0;
  if (oldSize !== latestSize) return { kind: "conflict", origin, oldSize, latestSize };
  // Never cosigned: the old tree is the empty one, whose root is SHA-256("").
  const oldRoot = latest?.rootHash ?? EMPTY_ROOT;
  if (size === oldSize && !equalBytes(rootHash, oldRoot)) return { kind: "fork", origin, size };
  // RFC 6962 consistency, by the core: an empty proof from 0 and for an unchanged size, exact length otherwise.
  const consistent = await verifyConsistency(proof, size, oldSize, oldRoot, rootHash);
  if (!consistent.ok) return { kind: "inconsistent", origin, oldSize, size, reason: consistent.error };

  // The signature lines signNote appends after the text and its blank line are the response.
  const text = opened.value.text;
  const signed = await signNote(text, config.cosigner);
  if (!signed.ok) throw new Error(`cosigning failed: ${noteErrorText(signed.error)}`);
  const cosignature = signed.value.slice(text.length + 1);

  const expected = latest ? { size: latest.size, rootHash: latest.rootHash } : undefined;
  const updatedAt = (deps.now?.() ?? new Date()).toISOString();
  const swap = await store.swap(origin, expected, { size, rootHash, note, cosignature, updatedAt });
  if (!swap.swapped) return { kind: "conflict", origin, oldSize, latestSize: swap.current?.size ?? 0 };
  return { kind: "cosigned", checkpoint, oldSize, cosignature };
}
