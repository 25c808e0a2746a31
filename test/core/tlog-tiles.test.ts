import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  FULL_TILE_BYTES,
  MAX_ENTRY_BYTES,
  formatEntriesPath,
  formatEntryBundle,
  formatTilePath,
  inclusionProof,
  leafHash,
  newEntryBundles,
  newTiles,
  parseEntriesPath,
  parseEntryBundle,
  parseTilePath,
  readTileData,
  storedHashCount,
  tileForStoredHash,
  tileHashReader,
  tilesForSize,
  treeHash,
  useNativeSha256,
  verifyConsistency,
  verifyInclusion,
  consistencyProof,
  type Tile,
} from "../../src/core/tlog/index.js";
import { TestLog, entryFor, hex, nodeSha256, refRoot } from "./tlog-helpers.js";

beforeAll(() => useNativeSha256(nodeSha256));
afterAll(() => useNativeSha256(undefined));

describe("tile paths", () => {
  it.each<[Tile, string]>([
    [{ level: 0, index: 0, width: 256 }, "tile/0/000"],
    [{ level: 0, index: 1, width: 256 }, "tile/0/001"],
    [{ level: 0, index: 999, width: 256 }, "tile/0/999"],
    [{ level: 0, index: 1000, width: 256 }, "tile/0/x001/000"],
    [{ level: 1, index: 1234067, width: 256 }, "tile/1/x001/x234/067"], // the C2SP example
    [{ level: 0, index: 1234067, width: 17 }, "tile/0/x001/x234/067.p/17"],
    [{ level: 2, index: 0, width: 1 }, "tile/2/000.p/1"],
    [{ level: 63, index: 5, width: 255 }, "tile/63/005.p/255"],
    [{ level: 0, index: Number.MAX_SAFE_INTEGER, width: 256 }, "tile/0/x009/x007/x199/x254/x740/991"],
  ])("%j is %s", (tile, path) => {
    expect(formatTilePath(tile)).toBe(path);
    expect(parseTilePath(path)).toEqual({ ok: true, value: tile });
  });

  it("entry bundle paths", () => {
    expect(formatEntriesPath({ index: 1234067, width: 256 })).toBe("tile/entries/x001/x234/067");
    expect(formatEntriesPath({ index: 0, width: 12 })).toBe("tile/entries/000.p/12");
    expect(parseEntriesPath("tile/entries/x001/x234/067.p/3")).toEqual({ ok: true, value: { index: 1234067, width: 3 } });
    expect(parseEntriesPath("tile/0/000").ok).toBe(false);
    expect(parseTilePath("tile/entries/000").ok).toBe(false);
  });

  it("format and parse round-trip", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 63 }), fc.oneof(fc.integer({ min: 0, max: 5000 }), fc.maxSafeNat()), fc.integer({ min: 1, max: 256 }), (level, index, width) => {
        expect(parseTilePath(formatTilePath({ level, index, width }))).toEqual({ ok: true, value: { level, index, width } });
        expect(parseEntriesPath(formatEntriesPath({ index, width }))).toEqual({ ok: true, value: { index, width } });
      }),
      { numRuns: 2_000 },
    );
  });

  it.each([
    "tile/0/1", "tile/0/01", "tile/0/0001", "tile/00/000", "tile/01/000", "tile/64/000", "tile/100/000", "tile/-1/000",
    "tile/0/x000/001", "tile/0/x001", "tile/0/001/x002", "tile/0/001/002", "tile/0/x1/000", "tile/0/X001/000",
    "tile/0/000.p/0", "tile/0/000.p/256", "tile/0/000.p/01", "tile/0/000.p/+5", "tile/0/000.p", "tile/0/000.p/", "tile/0/000.p/5/6",
    "tile/0/x001.p/5", "tile/0/000/", "/tile/0/000", "tile/0/000/.p/5", "tile//000", "tile/0/", "tile/0", "tile", "",
    "tile/0/ 000", "tile/0/abc", "tile/0/1e3", "tile/0/x009/x007/x199/x254/x740/993", "tiles/0/000", "tile/0/000.P/5",
    "tile/0/000.p/1.0", "tile/0/\u0660\u0660\u0660", "tile/entries/000",
  ])("tile path %j is refused", (path) => {
    expect(parseTilePath(path).ok).toBe(false);
  });

  it.each([
    "tile/entries/1", "tile/entries/0000", "tile/entries/x000/001", "tile/entries/x001", "tile/entries/000.p/0",
    "tile/entries/000.p/256", "tile/entries/000.p/01", "tile/entries/000/", "tile/entries", "tile/entries/", "tile/entry/000",
    "tile/0/000", "tile/entries/x009/x007/x199/x254/x740/993",
  ])("entry bundle path %j is refused", (path) => {
    expect(parseEntriesPath(path).ok).toBe(false);
  });

  it("whatever parses is the one canonical path of its tile", () => {
    const element = fc.constantFrom("000", "001", "x000", "x001", "x999", "999", "01", "0", "1", "x1", ".p", "000.p", "001.p", "5", "255", "256", "07", "entries", "63", "64", "");
    fc.assert(
      fc.property(fc.array(element, { minLength: 1, maxLength: 6 }), (parts) => {
        const path = ["tile", ...parts].join("/");
        const tile = parseTilePath(path);
        if (tile.ok) expect(formatTilePath(tile.value)).toBe(path);
        const bundle = parseEntriesPath(path);
        if (bundle.ok) expect(formatEntriesPath(bundle.value)).toBe(path);
      }),
      { numRuns: 20_000 },
    );
  });

  it("formatting refuses coordinates outside the spec", () => {
    for (const tile of [{ level: 64, index: 0, width: 1 }, { level: 0, index: -1, width: 1 }, { level: 0, index: 0, width: 0 }, { level: 0, index: 0, width: 257 }, { level: 0, index: 0.5, width: 1 }]) {
      expect(() => formatTilePath(tile)).toThrow(RangeError);
    }
  });
});

