/**
 * @module
 * C2SP checkpoints (c2sp.org/tlog-checkpoint@v1.0.0): the signed tree head of a transparency log,
 * as the text of a signed note.
 *
 *     <origin>                 non-empty; by convention the schemeless log URL
 *     <tree size>              ASCII decimal, no leading zeros ("0" for the empty tree)
 *     <root hash>              base64 of the 32-byte RFC 6962 root
 *     [<extension line>]…      optional, opaque, each non-empty (NOT RECOMMENDED)
 *
 * every line ending in a newline. Example (the spec's):
 *
 *     example.com/behind-the-sofa
 *     20852163
 *     CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
 *
 * Parsing is strict: exactly one text parses to a checkpoint, so `formatCheckpoint(parse(t)) === t`.
 * The tree size is limited to 2^53 - 1 (a JavaScript safe integer), far beyond any real log.
 *
 * `openCheckpoint` opens a checkpoint note for one log: the origin must be the expected one and the
 * log's own key must have signed; witness keys, if given, are verified too (cosignature.ts), and
 * any other signature is ignored.
 */

import { fromBase64, toBase64 } from "../bytes.js";
import { fail, ok, type Result } from "../result.js";
import { HASH_SIZE } from "../tlog/hash.js";
import { hasControl, MAX_NOTE_BYTES, openNote, type Note, type NoteError, type NoteSignature, type NoteVerifier } from "./note.js";

export interface Checkpoint {
  readonly origin: string;
  readonly size: number;
  /** The RFC 6962 root hash, 32 bytes. */
  readonly rootHash: Uint8Array;
  /** Extension lines, without their newlines. Usually none. */
  readonly extensions: readonly string[];
}

const DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/;

/** A non-negative safe integer written canonically (no sign, no leading zero), or undefined. */
export function parseDecimal(text: string): number | undefined {
  if (!DECIMAL.test(text)) return undefined;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : undefined;
}

/** Parses checkpoint note text (attacker-controlled) strictly; the reason on failure. */
export function parseCheckpoint(text: string): Result<Checkpoint, string> {
  if (typeof text !== "string") return fail("not a checkpoint");
  if (text.length > MAX_NOTE_BYTES) return fail("checkpoint too large");
  if (!text.endsWith("\n")) return fail("checkpoint does not end in a newline");
  if (hasControl(text)) return fail("checkpoint contains a control character");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) return fail("checkpoint has fewer than three lines");
  const [origin, sizeText, hashText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin === "") return fail("empty origin");
  const size = parseDecimal(sizeText);
  if (size === undefined) return fail("tree size is not a canonical decimal");
  const rootHash = fromBase64(hashText);
  if (!rootHash || rootHash.length !== HASH_SIZE) return fail("root hash is not the base64 of 32 bytes");
  if (extensions.some((line) => line === "")) return fail("empty extension line");
  return ok({ origin, size, rootHash, extensions });
}

/** Checkpoint text. Throws RangeError for a checkpoint that could not parse back. */
export function formatCheckpoint(checkpoint: Checkpoint): string {
  const { origin, size, rootHash, extensions = [] } = checkpoint;
  if (typeof origin !== "string" || origin === "" || origin.includes("\n") || hasControl(origin)) throw new RangeError(`"origin" expected a non-empty line`);
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`"size" expected a non-negative safe integer, got ${size}`);
  if (!(rootHash instanceof Uint8Array) || rootHash.length !== HASH_SIZE) throw new RangeError(`"rootHash" expected 32 bytes`);
  for (const line of extensions) {
    if (typeof line !== "string" || line === "" || line.includes("\n") || hasControl(line)) throw new RangeError(`"extensions" expected non-empty lines`);
  }
  return [origin, String(size), toBase64(rootHash), ...extensions].map((line) => `${line}\n`).join("");
}

export type CheckpointError = NoteError | { readonly code: "checkpoint"; readonly reason: string };

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly note: Note;
  /** The log's verified signature. */
  readonly logSignature: NoteSignature;
  /** Verified signatures by the given witnesses (cosignatures), in note order. */
  readonly cosignatures: readonly NoteSignature[];
}

/**
 * Opens a checkpoint note of the log `origin` signed by `log`, verifying the signatures of
 * `witnesses` too. Outcomes: the note's own errors (note.ts), or `checkpoint` when the text is
 * not a checkpoint, is for another origin, or the log did not sign it (witnesses alone are not
 * enough). Never throws.
 */
export async function openCheckpoint(
  input: string | Uint8Array,
  origin: string,
  log: NoteVerifier,
  witnesses: readonly NoteVerifier[] = [],
): Promise<Result<OpenedCheckpoint, CheckpointError>> {
  const opened = await openNote(input, [log, ...witnesses]);
  if (!opened.ok) return opened;
  const note = opened.value;
  const parsed = parseCheckpoint(note.text);
  if (!parsed.ok) return fail({ code: "checkpoint", reason: parsed.error });
  if (parsed.value.origin !== origin) return fail({ code: "checkpoint", reason: "checkpoint is for another origin" });
  const logSignature = note.sigs.find((sig) => sig.name === log.name && sig.keyHash === log.keyHash);
  if (!logSignature) return fail({ code: "checkpoint", reason: "checkpoint is not signed by the log" });
  return ok({ checkpoint: parsed.value, note, logSignature, cosignatures: note.sigs.filter((sig) => sig !== logSignature) });
}
