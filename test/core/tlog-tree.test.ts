import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  EMPTY_ROOT,
  consistencyProof,
  formatEntriesPath,
  formatEntryBundle,
  formatTilePath,
  tilesForSize,
  inclusionProof,
  leafHash,
  nodeHash,
  splitStoredHashIndex,
  storedHashCount,
  storedHashIndex,
  treeHash,
  useNativeSha256,
  verifyConsistency,
  verifyInclusion,
} from "../../src/core/tlog/index.js";
import { TestLog, hex, logOf, nodeSha256, refLeaf, refRoot, unhex } from "./tlog-helpers.js";

// RFC 6962 test tree (certificate-transparency merkle_tree_test.cc; transparency-dev/merkle
// proof/verify_test.go), used as data: the 8 leaves and the root of every size 0..8.
const LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"].map(unhex);
const ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
// [index (0-based), size, proof]
const INCLUSION: [number, number, string[]][] = [
  [0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]],
  [5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
  [2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]],
  [1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]],
  [0, 1, []],
];
// [m, n, proof]
const CONSISTENCY: [number, number, string[]][] = [
  [1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7", "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]],
  [6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
  [2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e", "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]],
  [6, 7, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a", "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f", "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
  [1, 1, []],
];

async function referenceLog(): Promise<TestLog> {
  const log = new TestLog();
  await log.append(LEAVES);
  return log;
}

describe("RFC 6962 hashing", () => {
  it("empty tree, leaf and node hashes", async () => {
    expect(hex(EMPTY_ROOT)).toBe(ROOTS[0]);
    expect(hex(await leafHash(new Uint8Array()))).toBe(ROOTS[1]);
    const [a, b] = await Promise.all([leafHash(LEAVES[0]!), leafHash(LEAVES[1]!)]);
    expect(hex(await nodeHash(a, b))).toBe(ROOTS[2]);
    await expect(nodeHash(a, new Uint8Array(31))).rejects.toThrow(RangeError);
  });

  it("a registered native SHA-256 gives the same hashes, and a broken one is refused", async () => {
    try {
      useNativeSha256(nodeSha256);
      expect(hex(await leafHash(new Uint8Array()))).toBe(ROOTS[1]);
      const root = await treeHash(8, await referenceLog());
      expect(root.ok && hex(root.value)).toBe(ROOTS[8]);
      useNativeSha256(() => new Uint8Array(20));
      await expect(leafHash(new Uint8Array())).rejects.toThrow(TypeError);
    } finally {
      useNativeSha256(undefined);
    }
  });

  it("leafHash agrees with the reference on random entries", async () => {
    await fc.assert(fc.asyncProperty(fc.uint8Array({ maxLength: 300 }), async (entry) => {
      expect(hex(await leafHash(entry))).toBe(hex(refLeaf(entry)));
    }));
  });

  it("the tree hash of every size 0..8 of the RFC 6962 test tree is the published root", async () => {
    const log = await referenceLog();
    for (let n = 0; n <= 8; n++) {
      const root = await treeHash(n, log);
      expect(root.ok && hex(root.value), `size ${n}`).toBe(ROOTS[n]);
    }
  });

  it.each(INCLUSION)("inclusion vector: index %i in size %i", async (index, n, proof) => {
    const log = await referenceLog();
    const made = await inclusionProof(n, index, log);
    expect(made.ok && made.value.map(hex)).toEqual(proof);
    expect(await verifyInclusion(proof.map(unhex), n, index, refLeaf(LEAVES[index]!), unhex(ROOTS[n]!))).toEqual({ ok: true, value: true });
  });

  it.each(CONSISTENCY)("consistency vector: %i to %i", async (m, n, proof) => {
    const log = await referenceLog();
    const made = await consistencyProof(n, m, log);
    expect(made.ok && made.value.map(hex)).toEqual(proof);
    expect(await verifyConsistency(proof.map(unhex), n, m, unhex(ROOTS[m]!), unhex(ROOTS[n]!))).toEqual({ ok: true, value: true });
  });
});

