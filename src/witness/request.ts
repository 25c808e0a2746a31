/**
 * @module
 * The add-checkpoint request body (c2sp.org/tlog-witness), read with a size cap and split strictly:
 *
 *     "old " <size, ASCII decimal, no leading zero> "\n"
 *     <base64 of one 32-byte hash> "\n"        zero to 63 consistency-proof lines
 *     "\n"
 *     <checkpoint note: text, blank line, signature lines>
 *
 * Only the framing is parsed here; the note and the checkpoint are the core's (note.ts,
 * checkpoint.ts). Everything is attacker-controlled, so every failure is a `Result`, never a throw.
 */

import { fromBase64, fromUtf8, HASH_SIZE, type Hash, type Result, fail, ok } from "../core/index.js";

/** The spec: "The client MUST NOT send more than 63 consistency proof lines." */
export const MAX_PROOF_LINES = 63;

/**
 * Largest accepted body. A real one is an old line, at most 63 proof lines of 45 bytes (2.9 KB)
 * and a checkpoint of a few hundred bytes carrying the log's signature and maybe other witnesses'
 * cosignatures; 128 KiB leaves room for dozens of those, even post-quantum ones (~3.3 KB a line).
 */
export const MAX_BODY_BYTES = 128 * 1024;

export interface AddCheckpointRequest {
  readonly oldSize: number;
  readonly proof: readonly Hash[];
  /** The checkpoint note exactly as sent: text, blank line, signatures. */
  readonly note: string;
}

const OLD_LINE = /^old (0|[1-9][0-9]{0,15})$/;

/** Splits a request body. The reason on failure is safe to show the client (no input echoed). */
export function parseAddCheckpoint(body: Uint8Array): Result<AddCheckpointRequest, string> {
  let text: string;
  try {
    text = fromUtf8(body);
  } catch {
    return fail("body is not UTF-8");
  }
  let end = text.indexOf("\n");
  if (end < 0) return fail('body does not start with an "old <size>" line');
  const old = OLD_LINE.exec(text.slice(0, end));
  const oldSize = old ? Number(old[1]) : NaN;
  if (!Number.isSafeInteger(oldSize)) return fail('first line is not "old <size>" with a canonical decimal size');
  const proof: Hash[] = [];
  for (;;) {
    const start = end + 1;
    end = text.indexOf("\n", start);
    if (end < 0) return fail("no empty line before the checkpoint");
    if (end === start) break;
    if (proof.length === MAX_PROOF_LINES) return fail(`more than ${MAX_PROOF_LINES} consistency proof lines`);
    const hash = fromBase64(text.slice(start, end));
    if (!hash || hash.length !== HASH_SIZE) return fail(`consistency proof line ${proof.length + 1} is not the base64 of a 32-byte hash`);
    proof.push(hash);
  }
  const note = text.slice(end + 1);
  if (note === "") return fail("no checkpoint after the empty line");
  return ok({ oldSize, proof, note });
}

export type ReadBodyError = "too-large" | "unreadable";

/**
 * Reads a whole body, giving up as soon as it passes `maxBytes` (the rest is cancelled, not
 * buffered): a declared Content-Length over the cap is refused before reading anything.
 */
export async function readBody(request: Request, maxBytes = MAX_BODY_BYTES): Promise<Result<Uint8Array, ReadBodyError>> {
  const declared = request.headers.get("content-length");
  if (declared !== null && Number(declared) > maxBytes) return fail("too-large");
  if (!request.body) return ok(new Uint8Array(0));
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => undefined);
        return fail("too-large");
      }
      chunks.push(value);
    }
  } catch {
    return fail("unreadable");
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const chunk of chunks) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return ok(out);
}
