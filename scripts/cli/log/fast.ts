/**
 * @module
 * The per-package hot path of the log check, synchronous and shared across packages, so that a
 * lockfile of a thousand packages whose bundles carry tlog-proofs against a few checkpoints pays
 * a few microseconds each (the core's asynchronous hashing costs ~7 µs per node in Node, and
 * an inclusion proof in a tree of 100,000 entries is 17 nodes):
 *
 * - `ProvedTree`: inclusion proofs checked against one signed root with node:crypto's one-shot
 *   SHA-256, remembering every node hash a verified proof established (path and siblings). A
 *   later proof stops hashing at the first node already known: equal hashes prove the rest of
 *   its path (collision resistance), a different hash disproves it, and the proof's remaining
 *   hashes must equal the known siblings, so a proof is accepted only if it is the valid one. The first proof against each root is also
 *   checked by the core's `verifyInclusion`, and any proof this path refuses is handed to it for
 *   the reason; if the two ever disagreed the proof is refused (fail closed).
 * - `TlogProofParser`: a strict subset of the core's `parseTlogProof` for the header lines,
 *   which skips re-checking a checkpoint note the core already accepted in an earlier proof of
 *   the same run. Anything else (an `extra` line, any deviation) goes to the core parser, so
 *   what this accepts the core accepts with the same values (test/cli/log-check.test.ts holds
 *   the two to that).
 *
 * Both are RFC 6962 / C2SP tlog-proof exactly as the core implements them; only the work is
 * shared.
 */

import * as nodeCrypto from "node:crypto";
import {
  equalBytes,
  fromBase64,
  MAX_NOTE_BYTES,
  MAX_PROOF_HASHES,
  parseTlogProof,
  TLOG_PROOF_HEADER,
  tileHashReader,
  verifyInclusion,
  type Hash,
  type HashReader,
  type Tile,
  type TlogProof,
} from "../../../src/core/index.js";
import { fail, ok, type Result } from "../../../src/core/result.js";

const oneShot = typeof nodeCrypto.hash === "function";
const scratch = Buffer.alloc(65);
const LEAF_PREFIX = Uint8Array.of(0x00);

/** SHA-256(0x01 ‖ left ‖ right), synchronously. */
export function nodeHashSync(left: Uint8Array, right: Uint8Array): Uint8Array {
  if (!oneShot) return nodeCrypto.createHash("sha256").update(Uint8Array.of(0x01)).update(left).update(right).digest();
  scratch[0] = 0x01;
  scratch.set(left, 1);
  scratch.set(right, 33);
  return nodeCrypto.hash("sha256", scratch, "buffer") as unknown as Uint8Array;
}

/** SHA-256(0x00 ‖ entry), synchronously. */
export function leafHashSync(entry: Uint8Array): Uint8Array {
  return nodeCrypto.createHash("sha256").update(LEAF_PREFIX).update(entry).digest();
}

/** The tree one signed checkpoint commits to, with the node hashes verified proofs established. */
export class ProvedTree {
  /** Node hashes by range: key = lo · 64 + depth (depth < 64), exact while lo < 2^46. */
  private readonly known = new Map<number, Uint8Array>();
  private checkedByCore = false;

  constructor(
    readonly size: number,
    readonly root: Hash,
  ) {
    this.known.set(0, root); // [0, size) at depth 0
  }

  /**
   * Whether `leaf` is entry `index` under this root, by the inclusion `proof` (leaf's sibling
   * first). The reason on failure is the core's.
   */
  async verify(proof: readonly Uint8Array[], index: number, leaf: Uint8Array): Promise<Result<true, string>> {
    const verdict = this.size < 2 ** 46 ? this.walk(proof, index, leaf) : undefined;
    if (verdict === true && this.checkedByCore) return ok(true);
    // The first proof against this root, a refused one, or a tree too large for the keys: the core decides.
    const core = await verifyInclusion(proof, this.size, index, leaf, this.root);
    if (verdict === undefined) return core;
    if (core.ok !== verdict) return fail(`inclusion proof for index ${index}: the client's two verifiers disagree (refused)`);
    if (core.ok) this.checkedByCore = true;
    return core;
  }

