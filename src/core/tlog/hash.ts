/**
 * @module
 * RFC 6962 §2.1 / RFC 9162 §2.1.1 Merkle tree hashing with SHA-256, as C2SP tlog-tiles requires:
 *
 *     MTH({})       = SHA-256()
 *     leaf hash     = SHA-256(0x00 ‖ entry)
 *     interior node = SHA-256(0x01 ‖ left ‖ right)
 *
 * Hashing uses the platform's `crypto.subtle` (the core has no JS hash; see ../digest.ts), so it is
 * asynchronous; callers with many nodes should hash independent nodes together (`Promise.all`),
 * as tiles.ts does level by level. In Node each `crypto.subtle.digest` is a round trip to the
 * thread pool (about 30 µs for a 65-byte node, against 3 µs for `node:crypto`), so a host may
 * register a native synchronous SHA-256 with `useNativeSha256`, as bytes.ts `useNativeBase64`
 * does for base64; its output is re-checked, and the API stays the same.
 *
 * Sizes and indexes are JavaScript numbers restricted to safe integers (< 2^53); the helpers at
 * the end do the bit arithmetic the tree needs without the 32-bit `>>`/`&` operators.
 */

import { bufferSource, fromHex } from "../bytes.js";

/** A 32-byte SHA-256 Merkle tree hash. */
export type Hash = Uint8Array;

export const HASH_SIZE = 32;

/** MTH of the empty tree: SHA-256 of the empty string. */
export const EMPTY_ROOT: Hash = fromHex("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")!;

export function isHash(value: unknown): value is Hash {
  return value instanceof Uint8Array && value.length === HASH_SIZE;
}

/** A host's native synchronous SHA-256 (the Node client registers `node:crypto`'s). */
export type Sha256 = (data: Uint8Array) => Uint8Array;
let nativeSha256: Sha256 | undefined;

export function useNativeSha256(sha256: Sha256 | undefined): void {
  nativeSha256 = sha256;
}

async function sha256Prefixed(prefix: number, parts: readonly Uint8Array[]): Promise<Hash> {
  let length = 1;
  for (const part of parts) length += part.length;
  const input = new Uint8Array(length);
  input[0] = prefix;
  let offset = 1;
  for (const part of parts) {
    input.set(part, offset);
    offset += part.length;
  }
  if (nativeSha256) {
    const out = nativeSha256(input);
    // Plugged-in code is checked, not trusted: a wrong-sized "hash" would corrupt the tree.
    if (!(out instanceof Uint8Array) || out.length !== HASH_SIZE) throw new TypeError("the registered SHA-256 returned something other than 32 bytes");
    return out;
  }
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bufferSource(input)));
}

/** The hash of a log entry: SHA-256(0x00 ‖ entry) (RFC 6962 §2.1). */
export function leafHash(entry: Uint8Array): Promise<Hash> {
  return sha256Prefixed(0x00, [entry]);
}

/** The hash of an interior node: SHA-256(0x01 ‖ left ‖ right) (RFC 6962 §2.1). */
export async function nodeHash(left: Hash, right: Hash): Promise<Hash> {
  if (!isHash(left) || !isHash(right)) throw new RangeError(`"left" and "right" expected Uint8Array of length ${HASH_SIZE}`);
  return sha256Prefixed(0x01, [left, right]);
}

/** Folds complete-subtree hashes, left to right, into the hash of the range they cover: RFC 6962's MTH for a range split at powers of two. */
export async function foldRight(hashes: readonly Hash[]): Promise<Hash> {
  if (hashes.length === 0) return EMPTY_ROOT.slice(); // a copy: callers own what they get
  let hash = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) hash = await nodeHash(hashes[i]!, hash);
  return hash;
}

// ## Integer helpers, exact for every safe integer (JS bit operators truncate to 32 bits).

const TWO_32 = 2 ** 32;

/** True for a non-negative safe integer. */
export function isIndex(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function popcount32(x: number): number {
  x = x - ((x >>> 1) & 0x55555555);
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

/** Number of one bits of a non-negative safe integer. */
export function popcount(x: number): number {
  return popcount32(x >>> 0) + popcount32(Math.floor(x / TWO_32));
}

/** Number of trailing one bits of a non-negative safe integer. */
export function trailingOnes(x: number): number {
  let count = 0;
  while (x % 2 === 1) {
    count++;
    x = (x - 1) / 2;
  }
  return count;
}

/** The largest power of two strictly less than `n` (n ≥ 2): RFC 6962's split point k. */
export function splitPoint(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
