/**
 * @module
 * Inclusion and consistency proofs, RFC 9162 §2.1.3 and §2.1.4 (the RFC 6962 proofs with the
 * verification algorithms spelled out).
 *
 * Proving reads stored hashes (tree.ts): each proof element is the hash of one node [lo, hi) of
 * the RFC 6962 tree, and the nodes are worked out first, so one `readHashes` call serves the whole
 * proof. Verifying follows RFC 9162 §2.1.3.2 and §2.1.4.2 step by step; its inputs are
 * attacker-controlled, so every failure is a `Result` with a reason and nothing throws.
 */

import { equalBytes } from "../bytes.js";
import { fail, ok, type Result } from "../result.js";
import { EMPTY_ROOT, isHash, isIndex, nodeHash, splitPoint, type Hash } from "./hash.js";
import { rangeHashes, type HashReader } from "./tree.js";

/** Node ranges [lo, hi) whose hashes make up the inclusion proof of `index` in a tree of size `n`, leaf upwards (RFC 9162 §2.1.3.1 PATH). */
export function inclusionRanges(index: number, n: number): [number, number][] {
  const out: [number, number][] = [];
  let lo = 0;
  let hi = n;
  // PATH(m, D[lo:hi]) recurses into the half holding m and appends the other half, so the
  // deepest sibling comes first: collect top-down, then reverse.
  while (hi - lo > 1) {
    const k = splitPoint(hi - lo);
    if (index - lo < k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
    }
  }
  return out.reverse();
}

/** Node ranges of the consistency proof from size `m` to size `n`, 0 < m < n (RFC 9162 §2.1.4.1 SUBPROOF). */
export function consistencyRanges(m: number, n: number): [number, number][] {
  const out: [number, number][] = [];
  let lo = 0;
  let hi = n;
  let complete = true; // SUBPROOF's b: the old tree is a complete subtree of the range so far
  while (m - lo !== hi - lo) {
    const k = splitPoint(hi - lo);
    if (m - lo <= k) {
      out.push([lo + k, hi]);
      hi = lo + k;
    } else {
      out.push([lo, lo + k]);
      lo += k;
      complete = false;
    }
  }
  if (!complete) out.push([lo, hi]);
  return out.reverse();
}

/** The inclusion proof of entry `index` in the tree of the first `n` records. */
export async function inclusionProof(n: number, index: number, reader: HashReader): Promise<Result<Hash[]>> {
  if (!isIndex(n) || !isIndex(index)) return fail("tree size and index must be non-negative safe integers");
  if (index >= n) return fail(`index ${index} is not in a tree of size ${n}`);
  return rangeHashes(inclusionRanges(index, n), reader);
}

/**
 * The consistency proof that the tree of the first `m` records is a prefix of the tree of the
 * first `n` (empty when m is 0 or m = n). The tree size `n` comes first, as in `inclusionProof`.
 */
export async function consistencyProof(n: number, m: number, reader: HashReader): Promise<Result<Hash[]>> {
  if (!isIndex(m) || !isIndex(n)) return fail("tree sizes must be non-negative safe integers");
  if (m > n) return fail(`old size ${m} is larger than new size ${n}`);
  if (m === 0 || m === n) return ok([]);
  return rangeHashes(consistencyRanges(m, n), reader);
}

function checkProof(proof: unknown, expected: number): Result<readonly Hash[]> {
  if (!Array.isArray(proof)) return fail("proof is not a list of hashes");
  if (proof.length !== expected) return fail(`proof has ${proof.length} hashes, expected ${expected}`);
  for (let i = 0; i < proof.length; i++) if (!isHash(proof[i])) return fail(`proof hash ${i} is not 32 bytes`);
  return ok(proof as Hash[]);
}

const odd = (x: number) => x % 2 === 1;
const half = (x: number) => Math.floor(x / 2);

/**
 * Checks that `leaf` (a leaf hash) is entry `index` of the tree of size `n` whose root is `root`,
 * by RFC 9162 §2.1.3.2. The proof must be exactly as long as the tree's shape demands.
 */