  /**
   * The same check over the proof's base64 lines, decoding only the hashes it hashes with: the
   * rest must be, character for character, the canonical base64 of the known siblings (so every
   * line is a valid hash of the valid proof). True: included; undefined: not shown here (the
   * caller parses and verifies the whole proof the core's way, which also gives the reason).
   */
  verifyLines(lines: readonly string[], index: number, leaf: Uint8Array): true | undefined {
    if (!this.checkedByCore || this.size >= 2 ** 46) return undefined;
    return this.walkWith(lines.length, index, leaf, (k) => fromBase64(lines[k]!), (j, key) => this.knownBase64(key) === lines[j]) ? true : undefined;
  }

  private knownBase64(key: number): string | undefined {
    let text = this.base64.get(key);
    if (text === undefined) {
      const hash = this.known.get(key);
      if (!hash) return undefined;
      this.base64.set(key, (text = Buffer.from(hash.buffer, hash.byteOffset, hash.length).toString("base64")));
    }
    return text;
  }

  private readonly base64 = new Map<number, string>();

  /** True: included; false: not (or malformed). Remembers the nodes of a verified path. */
  private walk(proof: readonly Uint8Array[], index: number, leaf: Uint8Array): boolean {
    return this.walkWith(proof.length, index, leaf, (k) => proof[k], (j, key) => {
      const sibling = this.known.get(key);
      return sibling !== undefined && equalBytes(sibling, proof[j]!);
    });
  }

  private walkWith(length: number, index: number, leaf: Uint8Array, proofAt: (k: number) => Uint8Array | undefined, siblingIs: (j: number, key: number) => boolean): boolean {
    if (!Number.isSafeInteger(index) || index < 0 || index >= this.size || leaf.length !== 32) return false;
    const depth = siblingStarts(index, this.size); // of the leaf; the root is at depth 0
    if (length !== depth) return false;
    if (depth === 0) return equalBytes(leaf, this.root); // a tree of one entry
    // Sibling k (leaf upwards) starts at SIBLINGS[depth - 1 - k] (siblingStarts fills them top-down).
    let lo = index;
    let r: Uint8Array = leaf;
    let learned = 0;
    LEARNED_KEYS[learned] = index * 64 + depth; // the leaf itself is a node
    LEARNED_HASHES[learned++] = leaf;
    for (let k = 0; k < depth; k++) {
      const p = proofAt(k);
      if (!p || p.length !== 32) return false;
      const slo = SIBLINGS[depth - 1 - k]!;
      LEARNED_KEYS[learned] = slo * 64 + (depth - k); // the sibling, at the current node's depth
      LEARNED_HASHES[learned++] = p;
      if (slo < lo) {
        r = nodeHashSync(p, r);
        lo = slo;
      } else r = nodeHashSync(r, p);
      const key = lo * 64 + (depth - k - 1);
      const known = this.known.get(key);
      if (!known) {
        LEARNED_KEYS[learned] = key;
        LEARNED_HASHES[learned++] = r;
        continue;
      }
      if (!equalBytes(known, r)) return false;
      // A known node's ancestors and their siblings are known too (a verified path holds them):
      // the rest of the proof must be exactly those siblings, so that no byte of it goes unchecked.
      for (let j = k + 1; j < depth; j++) if (!siblingIs(j, SIBLINGS[depth - 1 - j]! * 64 + (depth - j))) return false;
      for (let i = 0; i < learned; i++) this.known.set(LEARNED_KEYS[i]!, LEARNED_HASHES[i]!);
      return true;
    }
    return false; // the root is known, so a path that reached it returned above
  }
}

// Scratch space of the synchronous walk (never shared across an await).
const SIBLINGS = new Float64Array(64);
const LEARNED_KEYS = new Float64Array(2 * 64 + 1);
const LEARNED_HASHES: Uint8Array[] = new Array(2 * 64 + 1);

/**
 * The first index of each sibling on the inclusion path of `index` in a tree of `size`, root
 * downwards, into SIBLINGS; returns how many (the leaf's depth). RFC 9162 §2.1.3.1 PATH, as
 * core `inclusionRanges` computes it, without allocating.
 */
