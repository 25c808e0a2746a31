/**
 * Test scaffolding for the tlog tests: an independent RFC 6962 Merkle tree (node:crypto, plain
 * recursion, no stored-hash layout), and a log that grows through the real code paths — stored
 * hashes appended with `storedHashes`, tiles written with `newTiles`/`readTileData` at every step.
 */
import { createHash } from "node:crypto";
import {
  formatTilePath,
  newTiles,
  readTileData,
  storedHashes,
  type Hash,
  type HashReader,
  type TileReader,
} from "../../src/core/tlog/index.js";

export const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
export const unhex = (text: string) => new Uint8Array(Buffer.from(text, "hex"));

const sha = (...parts: Uint8Array[]) => {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return new Uint8Array(h.digest());
};

export const refLeaf = (entry: Uint8Array) => sha(Uint8Array.of(0), entry);
export const refNode = (l: Uint8Array, r: Uint8Array) => sha(Uint8Array.of(1), l, r);

/** RFC 6962 §2.1 MTH, by the definition. */
export function refRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return sha();
  if (leaves.length === 1) return leaves[0]!;
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return refNode(refRoot(leaves.slice(0, k)), refRoot(leaves.slice(k)));
}

/** RFC 6962 §2.1.1 PATH, by the definition. */
export function refPath(m: number, leaves: readonly Uint8Array[]): Uint8Array[] {
  if (leaves.length <= 1) return [];
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return m < k ? [...refPath(m, leaves.slice(0, k)), refRoot(leaves.slice(k))] : [...refPath(m - k, leaves.slice(k)), refRoot(leaves.slice(0, k))];
}

/** RFC 6962 §2.1.2 PROOF(m, D[n]), by the definition. */
export function refConsistency(m: number, leaves: readonly Uint8Array[], b = true): Uint8Array[] {
  const n = leaves.length;
  if (m === n) return b ? [] : [refRoot(leaves)];
  let k = 1;
  while (k * 2 < n) k *= 2;
  return m <= k
    ? [...refConsistency(m, leaves.slice(0, k), b), refRoot(leaves.slice(k))]
    : [...refConsistency(m - k, leaves.slice(k), false), refRoot(leaves.slice(0, k))];
}

/** A log kept as stored hashes plus the tiles a sequencer would have written at every size. */
export class TestLog implements HashReader, TileReader {
  readonly hashes: Hash[] = [];
  readonly leaves: Hash[] = [];
  readonly tiles = new Map<string, Uint8Array>();
  tileReads = 0;

  get size() {
    return this.leaves.length;
  }

  readHashes(indexes: readonly number[]) {
    return indexes.map((i) => {
      const hash = this.hashes[i];
      if (!hash) throw new RangeError(`no stored hash ${i}`);
      return hash;
    });
  }

  readTiles(tiles: Parameters<TileReader["readTiles"]>[0]) {
    this.tileReads += tiles.length;
    return tiles.map((tile) => {
      const data = this.tiles.get(formatTilePath(tile));
      if (!data) throw new RangeError(`no tile ${formatTilePath(tile)}`);
      return data;
    });
  }

  /** Appends entries (as a batch: tiles are written once at the end, as a sequencer does). */
  async append(entries: readonly Uint8Array[]): Promise<void> {
    const oldSize = this.size;
    for (const entry of entries) {
      const leaf = refLeaf(entry);
      const added = await storedHashes(this.size, leaf, this);
      if (!added.ok) throw new Error(added.error);
      this.hashes.push(...added.value);
      this.leaves.push(leaf);
    }
    for (const tile of newTiles(oldSize, this.size)) {
      const data = await readTileData(tile, this);
      if (!data.ok) throw new Error(data.error);
      this.tiles.set(formatTilePath(tile), data.value);
    }
  }
}

export const entryFor = (i: number) => new TextEncoder().encode(`entry ${i}`);

export async function logOf(n: number, batch = 37): Promise<TestLog> {
  const log = new TestLog();
  for (let i = 0; i < n; i += batch) {
    await log.append(Array.from({ length: Math.min(batch, n - i) }, (_, j) => entryFor(i + j)));
  }
  return log;
}

/** Registers node:crypto's SHA-256 with the core (as the Node client would) for the heavy property tests. */
export const nodeSha256 = (data: Uint8Array) => new Uint8Array(createHash("sha256").update(data).digest());