describe("which tiles a tree has", () => {
  const describeTiles = (tiles: Tile[]) => tiles.map((t) => formatTilePath(t));

  it("the C2SP examples: sizes 70,000 and 256", () => {
    const tiles = tilesForSize(70_000);
    const level0 = tiles.filter((t) => t.level === 0);
    expect(level0.filter((t) => t.width === 256)).toHaveLength(273);
    expect(level0.filter((t) => t.width < 256)).toEqual([{ level: 0, index: 273, width: 112 }]);
    expect(tiles.filter((t) => t.level === 1)).toEqual([{ level: 1, index: 0, width: 256 }, { level: 1, index: 1, width: 17 }]);
    expect(tiles.filter((t) => t.level === 2)).toEqual([{ level: 2, index: 0, width: 1 }]);
    expect(tiles).toHaveLength(273 + 1 + 2 + 1);
    expect(describeTiles(tilesForSize(256))).toEqual(["tile/0/000", "tile/1/000.p/1"]);
    expect(tilesForSize(0)).toEqual([]);
    expect(describeTiles(tilesForSize(1))).toEqual(["tile/0/000.p/1"]);
  });

  it("growing a tree writes exactly the tiles it did not have", () => {
    expect(describeTiles(newTiles(255, 256))).toEqual(["tile/0/000", "tile/1/000.p/1"]);
    expect(describeTiles(newTiles(256, 257))).toEqual(["tile/0/001.p/1"]);
    expect(newTiles(300, 300)).toEqual([]);
    expect(newEntryBundles(250, 600)).toEqual([{ index: 0, width: 256 }, { index: 1, width: 256 }, { index: 2, width: 88 }]);
    expect(() => newTiles(5, 4)).toThrow(RangeError);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 3000 }), { maxLength: 6 }), fc.integer({ min: 0, max: 70_000 }), (steps, start) => {
        const sizes = [start, ...steps].map((step, i, all) => all.slice(0, i + 1).reduce((a, b) => a + b, 0));
        const written = new Set<string>();
        for (let i = 1; i < sizes.length; i++) for (const tile of newTiles(sizes[i - 1]!, sizes[i]!)) written.add(formatTilePath(tile));
        const last = sizes[sizes.length - 1]!;
        // Every tile of the final tree, except those it already had at the start, was written.
        const had = new Set(describeTiles(tilesForSize(start)));
        for (const path of describeTiles(tilesForSize(last))) expect(written.has(path) || had.has(path)).toBe(true);
        for (const path of written) expect(had.has(path)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it("locates stored hashes in the tree's tiles, and refuses those the tree does not have", () => {
    // Stored hash 2 is node (level 1, index 0): the two hashes of the level-0 tile.
    expect(tileForStoredHash(513, 0)).toEqual({ ok: true, value: { tile: { level: 0, index: 0, width: 256 }, offset: 0, span: 1 } });
    expect(tileForStoredHash(2, 2)).toEqual({ ok: true, value: { tile: { level: 0, index: 0, width: 2 }, offset: 0, span: 2 } });
    expect(tileForStoredHash(2, 3).ok).toBe(false);
    expect(tileForStoredHash(1000, storedHashCount(1000)).ok).toBe(false);
    for (let stored = 0; stored < storedHashCount(1000); stored++) expect(tileForStoredHash(1000, stored).ok).toBe(true);
  });
});

describe("a log served as tiles", () => {
  it("grown in random batches: tiles are immutable once full, and every stored hash reads back from the tiles of every checkpointed size", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 6 }), async (batches) => {
        const log = new TestLog();
        const fullTiles = new Map<string, string>();
        for (const batch of batches) {
          await log.append(Array.from({ length: batch }, (_, i) => entryFor(log.size + i)));
          const n = log.size;
          for (const tile of tilesForSize(n)) {
            const path = formatTilePath(tile);
            const data = log.tiles.get(path);
            expect(data, path).toBeDefined();
            expect(data!.length).toBe(tile.width * 32);
            if (tile.width === 256) {
              if (fullTiles.has(path)) expect(hex(data!)).toBe(fullTiles.get(path));
              fullTiles.set(path, hex(data!));
            }
          }
          const reader = tileHashReader(n, log);
          const all = Array.from({ length: storedHashCount(n) }, (_, i) => i);
          expect((await reader.readHashes(all)).map(hex)).toEqual(log.hashes.map(hex));
        }
      }),
      { numRuns: 15 },
    );
  });

  it("a tree of 70,000 (the C2SP example): hashes of every level read back from three tile levels, and proofs verify", async () => {
    const log = new TestLog();
    await log.append(Array.from({ length: 65_536 }, (_, i) => entryFor(i)));
    await log.append(Array.from({ length: 70_000 - 65_536 }, (_, i) => entryFor(65_536 + i)));
    expect(log.tiles.get("tile/2/000.p/1")).toBeDefined(); // from the first checkpoint, 65,536
    expect(log.tiles.get("tile/1/001.p/17")).toBeDefined();
    const reader = tileHashReader(70_000, log);
    const count = storedHashCount(70_000);
    const sample = [0, 1, 2, 509, 510, 511, 131_070, 131_071, 131_072, count - 1, ...Array.from({ length: 300 }, (_, i) => Math.floor((i * count) / 300))];
    expect((await reader.readHashes(sample)).map(hex)).toEqual(sample.map((i) => hex(log.hashes[i]!)));
    const root = refRoot(log.leaves);
    const tree = await treeHash(70_000, reader);
    expect(tree.ok && hex(tree.value)).toBe(hex(root));
    for (const index of [0, 255, 256, 65_535, 65_536, 69_999]) {
      const proof = await inclusionProof(70_000, index, reader);
      if (!proof.ok) throw new Error(proof.error);
      expect(await verifyInclusion(proof.value, 70_000, index, log.leaves[index]!, root)).toEqual({ ok: true, value: true });
    }
    const consistency = await consistencyProof(70_000, 65_536, reader);
    if (!consistency.ok) throw new Error(consistency.error);
    expect(await verifyConsistency(consistency.value, 70_000, 65_536, refRoot(log.leaves.slice(0, 65_536)), root)).toEqual({ ok: true, value: true });
  }, 60_000);

  it("reads each tile once per call, and fails on a missing or wrong-sized tile", async () => {
    const log = new TestLog();
    await log.append(Array.from({ length: 1000 }, (_, i) => entryFor(i)));
    const reader = tileHashReader(1000, log);
    log.tileReads = 0;
    const proof = await inclusionProof(1000, 517, reader);
    expect(proof.ok).toBe(true);
    expect(log.tileReads).toBeLessThanOrEqual(3);
    // A size that was never checkpointed has no partial tiles: the reader fails rather than guess.
    await expect(tileHashReader(999, log).readHashes([storedHashCount(999) - 1])).rejects.toThrow(/no tile/);
    const short = { readTiles: (tiles: readonly Tile[]) => tiles.map(() => new Uint8Array(FULL_TILE_BYTES - 1)) };
    await expect(tileHashReader(1000, short).readHashes([0])).rejects.toThrow(/bytes, expected/);
    await expect(tileHashReader(1000, log).readHashes([storedHashCount(1000)])).rejects.toThrow(RangeError);
  });

  it("readTileData builds a tile from stored hashes; level-1 hashes are roots of full level-0 tiles", async () => {
    const log = new TestLog();
    await log.append(Array.from({ length: 600 }, (_, i) => entryFor(i)));
    const level1 = await readTileData({ level: 1, index: 0, width: 2 }, log);
    expect(level1.ok).toBe(true);
    if (!level1.ok) return;
    expect(hex(level1.value.subarray(0, 32))).toBe(hex(refRoot(log.leaves.slice(0, 256))));
    expect(hex(level1.value.subarray(32))).toBe(hex(refRoot(log.leaves.slice(256, 512))));
    expect((await readTileData({ level: 0, index: 0, width: 2 }, { readHashes: () => [] })).ok).toBe(false);
  });
});

