/**
 * @module
 * The log's Merkle tree as a sequence of stored hashes, in the order a log appends them.
 *
 * Every complete subtree of the tree — the hash at level L (height above the leaves) and index n,
 * covering entries [n·2^L, (n+1)·2^L) — is written once, as soon as its last leaf arrives, and
 * never changes (Crosby and Wallach, "Efficient Data Structures for Tamper-Evident Logging",
 * USENIX Security 2009; the same layout as Go's golang.org/x/mod/sumdb/tlog). Appending record x
 * writes its leaf hash and then one hash per trailing one bit of x, the subtrees it completes, so
 *
 *     storedHashCount(n)   = 2n − popcount(n)
 *     storedHashIndex(L, n) = 2m − popcount(m) + L,  where m = (n+1)·2^L − 1
 *
 * The hash of a tree of any size, and every proof, is computed from these stored hashes: a range
 * [lo, hi) of the RFC 6962 tree splits into at most log2 complete subtrees (its binary
 * decomposition from lo), and its hash folds them right to left (`foldRight`).
 *
 * Storage is one method, `HashReader.readHashes`; its answers are re-checked here (count and
 * length), never trusted.
 */

import { fail, ok, type MaybePromise, type Result } from "../result.js";
import { foldRight, isHash, isIndex, nodeHash, popcount, trailingOnes, type Hash } from "./hash.js";

/** Reads stored hashes by their storage index (see `storedHashIndex`), in the order asked. */
export interface HashReader {
  readHashes(indexes: readonly number[]): MaybePromise<readonly Hash[]>;
}

/** A complete subtree: level L (0 = leaves) and index n, covering entries [n·2^L, (n+1)·2^L). */
export interface Subtree {
  level: number;
  index: number;
}

/** Number of hashes stored for a tree of `n` records. */
export function storedHashCount(n: number): number {
  if (!isIndex(n)) throw new RangeError(`"n" expected a non-negative safe integer, got ${n}`);
  return 2 * n - popcount(n);
}

/** Storage index of the hash at `level` and `index` (throws RangeError past 2^53). */
export function storedHashIndex(level: number, index: number): number {
  if (!isIndex(level) || level > 52 || !isIndex(index)) throw new RangeError(`no stored hash at level ${level}, index ${index}`);
  const m = (index + 1) * 2 ** level - 1;
  const result = 2 * m - popcount(m) + level;
  if (!Number.isSafeInteger(result)) throw new RangeError(`no stored hash at level ${level}, index ${index}`);
  return result;
}

/** The inverse of `storedHashIndex`. */
export function splitStoredHashIndex(stored: number): Subtree {
  if (!isIndex(stored)) throw new RangeError(`"stored" expected a non-negative safe integer, got ${stored}`);
  // f(x) = 2x − popcount(x) is where leaf x is stored; it grows by 1 + trailingOnes(x) per step,
  // so the largest x with f(x) ≤ stored is within 27 steps of stored/2.
  let x = Math.floor(stored / 2);
  while (2 * (x + 1) - popcount(x + 1) <= stored) x++;
  const level = stored - (2 * x - popcount(x));
  return { level, index: Math.floor(x / 2 ** level) };
}

/** The complete subtrees that make up the range [lo, hi), left to right. `lo` must start a subtree at least as large as the range, as every range in an RFC 6962 tree or proof does. */
export function rangeSubtrees(lo: number, hi: number): Subtree[] {
  const out: Subtree[] = [];
  while (lo < hi) {
    let level = 0;
    while (lo % 2 ** (level + 1) === 0 && lo + 2 ** (level + 1) <= hi) level++;
    out.push({ level, index: lo / 2 ** level });
    lo += 2 ** level;
  }
  return out;
}

async function readChecked(reader: HashReader, indexes: readonly number[]): Promise<Result<readonly Hash[]>> {
  if (indexes.length === 0) return ok([]);
  const hashes = await reader.readHashes(indexes);
  if (!Array.isArray(hashes) || hashes.length !== indexes.length) {
    return fail(`hash reader returned ${Array.isArray(hashes) ? hashes.length : "no"} hashes for ${indexes.length} indexes`);
  }
  for (let i = 0; i < hashes.length; i++) {
    if (!isHash(hashes[i])) return fail(`hash reader returned a malformed hash for stored index ${indexes[i]}`);
  }
  return ok(hashes);
}

/**
 * The hashes of several ranges [lo, hi) of a tree, with one call to the reader. Each range must
 * be a node of the RFC 6962 tree (as every proof element is) and lie within the stored records.
 */
export async function rangeHashes(ranges: readonly (readonly [number, number])[], reader: HashReader): Promise<Result<Hash[]>> {
  const parts = ranges.map(([lo, hi]) => rangeSubtrees(lo, hi));
  const indexes = parts.flatMap((subtrees) => subtrees.map((s) => storedHashIndex(s.level, s.index)));
  const read = await readChecked(reader, indexes);
  if (!read.ok) return read;
  let offset = 0;
  const folds = parts.map((subtrees) => {
    const slice = read.value.slice(offset, offset + subtrees.length);
    offset += subtrees.length;
    return foldRight(slice);
  });
  return ok(await Promise.all(folds));
}

/** The root hash (RFC 6962 MTH) of the tree made of the first `n` records. */
export async function treeHash(n: number, reader: HashReader): Promise<Result<Hash>> {
  if (!isIndex(n)) return fail(`tree size ${n} is not a non-negative safe integer`);
  const hashes = await rangeHashes([[0, n]], reader);
  return hashes.ok ? ok(hashes.value[0]!) : hashes;
}

/**
 * The hashes to append to storage for record `n`, given its leaf hash and a reader of the hashes
 * stored for records 0..n−1: the leaf hash, then the subtrees it completes, bottom up. After
 * appending, the store holds `storedHashCount(n + 1)` hashes.
 */
export async function storedHashes(n: number, leaf: Hash, reader: HashReader): Promise<Result<Hash[]>> {
  if (!isIndex(n)) return fail(`record index ${n} is not a non-negative safe integer`);
  if (!isHash(leaf)) return fail("leaf hash is not 32 bytes");
  const completes = trailingOnes(n);
  const siblings: number[] = [];
  for (let level = 0; level < completes; level++) siblings.push(storedHashIndex(level, Math.floor(n / 2 ** level) - 1));
  const read = await readChecked(reader, siblings);
  if (!read.ok) return read;
  const out = [leaf];
  let hash = leaf;
  for (const sibling of read.value) {
    hash = await nodeHash(sibling, hash);
    out.push(hash);
  }
  return ok(out);
}
