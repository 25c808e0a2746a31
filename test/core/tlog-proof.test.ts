import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EMPTY_ROOT,
  consistencyProof,
  inclusionProof,
  tileHashReader,
  treeHash,
  useNativeSha256,
  verifyConsistency,
  verifyInclusion,
  type Hash,
} from "../../src/core/tlog/index.js";
import { TestLog, hex, logOf, nodeSha256, refConsistency, refPath, refRoot } from "./tlog-helpers.js";

const OK = { ok: true, value: true };
const flip = (proof: Hash[], i: number, byte: number, bit: number) =>
  proof.map((h, j) => {
    if (j !== i) return h;
    const copy = h.slice();
    copy[byte]! ^= 1 << bit;
    return copy;
  });
const unwrap = <T>(r: { ok: true; value: T } | { ok: false; error: string }): T => {
  if (!r.ok) throw new Error(r.error);
  return r.value;
};

let log: TestLog;
const roots: Hash[] = [];
beforeAll(async () => {
  // node:crypto through the core's native-hash slot: crypto.subtle costs ~30 µs a hash in Node,
  // and these tests hash millions of nodes (tlog-tree.test.ts covers the crypto.subtle path).
  useNativeSha256(nodeSha256);
  // 1,000 entries appended one at a time, each size checkpointed, so every size has its tiles.
  log = await logOf(1000, 1);
  for (let n = 0; n <= 1000; n++) roots.push(refRoot(log.leaves.slice(0, n)));
});

afterAll(() => useNativeSha256(undefined));

describe("inclusion proofs", () => {
  it("from the tiles of a tree of random size: equal to the RFC definition, and they verify", async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 1000 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }))), async ([n, index]) => {
        const tiles = tileHashReader(n, log);
        const proof = unwrap(await inclusionProof(n, index, tiles));
        expect(proof.map(hex)).toEqual(refPath(index, log.leaves.slice(0, n)).map(hex));
        expect(hex(unwrap(await treeHash(n, tiles)))).toBe(hex(roots[n]!));
        expect(await verifyInclusion(proof, n, index, log.leaves[index]!, roots[n]!)).toEqual(OK);
      }),
      { numRuns: 300 },
    );
  });

  it("any flipped bit, wrong index, wrong size, wrong leaf, wrong root, extra or missing hash fails", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 1000 }).chain((n) => fc.tuple(fc.constant(n), fc.integer({ min: 0, max: n - 1 }))),
        fc.nat(),
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 1, max: 1000 }),
        async ([n, index], which, byte, bit, other) => {
          const proof = unwrap(await inclusionProof(n, index, log));
          const leaf = log.leaves[index]!;
          const root = roots[n]!;
          const bad = async (p: Hash[], size: number, i: number, l: Hash, r: Hash) => expect((await verifyInclusion(p, size, i, l, r)).ok).toBe(false);
          await bad(flip(proof, which % proof.length, byte, bit), n, index, leaf, root);
          const otherIndex = (index + other) % n;
          if (otherIndex !== index) await bad(proof, n, otherIndex, leaf, root);
          const otherSize = 1 + ((n - 1 + other) % 1000);
          if (otherSize > index && otherSize !== n) await bad(proof, otherSize, index, leaf, roots[otherSize]!);
          await bad(proof, n, index, log.leaves[(index + 1) % n]!, root);
          await bad(proof, n, index, leaf, roots[n - 1]!);
          await bad([...proof, root], n, index, leaf, root);
          await bad([root, ...proof], n, index, leaf, root);
          await bad(proof.slice(1), n, index, leaf, root);
          await bad(proof.slice(0, -1), n, index, leaf, root);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("every index of every tree up to 40 proves and verifies; proofs never verify at another index", async () => {
    for (let n = 1; n <= 40; n++) {
      for (let index = 0; index < n; index++) {
        const proof = unwrap(await inclusionProof(n, index, log));
        expect(await verifyInclusion(proof, n, index, log.leaves[index]!, roots[n]!)).toEqual(OK);
        for (let j = 0; j < n; j++) if (j !== index) expect((await verifyInclusion(proof, n, j, log.leaves[index]!, roots[n]!)).ok).toBe(false);
      }
    }
  });

  it("bad input is a result with a reason, never a throw", async () => {
    const leaf = log.leaves[0]!;
    const root = roots[8]!;
    const cases: [unknown, number, number, unknown, unknown, RegExp][] = [
      [[], 0, 0, leaf, EMPTY_ROOT, /not in a tree of size 0/],
      [[], 8, 8, leaf, root, /not in a tree of size 8/],
      [[], 8, -1, leaf, root, /non-negative/],
      [[], 2 ** 53, 0, leaf, root, /non-negative/],
      [[], 8, 0.5, leaf, root, /non-negative/],
      [[leaf, leaf], 8, 0, leaf, root, /2 hashes, expected 3/],
      [[leaf, leaf, new Uint8Array(31)], 8, 0, leaf, root, /proof hash 2 is not 32 bytes/],
      ["nope", 8, 0, leaf, root, /not a list/],
      [[], 1, 0, leaf.subarray(1), leaf, /leaf hash/],
      [[], 1, 0, leaf, null, /root hash/],
      [[], 1, 0, leaf, roots[2], /does not lead to the root/],
    ];
    for (const [proof, n, index, l, r, reason] of cases) {
      const result = await verifyInclusion(proof as Hash[], n, index, l as Hash, r as Hash);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.error).toMatch(reason);
    }
    expect(await verifyInclusion([], 1, 0, leaf, leaf)).toEqual(OK);
    // The largest sizes are handled, not looped on or overflowed.
    const huge = await verifyInclusion([], Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 1, leaf, root);
    expect(huge.ok === false && huge.error).toMatch(/0 hashes, expected 52/);
    const hugeC = await verifyConsistency([], Number.MAX_SAFE_INTEGER, 2 ** 52 + 3, root, root);
    expect(hugeC.ok === false && hugeC.error).toMatch(/0 hashes, expected/);
    const made = await inclusionProof(8, 8, log);
    expect(made.ok).toBe(false);
  });
});