describe("the vector in docs/PROTOCOL.md", () => {
  it("entries a, b, c: leaf, root, inclusion proof of b, entry bundle, tile paths", async () => {
    const entries = ["a", "b", "c"].map((x) => new TextEncoder().encode(x));
    const log = new TestLog();
    await log.append(entries);
    expect(hex(await leafHash(entries[0]!))).toBe("022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c");
    const root = await treeHash(3, log);
    expect(root.ok && hex(root.value)).toBe("36642e73c2540ab121e3a6bf9545b0a24982cd830eb13d3cd19de3ce6c021ec1");
    const proof = await inclusionProof(3, 1, log);
    expect(proof.ok && proof.value.map(hex)).toEqual([
      "022a6979e6dab7aa5ae4c3e5e45f7e977112a7e63593820dbec1ec738a24f93c",
      "597fcb31282d34654c200d3418fca5705c648ebf326ec73d8ddef11841f876d8",
    ]);
    const bundle = formatEntryBundle(entries);
    expect(bundle.ok && hex(bundle.value)).toBe("000161000162000163");
    expect(tilesForSize(3).map(formatTilePath)).toEqual(["tile/0/000.p/3"]);
    expect(formatEntriesPath({ index: 0, width: 3 })).toBe("tile/entries/000.p/3");
  });
});

describe("stored hashes", () => {
  it("the first indexes follow the append order", () => {
    // leaf 0, leaf 1, node(1,0), leaf 2, leaf 3, node(1,1), node(2,0), leaf 4 …
    const order: [number, number][] = [[0, 0], [0, 1], [1, 0], [0, 2], [0, 3], [1, 1], [2, 0], [0, 4], [0, 5], [1, 2], [0, 6], [0, 7], [1, 3], [2, 1], [3, 0]];
    order.forEach(([level, index], stored) => {
      expect(storedHashIndex(level, index)).toBe(stored);
      expect(splitStoredHashIndex(stored)).toEqual({ level, index });
    });
    expect([0, 1, 2, 3, 4, 5, 8, 15, 16].map(storedHashCount)).toEqual([0, 1, 3, 4, 7, 8, 15, 26, 31]);
  });

  it("storedHashIndex and splitStoredHashIndex are inverses, up to 2^53", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 40 }), fc.integer({ min: 0, max: 2 ** 12 - 1 }), fc.integer({ min: 0, max: 2 ** 30 }), (level, hi, lo) => {
        const index = Math.floor((hi * 2 ** 30 + lo) / 2 ** level);
        const stored = storedHashIndex(level, index);
        expect(splitStoredHashIndex(stored)).toEqual({ level, index });
      }),
      { numRuns: 5_000 },
    );
    fc.assert(fc.property(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), (stored) => {
      const { level, index } = splitStoredHashIndex(stored);
      expect(storedHashIndex(level, index)).toBe(stored);
    }), { numRuns: 5_000 });
    expect(() => storedHashIndex(0, 2 ** 52 + 1)).toThrow(RangeError);
  });

  it("a growing tree: at every size the count, the root and the stored hashes match the reference", async () => {
    const log = new TestLog();
    for (let n = 1; n <= 300; n++) {
      await log.append([new TextEncoder().encode(`leaf ${n}`)]);
      expect(log.hashes.length).toBe(storedHashCount(n));
      const root = await treeHash(n, log);
      expect(root.ok && hex(root.value)).toBe(hex(refRoot(log.leaves)));
    }
    // Every stored hash is the reference root of the subtree it names.
    log.hashes.forEach((hash, stored) => {
      const { level, index } = splitStoredHashIndex(stored);
      expect(hex(hash)).toBe(hex(refRoot(log.leaves.slice(index * 2 ** level, (index + 1) * 2 ** level))));
    });
  });

  it("a reader that answers wrongly is caught, not trusted", async () => {
    const log = await logOf(10);
    expect((await treeHash(10, { readHashes: () => [] })).ok).toBe(false);
    expect((await treeHash(10, { readHashes: (ix) => ix.map(() => new Uint8Array(31)) })).ok).toBe(false);
    expect((await treeHash(-1, log)).ok).toBe(false);
    expect((await treeHash(1.5, log)).ok).toBe(false);
  });
});
