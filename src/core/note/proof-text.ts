/**
 * @module
 * C2SP transparency log proofs (c2sp.org/tlog-proof@v1, files `*.tlog-proof`): an entry's index,
 * its inclusion proof and the checkpoint it is included in, verifiable offline.
 *
 *     c2sp.org/tlog-proof@v1
 *     [extra <base64 of opaque, UNAUTHENTICATED data>]
 *     index <zero-based entry index, decimal, no leading zeros>
 *     <base64 of a 32-byte hash>       0 to 63 lines: the RFC 6962 §2.1.1 inclusion proof,
 *     …                                from the leaf's sibling up to the root's child
 *     <empty line>
 *     <the checkpoint note, verbatim, with its signatures and cosignatures>
 *
 * Example (index 0 of a 2-leaf tree: one proof hash):
 *
 *     c2sp.org/tlog-proof@v1
 *     index 0
 *     <base64 of leaf hash 1>
 *
 *     example.com/log
 *     2
 *     <base64 of the root>
 *
 *     — example.com/log <base64 signature>
 *
 * `parseTlogProof` is syntax only, and strict: header, canonical base64 and decimals, at most 63
 * proof lines (a tree of 2^63 leaves), a syntactically valid checkpoint note. It verifies nothing:
 * open the checkpoint with `openCheckpoint` and check the inclusion proof against its root (tlog/).
 * `extra` is never to be trusted as is; the application recomputes what it claims.
 */

import { fromBase64, fromUtf8, toBase64 } from "../bytes.js";
import { fail, ok, type Result } from "../result.js";
import { HASH_SIZE } from "../tlog/hash.js";
import { parseCheckpoint, parseDecimal } from "./checkpoint.js";
import { MAX_NOTE_BYTES, parseNote } from "./note.js";

export const TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1";
export const MAX_PROOF_HASHES = 63;
export const MAX_EXTRA_BYTES = 16 * 1024;

export interface TlogProof {
  /** Opaque application data; unauthenticated. Absent when there is no `extra` line. */
  readonly extra?: Uint8Array;
  readonly index: number;
  /** The inclusion proof: 32-byte hashes, leaf's sibling first. */
  readonly proof: readonly Uint8Array[];
  /** The checkpoint note, verbatim (text, blank line, signature lines). */
  readonly checkpoint: string;
}

/** The proof's text. Throws RangeError for a field that would not parse back. */
export function formatTlogProof(proof: TlogProof): string {
  const { extra, index, proof: hashes, checkpoint } = proof;
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`"index" expected a non-negative safe integer, got ${index}`);
  if (hashes.length > MAX_PROOF_HASHES || hashes.some((h) => !(h instanceof Uint8Array) || h.length !== HASH_SIZE)) {
    throw new RangeError(`"proof" expected at most ${MAX_PROOF_HASHES} hashes of 32 bytes`);
  }
  if (extra !== undefined && (!(extra instanceof Uint8Array) || extra.length > MAX_EXTRA_BYTES)) throw new RangeError(`"extra" expected at most ${MAX_EXTRA_BYTES} bytes`);
  const syntax = checkCheckpointNote(checkpoint);
  if (syntax) throw new RangeError(`"checkpoint" ${syntax}`);
  const lines = [TLOG_PROOF_HEADER];
  if (extra !== undefined) lines.push(`extra ${toBase64(extra)}`);
  lines.push(`index ${index}`, ...hashes.map(toBase64), "");
  return `${lines.join("\n")}\n${checkpoint}`;
}

/** Parses a tlog-proof (attacker-controlled) strictly; the reason on failure. Never throws. */
export function parseTlogProof(input: string | Uint8Array): Result<TlogProof, string> {
  let text: string;
  if (input instanceof Uint8Array) {
    if (input.length > MAX_NOTE_BYTES + 4096 + MAX_EXTRA_BYTES * 2) return fail("proof too large");
    try {
      text = fromUtf8(input);
    } catch {
      return fail("invalid UTF-8");
    }
  } else if (typeof input === "string") {
    text = input;
  } else {
    return fail("not a proof");
  }
  if (text.length > MAX_NOTE_BYTES + 4096 + MAX_EXTRA_BYTES * 2) return fail("proof too large");
  let at = 0;
  const line = (): string | undefined => {
    const end = text.indexOf("\n", at);
    if (end < 0) return undefined;
    const out = text.slice(at, end);
    at = end + 1;
    return out;
  };
  if (line() !== TLOG_PROOF_HEADER) return fail("missing the c2sp.org/tlog-proof@v1 header");
  let next = line();
  let extra: Uint8Array | undefined;
  if (next?.startsWith("extra ")) {
    const data = fromBase64(next.slice("extra ".length));
    if (!data) return fail("extra is not canonical base64");
    if (data.length > MAX_EXTRA_BYTES) return fail("extra too large");
    extra = data;
    next = line();
  }
  if (!next?.startsWith("index ")) return fail("missing the index line");
  const index = parseDecimal(next.slice("index ".length));
  if (index === undefined) return fail("index is not a canonical decimal");
  const proof: Uint8Array[] = [];
  for (;;) {
    const hashLine = line();
    if (hashLine === undefined) return fail("missing the blank line before the checkpoint");
    if (hashLine === "") break;
    if (proof.length === MAX_PROOF_HASHES) return fail(`more than ${MAX_PROOF_HASHES} proof hashes`);
    const hash = fromBase64(hashLine);
    if (!hash || hash.length !== HASH_SIZE) return fail("proof hash is not the base64 of 32 bytes");
    proof.push(hash);
  }
  const checkpoint = text.slice(at);
  const syntax = checkCheckpointNote(checkpoint);
  if (syntax) return fail(syntax);
  return ok(extra === undefined ? { index, proof, checkpoint } : { extra, index, proof, checkpoint });
}

function checkCheckpointNote(checkpoint: string): string | undefined {
  if (typeof checkpoint !== "string") return "checkpoint is not text";
  const note = parseNote(checkpoint);
  if (!note.ok) return note.error.code === "malformed" ? `checkpoint note: ${note.error.reason}` : "checkpoint note is malformed";
  const body = parseCheckpoint(note.value.text);
  return body.ok ? undefined : `checkpoint: ${body.error}`;
}