function siblingStarts(index: number, size: number): number {
  let n = 0;
  let lo = 0;
  let hi = size;
  while (hi - lo > 1) {
    const m = hi - lo;
    // The largest power of two strictly less than m.
    let k = m <= 2 ** 32 ? 2 ** (31 - Math.clz32(m - 1)) : 1;
    if (m > 2 ** 32) while (k * 2 < m) k *= 2;
    if (index - lo < k) {
      SIBLINGS[n++] = lo + k;
      hi = lo + k;
    } else {
      SIBLINGS[n++] = lo;
      lo += k;
    }
  }
  return n;
}

const HEADER = `${TLOG_PROOF_HEADER}\n`;
const DECIMAL = /^(?:0|[1-9][0-9]{0,15})$/;
const MAX_TEXT = MAX_NOTE_BYTES + 4096 + 16 * 1024 * 2;

/** Parses tlog-proofs, checking each distinct checkpoint note once per run through the core. */
export class TlogProofParser {
  private readonly accepted = new Set<string>();

  parse(text: string): Result<TlogProof, string> {
    const quick = this.quick(text);
    if (quick) return ok(quick);
    const parsed = parseTlogProof(text);
    if (parsed.ok && parsed.value.extra === undefined) this.accepted.add(parsed.value.checkpoint);
    return parsed;
  }

  /** The header lines without `extra`, and a checkpoint the core accepted before; else undefined. */
  private quick(text: string): TlogProof | undefined {
    const lines = this.quickLines(text);
    if (!lines) return undefined;
    const proof: Uint8Array[] = [];
    for (const line of lines.lines) {
      const hash = fromBase64(line);
      if (!hash || hash.length !== 32) return undefined;
      proof.push(hash);
    }
    return { index: lines.index, proof, checkpoint: lines.checkpoint };
  }

  /**
   * The index, the proof's lines (NOT decoded or checked: `ProvedTree.verifyLines` checks each
   * one it relies on) and the checkpoint, when the header has the plain shape and the checkpoint
   * note is one the core accepted before in this run; else undefined.
   */
  quickLines(text: string): { index: number; lines: string[]; checkpoint: string } | undefined {
    if (text.length > MAX_TEXT || !text.startsWith(HEADER)) return undefined;
    let at = HEADER.length;
    let end = text.indexOf("\n", at);
    if (end < 0) return undefined;
    const indexLine = text.slice(at, end);
    if (!indexLine.startsWith("index ")) return undefined;
    const digits = indexLine.slice("index ".length);
    if (!DECIMAL.test(digits)) return undefined;
    const index = Number(digits);
    if (!Number.isSafeInteger(index)) return undefined;
    at = end + 1;
    const lines: string[] = [];
    for (;;) {
      end = text.indexOf("\n", at);
      if (end < 0) return undefined;
      if (end === at) break;
      if (lines.length === MAX_PROOF_HASHES) return undefined;
      lines.push(text.slice(at, end));
      at = end + 1;
    }
    const checkpoint = text.slice(end + 1);
    return this.accepted.has(checkpoint) ? { index, lines, checkpoint } : undefined;
  }
}

/**
 * A HashReader for the tree of size `n` over its tiles: the core's `tileHashReader`, hashing the
 * spans of tile hashes with node:crypto synchronously (a hash at tree level 8·L + 7 is 127 node
 * hashes). Nothing it returns is trusted: every hash only counts inside a proof the core verifies
 * against a signed root, so a mistake here could fail a proof, never pass one.
 */
export function fastTileHashReader(n: number, readTiles: (tiles: readonly Tile[]) => Promise<readonly Uint8Array[]>): HashReader {
  return tileHashReader(n, { readTiles }, spanHash);
}

/** The hash of `span` (a power of two) consecutive tile hashes from `offset`: the subtree above them. */
function spanHash(data: Uint8Array, offset: number, span: number): Hash {
  let hashes: Uint8Array[] = [];
  for (let i = offset; i < offset + span; i++) hashes.push(data.subarray(i * 32, (i + 1) * 32));
  while (hashes.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i < hashes.length; i += 2) next.push(nodeHashSync(hashes[i]!, hashes[i + 1]!));
    hashes = next;
  }
  return Uint8Array.from(hashes[0]!);
}