describe("consistency proofs", () => {
  it("for all 1 ≤ m ≤ n ≤ 300: equal to the RFC definition, and they verify", async () => {
    for (let n = 1; n <= 300; n++) {
      for (let m = 1; m <= n; m++) {
        const proof = unwrap(await consistencyProof(n, m, log));
        if (n <= 100) expect(proof.map(hex)).toEqual(m === n ? [] : refConsistency(m, log.leaves.slice(0, n)).map(hex));
        const checked = await verifyConsistency(proof, n, m, roots[m]!, roots[n]!);
        if (!checked.ok) throw new Error(`${m} → ${n}: ${checked.error}`);
      }
    }
  }, 60_000);

  it("from the tiles of random sizes, and any flipped bit, wrong size, wrong root or extra hash fails", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 2, max: 1000 }).chain((n) => fc.tuple(fc.integer({ min: 1, max: n - 1 }), fc.constant(n))),
        fc.nat(),
        fc.integer({ min: 0, max: 31 }),
        fc.integer({ min: 0, max: 7 }),
        fc.integer({ min: 1, max: 999 }),
        async ([m, n], which, byte, bit, delta) => {
          const proof = unwrap(await consistencyProof(n, m, tileHashReader(n, log)));
          expect(proof.map(hex)).toEqual(refConsistency(m, log.leaves.slice(0, n)).map(hex));
          expect(await verifyConsistency(proof, n, m, roots[m]!, roots[n]!)).toEqual(OK);
          const bad = async (p: Hash[], mm: number, nn: number, a: Hash, b: Hash) => expect((await verifyConsistency(p, nn, mm, a, b)).ok).toBe(false);
          await bad(flip(proof, which % proof.length, byte, bit), m, n, roots[m]!, roots[n]!);
          const otherM = 1 + ((m - 1 + delta) % n);
          if (otherM !== m) await bad(proof, otherM, n, roots[otherM]!, roots[n]!);
          const otherN = 1 + ((n - 1 + delta) % 1000);
          if (otherN !== n && otherN >= m) await bad(proof, m, otherN, roots[m]!, roots[otherN]!);
          await bad(proof, m, n, roots[m - 1]!, roots[n]!);
          await bad(proof, m, n, roots[m]!, roots[n - 1]!);
          await bad(proof, m, n, roots[n]!, roots[m]!);
          await bad([...proof, roots[n]!], m, n, roots[m]!, roots[n]!);
          await bad([roots[m]!, ...proof], m, n, roots[m]!, roots[n]!);
          await bad(proof.slice(0, -1), m, n, roots[m]!, roots[n]!);
          await bad([], m, n, roots[m]!, roots[n]!);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("edge cases: m > n, m = n, m = 0", async () => {
    const r = (m: number) => roots[m]!;
    const expectFail = async (p: Promise<{ ok: boolean; error?: string }>, reason: RegExp) => {
      const result = await p;
      expect(result.ok).toBe(false);
      expect(result.error).toMatch(reason);
    };
    await expectFail(verifyConsistency([], 4, 5, r(5), r(4)), /went back in time/);
    await expectFail(consistencyProof(4, 5, log), /larger than new size/);
    expect(await verifyConsistency([], 5, 5, r(5), r(5))).toEqual(OK);
    await expectFail(verifyConsistency([], 5, 5, r(5), r(4)), /two different roots/);
    await expectFail(verifyConsistency([r(1)], 5, 5, r(5), r(5)), /1 hashes, expected 0/);
    expect(await verifyConsistency([], 5, 0, EMPTY_ROOT, r(5))).toEqual(OK);
    await expectFail(verifyConsistency([], 5, 0, r(1), r(5)), /empty-tree hash/);
    await expectFail(verifyConsistency([r(1)], 5, 0, EMPTY_ROOT, r(5)), /expected 0/);
    await expectFail(verifyConsistency([], 5, 3, r(3), r(5)), /0 hashes, expected/);
    await expectFail(verifyConsistency([], 5, -1, r(3), r(5)), /non-negative/);
    await expectFail(verifyConsistency([], 5, 3, r(3).subarray(2), r(5)), /32 bytes/);
    expect(unwrap(await consistencyProof(5, 0, log))).toEqual([]);
    expect(unwrap(await consistencyProof(5, 5, log))).toEqual([]);
  });
});
