/**
 * The log check's fast paths (scripts/cli/log/fast.ts, frontier.ts) held to the core they stand
 * in for: `ProvedTree` accepts exactly the proofs `verifyInclusion` accepts (with its node cache
 * warm or cold; its lazy path over base64 lines never accepts one the core refuses), `TlogProofParser` returns what `parseTlogProof` returns or refuses what it
 * refuses, `fastTileHashReader` reads the hashes `tileHashReader` reads, and the monitor's
 * `Frontier` gives the root `treeHash` gives.
 */

import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import "../../scripts/cli/native-ed25519.js";
import {
  formatTilePath,
  gapEntry,
  inclusionProof,
  leafHash,
  parseTlogProof,
  readTileData,
  storedHashIndex,
  tileHashReader,
  toBase64,
  verifyInclusion,
  type Tile,
} from "../../src/core/index.js";
import { fastTileHashReader, leafHashSync, nodeHashSync, ProvedTree, TlogProofParser } from "../../scripts/cli/log/fast.js";
import { Frontier } from "../../scripts/cli/log/frontier.js";
import { LogTree, registryKey } from "../helpers/fake-log.js";

let tree: LogTree;
const SIZE = 1000;

beforeAll(async () => {
  tree = new LogTree("https://registry.test", await registryKey());
  for (let i = 0; i < SIZE; i++) await tree.append(gapEntry(i));
});

describe("sync hashes", () => {
  it("equal the core's", async () => {
    const entry = gapEntry(7);
    expect(toBase64(leafHashSync(entry))).toBe(toBase64(await leafHash(entry)));
    const a = await leafHash(gapEntry(1));
    const b = await leafHash(gapEntry(2));
    const { nodeHash } = await import("../../src/core/index.js");
    expect(toBase64(nodeHashSync(a, b))).toBe(toBase64(await nodeHash(a, b)));
  });
});

describe("ProvedTree agrees with verifyInclusion", () => {
  it("on genuine proofs (cache cold and warm) and on proofs with one hash, the index or the leaf changed", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: SIZE }),
        fc.array(fc.nat(), { minLength: 1, maxLength: 8 }),
        fc.nat(),
        fc.constantFrom("none", "hash", "index", "leaf", "drop", "extra"),
        async (size, picks, pick, change) => {
          const root = await tree.root(size);
          const proved = new ProvedTree(size, root);
          for (const p of picks) {
            // Warm the cache with genuine proofs.
            const index = p % size;
            const proof = await inclusionProof(size, index, tree.reader);
            if (!proof.ok) throw new Error(proof.error);
            expect((await proved.verify(proof.value, index, await leafHash(tree.entries[index]!))).ok).toBe(true);
          }
          const index = pick % size;
          const genuine = await inclusionProof(size, index, tree.reader);
          if (!genuine.ok) throw new Error(genuine.error);
          let proof: Uint8Array[] = genuine.value.map((h) => Uint8Array.from(h));
          let claimed = index;
          let leaf: Uint8Array = await leafHash(tree.entries[index]!);
          if (change === "hash" && proof.length > 0) {
            const hash = proof[pick % proof.length]!;
            hash[pick % 32] = hash[pick % 32]! ^ (1 + (pick % 255));
          }
          if (change === "index") claimed = (index + 1 + (pick % size)) % size;
          if (change === "leaf") leaf = await leafHash(tree.entries[(index + 1) % SIZE]!);
          if (change === "drop") proof = proof.slice(1);
          if (change === "extra") proof = [...proof, root];
          const core = await verifyInclusion(proof, size, claimed, leaf, root);
          // The lazy path over base64 lines: it may decline (undefined), never accept what the core refuses.
          const lines = proof.map((h) => toBase64(h));
          if (change === "hash" && lines.length > 0) lines[pick % lines.length] = `${lines[pick % lines.length]!.slice(0, -2)}A=`;
          const lazy = proved.verifyLines(lines, claimed, leaf);
          const linesChanged = lines.join("\n") !== proof.map((h) => toBase64(h)).join("\n");
          if (lazy === true) expect(core.ok && !linesChanged).toBe(true);
          const fast = await proved.verify(proof, claimed, leaf);
          expect(fast.ok).toBe(core.ok);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe("TlogProofParser agrees with parseTlogProof", () => {
  it("on proofs sharing a checkpoint, with any byte changed", async () => {
    const checkpoint = await tree.checkpoint(SIZE);
    const proofs = await Promise.all([0, 1, 17, 500, 999].map((i) => tree.tlogProof(i, SIZE, checkpoint)));
    const parser = new TlogProofParser();
    for (const text of proofs) expect(parser.parse(text)).toEqual(parseTlogProof(text));
    await fc.assert(
      fc.property(fc.constantFrom(...proofs), fc.nat(), fc.integer({ min: 1, max: 255 }), (text, at, delta) => {
        const bytes = Buffer.from(text, "utf8");
        bytes[at % bytes.length] = (bytes[at % bytes.length]! + delta) % 256;
        const changed = bytes.toString("utf8");
        const core = parseTlogProof(changed);
        const fast = parser.parse(changed);
        expect(fast.ok).toBe(core.ok);
        if (core.ok && fast.ok) expect(fast.value).toEqual(core.value);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("fastTileHashReader agrees with tileHashReader", () => {
  it("for every stored hash a proof may need, over tiles of several sizes", async () => {
    for (const size of [1, 255, 256, 257, 513, SIZE]) {
      const readTiles = async (tiles: readonly Tile[]) =>
        Promise.all(
          tiles.map(async (tile) => {
            const data = await readTileData(tile, tree.reader);
            if (!data.ok) throw new Error(`${formatTilePath(tile)}: ${data.error}`);
            return data.value;
          }),
        );
      const core = tileHashReader(size, { readTiles });
      const fast = fastTileHashReader(size, readTiles);
      const indexes: number[] = [];
      for (let level = 0; 2 ** level <= size; level++) for (let n = 0; (n + 1) * 2 ** level <= size; n += Math.max(1, Math.floor(size / 2 ** level / 7))) indexes.push(storedHashIndex(level, n));
      const [a, b] = await Promise.all([core.readHashes(indexes), fast.readHashes(indexes)]);
      expect(b.map(toBase64)).toEqual(a.map(toBase64));
    }
  });
});

describe("Frontier", () => {
  it("gives treeHash's root for every size, from any start", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 300 }), async (start, more) => {
        const ranges: [number, number][] = [];
        let lo = 0;
        for (let bit = 2 ** 20; bit >= 1; bit /= 2) if (lo + bit <= start) ranges.push([lo, (lo += bit)]);
        const { rangeHashes } = await import("../../src/core/index.js");
        const hashes = await rangeHashes(ranges, tree.reader);
        if (!hashes.ok) throw new Error(hashes.error);
        const frontier = new Frontier(start, hashes.value);
        expect(toBase64(await frontier.root())).toBe(toBase64(await tree.root(start)));
        for (let i = start; i < start + more; i++) await frontier.append(await leafHash(tree.entries[i]!));
        expect(toBase64(await frontier.root())).toBe(toBase64(await tree.root(start + more)));
      }),
      { numRuns: 60 },
    );
  });
});
