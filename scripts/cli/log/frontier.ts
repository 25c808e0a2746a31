/**
 * @module
 * A compact range of a Merkle tree's right edge: the hashes of the complete subtrees that make up
 * the first `size` entries (the binary decomposition of `size`, largest first), enough to append
 * entries and compute the RFC 6962 root of every size reached, with O(log n) memory.
 *
 * `countersign monitor` starts one at its resume position (hashes read from the log's tiles,
 * unauthenticated), appends the leaf hash of every entry it reads, and compares the root with
 * the signed checkpoint's: equal roots prove, by collision resistance, that the tiles' prefix and
 * every entry read are exactly the tree the log signed.
 */

import { EMPTY_ROOT, nodeHash, type Hash } from "../../../src/core/index.js";

export class Frontier {
  private readonly hashes: Hash[] = [];
  /** Leaves under each hash, powers of two, strictly decreasing. */
  private readonly sizes: number[] = [];
  private count = 0;

  /** Starts at `size` from the decomposition hashes of [0, size), largest subtree first. */
  constructor(size = 0, hashes: readonly Hash[] = []) {
    let rest = size;
    for (let bit = 2 ** 52; bit >= 1; bit /= 2) {
      if (rest >= bit) {
        this.sizes.push(bit);
        rest -= bit;
      }
    }
    if (this.sizes.length !== hashes.length) throw new RangeError(`a frontier of size ${size} has ${this.sizes.length} hashes, not ${hashes.length}`);
    this.hashes.push(...hashes);
    this.count = size;
  }

  get size(): number {
    return this.count;
  }

  /** Appends one leaf hash, merging the equal-sized subtrees it completes. */
  async append(leaf: Hash): Promise<void> {
    let hash = leaf;
    let size = 1;
    while (this.sizes.length > 0 && this.sizes[this.sizes.length - 1] === size) {
      hash = await nodeHash(this.hashes.pop()!, hash);
      this.sizes.pop();
      size *= 2;
    }
    this.hashes.push(hash);
    this.sizes.push(size);
    this.count++;
  }

  /** The root of the tree of the entries appended so far: the subtrees folded right to left. */
  async root(): Promise<Hash> {
    if (this.hashes.length === 0) return EMPTY_ROOT.slice();
    let hash = this.hashes[this.hashes.length - 1]!;
    for (let i = this.hashes.length - 2; i >= 0; i--) hash = await nodeHash(this.hashes[i]!, hash);
    return hash;
  }
}