export async function verifyInclusion(proof: readonly Hash[], n: number, index: number, leaf: Hash, root: Hash): Promise<Result<true>> {
  if (!isIndex(n) || !isIndex(index)) return fail("tree size and index must be non-negative safe integers");
  // Step 1.
  if (index >= n) return fail(`index ${index} is not in a tree of size ${n}`);
  if (!isHash(leaf)) return fail("leaf hash is not 32 bytes");
  if (!isHash(root)) return fail("root hash is not 32 bytes");
  const checked = checkProof(proof, inclusionRanges(index, n).length);
  if (!checked.ok) return checked;
  // The exact length check above already implies the two `sn` checks below (step 4's and step
  // 5's); they stay, as the RFC's own guard against a proof of the wrong shape.
  // Steps 2–4.
  let fn = index;
  let sn = n - 1;
  let r = leaf;
  for (const p of checked.value) {
    if (sn === 0) return fail("proof is longer than the path to the root");
    if (odd(fn) || fn === sn) {
      r = await nodeHash(p, r);
      if (!odd(fn)) {
        while (!odd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 5.
  if (sn !== 0) return fail("proof is shorter than the path to the root");
  if (!equalBytes(r, root)) return fail(`inclusion proof for index ${index} does not lead to the root of the tree of size ${n}`);
  return ok(true);
}

/**
 * Checks that the tree of size `m` with root `oldRoot` is a prefix of the tree of size `n` with
 * root `newRoot`, by RFC 9162 §2.1.4.2. The new size `n` comes first, as in `verifyInclusion`; a
 * caller that swaps the sizes gets m > n, which fails. Edge cases, stricter than the RFC's
 * silence: m = n needs an empty proof and equal roots; m = 0 needs an empty proof and the
 * empty-tree root.
 */
export async function verifyConsistency(proof: readonly Hash[], n: number, m: number, oldRoot: Hash, newRoot: Hash): Promise<Result<true>> {
  if (!isIndex(m) || !isIndex(n)) return fail("tree sizes must be non-negative safe integers");
  if (m > n) return fail(`old size ${m} is larger than new size ${n}: the log went back in time`);
  if (!isHash(oldRoot) || !isHash(newRoot)) return fail("root hash is not 32 bytes");
  if (m === 0 || m === n) {
    const checked = checkProof(proof, 0);
    if (!checked.ok) return checked;
    if (m === 0 && !equalBytes(oldRoot, EMPTY_ROOT)) return fail("the old root of an empty tree is not the empty-tree hash");
    if (m === n && !equalBytes(oldRoot, newRoot)) return fail(`two different roots for tree size ${n}`);
    return ok(true);
  }
  const checked = checkProof(proof, consistencyRanges(m, n).length);
  if (!checked.ok) return checked;
  // Step 1 (an empty proof) cannot happen here: 0 < m < n always needs at least one hash.
  // Step 2: if m is a power of two, the old root is itself the first node of the path.
  const path = isPowerOfTwo(m) ? [oldRoot, ...checked.value] : checked.value;
  // Steps 3–4.
  let fn = m - 1;
  let sn = n - 1;
  while (odd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  // Step 5.
  let fr = path[0]!;
  let sr = path[0]!;
  // Step 6.
  for (const c of path.slice(1)) {
    if (sn === 0) return fail("consistency proof is longer than the path to the new root");
    if (odd(fn) || fn === sn) {
      [fr, sr] = await Promise.all([nodeHash(c, fr), nodeHash(c, sr)]);
      while (!odd(fn) && fn !== 0) {
        fn = half(fn);
        sn = half(sn);
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  // Step 7.
  if (sn !== 0) return fail("consistency proof is shorter than the path to the new root");
  if (!equalBytes(fr, oldRoot)) return fail(`consistency proof does not lead to the old root of size ${m}`);
  if (!equalBytes(sr, newRoot)) return fail(`consistency proof does not lead to the new root of size ${n}`);
  return ok(true);
}

function isPowerOfTwo(x: number): boolean {
  while (x > 1 && x % 2 === 0) x /= 2;
  return x === 1;
}