describe("entry bundles", () => {
  it("encode as uint16 big-endian lengths, and entries hash to the level-0 tile", async () => {
    const entries = [new Uint8Array(), Uint8Array.of(0xab), new Uint8Array(0x0102).fill(7)];
    const bundle = formatEntryBundle(entries);
    expect(bundle.ok).toBe(true);
    if (!bundle.ok) return;
    expect(hex(bundle.value.subarray(0, 5))).toBe("00000001ab");
    expect(hex(bundle.value.subarray(5, 7))).toBe("0102");
    expect(bundle.value.length).toBe(2 + 3 + 2 + 0x0102);
    expect(parseEntryBundle(bundle.value, 3)).toEqual({ ok: true, value: entries });

    const log = new TestLog();
    const logged = Array.from({ length: 300 }, (_, i) => entryFor(i));
    await log.append(logged);
    const full = formatEntryBundle(logged.slice(0, 256));
    const parsed = full.ok ? parseEntryBundle(full.value) : full;
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    const tile = log.tiles.get("tile/0/000")!;
    const hashes = await Promise.all(parsed.value.map(leafHash));
    hashes.forEach((hash, i) => expect(hex(hash)).toBe(hex(tile.subarray(i * 32, i * 32 + 32))));
  });

  it("round-trip", () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 600 }), { minLength: 1, maxLength: 256 }), (entries) => {
        const bundle = formatEntryBundle(entries);
        expect(bundle.ok).toBe(true);
        if (bundle.ok) expect(parseEntryBundle(bundle.value, entries.length)).toEqual({ ok: true, value: entries });
      }),
      { numRuns: 200 },
    );
  });

  it("limits and malformed bundles are errors", () => {
    expect(formatEntryBundle([new Uint8Array(MAX_ENTRY_BYTES)]).ok).toBe(true);
    const big = formatEntryBundle([new Uint8Array(MAX_ENTRY_BYTES + 1)]);
    expect(big.ok === false && big.error).toMatch(/65536 bytes, more than the 65535/);
    expect(formatEntryBundle([]).ok).toBe(false);
    expect(formatEntryBundle(Array.from({ length: 257 }, () => new Uint8Array())).ok).toBe(false);
    const bad: [string, number, RegExp][] = [
      ["", 1, /0 entries, expected 1/],
      ["00", 1, /truncated in the length/],
      ["0002ab", 1, /truncated in entry 0/],
      ["0001ab00", 1, /bytes after its 1 entries/],
      ["0001ab0000", 1, /bytes after its 1 entries/],
      ["0001ab0000", 3, /2 entries, expected 3/],
      ["0000", 0, /1 to 256/],
      ["0000", 257, /1 to 256/],
    ];
    for (const [data, width, reason] of bad) {
      const result = parseEntryBundle(new Uint8Array(Buffer.from(data, "hex")), width);
      expect(result.ok, data).toBe(false);
      if (!result.ok) expect(result.error).toMatch(reason);
    }
    // Every strict prefix of a valid bundle is refused.
    const bundle = formatEntryBundle([Uint8Array.of(1, 2, 3), Uint8Array.of(4)]);
    if (!bundle.ok) throw new Error(bundle.error);
    for (let cut = 0; cut < bundle.value.length; cut++) expect(parseEntryBundle(bundle.value.subarray(0, cut), 2).ok).toBe(false);
  });
});
