/**
 * @module
 * C2SP tlog-tiles (https://c2sp.org/tlog-tiles): the Merkle tree served as static tiles.
 *
 * A tile at level L and index N holds up to 256 consecutive hashes of tree level 8·L: hash i is
 * MTH(D[(N·256 + i)·256^L : (N·256 + i + 1)·256^L]). A full tile is 256 hashes (8,192 bytes); the
 * rightmost tile of each level may be partial, W = floor(n / 256^L) mod 256 hashes (1 ≤ W ≤ 255)
 * for a tree of size n, and is never hashed into the level above. Levels between multiples of 8
 * are not served: a hash at level 8·L + r is recomputed from the 2^r tile hashes below it.
 *
 * Paths, relative to the log's URL prefix (tile/<L>/<N>[.p/<W>] and tile/entries/<N>[.p/<W>]):
 * L is decimal 0..63 and W decimal 1..255, both without leading zeros; N is written in 3-digit
 * zero-padded groups, every group but the last prefixed with "x": 1234067 → x001/x234/067. The
 * parsers accept only that canonical form, so one tile has exactly one path.
 *
 * Tiles read from a server are not trusted here: `tileHashReader` checks their sizes only. Every
 * hash it returns flows into a proof that the caller verifies against a signed checkpoint root
 * (proof.ts), and a tampered tile makes that verification fail.
 */

import { fail, ok, type MaybePromise, type Result } from "../result.js";
import { HASH_SIZE, isIndex, nodeHash, type Hash } from "./hash.js";
import { splitStoredHashIndex, storedHashIndex, type HashReader } from "./tree.js";

/** Tree levels per tile. */
export const TILE_HEIGHT = 8;
/** Hashes in a full tile (2^TILE_HEIGHT). */
export const TILE_WIDTH = 256;
/** Bytes in a full tile. */
export const FULL_TILE_BYTES = TILE_WIDTH * HASH_SIZE;
/** Highest tile level a path may name. */
export const MAX_TILE_LEVEL = 63;

/** A hash tile. */
export interface Tile {
  /** Tile level, 0 ≤ level ≤ 63: its hashes are at tree level 8·level. */
  level: number;
  /** Index of the tile within its level, a safe integer ≥ 0. */
  index: number;
  /** Number of hashes, 1 ≤ width ≤ 256; 256 is a full tile. */
  width: number;
}

/** An entry bundle: the entries of level-0 tile `index`. */
export interface EntryBundleTile {
  index: number;
  /** Number of entries, 1 ≤ width ≤ 256; 256 is a full bundle. */
  width: number;
}

/** Reads tiles, in the order asked; each answer must be exactly `width · 32` bytes. */
export interface TileReader {
  readTiles(tiles: readonly Tile[]): MaybePromise<readonly Uint8Array[]>;
}

// ## Paths

function formatIndex(index: number): string {
  let digits = String(index);
  digits = digits.padStart(Math.ceil(digits.length / 3) * 3, "0");
  const groups: string[] = [];
  for (let i = 0; i < digits.length; i += 3) groups.push(digits.slice(i, i + 3));
  return groups.map((group, i) => (i < groups.length - 1 ? `x${group}` : group)).join("/");
}

function formatSuffix(index: number, width: number): string {
  return width === TILE_WIDTH ? formatIndex(index) : `${formatIndex(index)}.p/${width}`;
}

function checkCoordinates(index: number, width: number): void {
  if (!isIndex(index) || !Number.isInteger(width) || width < 1 || width > TILE_WIDTH) {
    throw new RangeError(`no tile with index ${index} and width ${width}`);
  }
}

/** `tile/<L>/<N>[.p/<W>]`. Throws RangeError on coordinates outside the spec. */
export function formatTilePath(tile: Tile): string {
  checkCoordinates(tile.index, tile.width);
  if (!Number.isInteger(tile.level) || tile.level < 0 || tile.level > MAX_TILE_LEVEL) throw new RangeError(`no tile level ${tile.level}`);
  return `tile/${tile.level}/${formatSuffix(tile.index, tile.width)}`;
}

/** `tile/entries/<N>[.p/<W>]`. Throws RangeError on coordinates outside the spec. */
export function formatEntriesPath(bundle: EntryBundleTile): string {
  checkCoordinates(bundle.index, bundle.width);
  return `tile/entries/${formatSuffix(bundle.index, bundle.width)}`;
}

const DECIMAL = /^(?:0|[1-9][0-9]*)$/;
const GROUP = /^[0-9]{3}$/;

/** Parses `<N>[.p/<W>]` from path elements; undefined unless canonical. */
function parseSuffix(elements: string[]): EntryBundleTile | undefined {
  if (elements.length === 0) return undefined;
  let width = TILE_WIDTH;
  const last = elements.length - 1;
  if (elements.length >= 2 && elements[last - 1]!.endsWith(".p")) {
    const w = elements[last]!;
    if (!DECIMAL.test(w) || w.length > 3) return undefined;
    width = Number(w);
    if (width < 1 || width >= TILE_WIDTH) return undefined;
    elements = [...elements.slice(0, last - 1), elements[last - 1]!.slice(0, -2)];
  }
  let digits = "";
  for (let i = 0; i < elements.length; i++) {
    let group = elements[i]!;
    if (i < elements.length - 1) {
      if (!group.startsWith("x")) return undefined;
      group = group.slice(1);
      if (i === 0 && group === "000") return undefined; // a leading zero group is never written
    }
    if (!GROUP.test(group)) return undefined;
    digits += group;
  }
  const index = Number(digits);
  if (!Number.isSafeInteger(index)) return undefined;
  return { index, width };
}

/** Parses a hash tile path, accepting only the one canonical encoding of each tile. */
export function parseTilePath(path: string): Result<Tile> {
  const elements = typeof path === "string" ? path.split("/") : [];
  const level = elements[1];
  if (elements[0] !== "tile" || level === undefined || !DECIMAL.test(level) || level.length > 2 || Number(level) > MAX_TILE_LEVEL) {
    return fail(`not a tile path: ${JSON.stringify(path)}`);
  }
  const rest = parseSuffix(elements.slice(2));
  if (!rest) return fail(`not a tile path: ${JSON.stringify(path)}`);
  return ok({ level: Number(level), ...rest });
}

/** Parses an entry bundle path, accepting only the one canonical encoding of each bundle. */
export function parseEntriesPath(path: string): Result<EntryBundleTile> {
  const elements = typeof path === "string" ? path.split("/") : [];
  if (elements[0] !== "tile" || elements[1] !== "entries") return fail(`not an entry bundle path: ${JSON.stringify(path)}`);
  const rest = parseSuffix(elements.slice(2));
  return rest ? ok(rest) : fail(`not an entry bundle path: ${JSON.stringify(path)}`);
}

// ## Which tiles a tree has

/** Number of hashes at tile level `level` (tree level 8·level) in a tree of size n. */
function levelCount(n: number, level: number): number {
  return Math.floor(n / TILE_WIDTH ** level);
}

/**
 * The tiles that appear when a tree grows from `oldSize` to `newSize` records (everything, from
 * 0): full tiles completed and the new partial tile of each level, lowest level first. These are
 * what a sequencer writes; `tilesForSize(n)` is `newTiles(0, n)`.
 */
export function newTiles(oldSize: number, newSize: number): Tile[] {
  if (!isIndex(oldSize) || !isIndex(newSize) || oldSize > newSize) throw new RangeError(`cannot grow a tree from ${oldSize} to ${newSize}`);
  const out: Tile[] = [];
  for (let level = 0; levelCount(newSize, level) > 0; level++) {
    const oldCount = levelCount(oldSize, level);
    const newCount = levelCount(newSize, level);
    for (let index = Math.floor(oldCount / TILE_WIDTH); index * TILE_WIDTH < newCount; index++) {
      const width = Math.min(TILE_WIDTH, newCount - index * TILE_WIDTH);
      if (index * TILE_WIDTH + width > oldCount) out.push({ level, index, width });
    }
  }
  return out;
}

/** Every tile of a tree of size n, full and partial, lowest level first. */
export function tilesForSize(n: number): Tile[] {
  return newTiles(0, n);
}

/** The entry bundles that appear when a tree grows from `oldSize` to `newSize`: the level-0 tiles' twins. */
export function newEntryBundles(oldSize: number, newSize: number): EntryBundleTile[] {
  return newTiles(oldSize, newSize)
    .filter((tile) => tile.level === 0)
    .map(({ index, width }) => ({ index, width }));
}

/** Where a stored hash lives in the tiles of a tree of size n: the tile, and the run of `span` tile hashes from `offset` whose subtree is that hash. */
export interface TileLocation {
  tile: Tile;
  offset: number;
  span: number;
}

/** Locates stored hash `stored` in the tiles of a tree of size n, or fails if that tree does not contain it. */
export function tileForStoredHash(n: number, stored: number): Result<TileLocation> {
  if (!isIndex(n) || !isIndex(stored)) return fail("tree size and stored index must be non-negative safe integers");
  const { level, index } = splitStoredHashIndex(stored);
  const tileLevel = Math.floor(level / TILE_HEIGHT);
  const span = 2 ** (level % TILE_HEIGHT);
  const first = index * span; // first covered hash at tree level 8·tileLevel
  const tileIndex = Math.floor(first / TILE_WIDTH);
  const width = Math.min(TILE_WIDTH, levelCount(n, tileLevel) - tileIndex * TILE_WIDTH);
  const offset = first - tileIndex * TILE_WIDTH;
  if (width < offset + span) return fail(`stored hash ${stored} is not in a tree of size ${n}`);
  return ok({ tile: { level: tileLevel, index: tileIndex, width }, offset, span });
}

/** The hash of `span` (a power of two) tile hashes from `offset`: the subtree above them. */
export async function hashFromTile(data: Uint8Array, offset: number, span: number): Promise<Hash> {
  if ((offset + span) * HASH_SIZE > data.length) throw new RangeError(`tile of ${data.length} bytes has no hashes ${offset}..${offset + span - 1}`);
  let hashes: Hash[] = [];
  for (let i = offset; i < offset + span; i++) hashes.push(data.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE));
  while (hashes.length > 1) {
    const next: Promise<Hash>[] = [];
    for (let i = 0; i < hashes.length; i += 2) next.push(nodeHash(hashes[i]!, hashes[i + 1]!));
    hashes = await Promise.all(next);
  }
  return hashes[0]!;
}

/**
 * A HashReader for a tree of size n that reads tiles: each tile once per call, each hash from the
 * tile that tree size implies (partial tiles at the right edge). Throws if a stored hash is not in
 * the tree or a tile has the wrong size; the hashes are not authenticated (see the module doc).
 * `spanHash` computes the subtree over a run of tile hashes (default `hashFromTile`; the client
 * passes a synchronous native one).
 */
export function tileHashReader(n: number, tiles: TileReader, spanHash: (data: Uint8Array, offset: number, span: number) => MaybePromise<Hash> = hashFromTile): HashReader {
  return {
    async readHashes(indexes) {
      const locations = indexes.map((stored) => {
        const location = tileForStoredHash(n, stored);
        if (!location.ok) throw new RangeError(location.error);
        return location.value;
      });
      const unique = new Map<string, Tile>();
      for (const { tile } of locations) unique.set(formatTilePath(tile), tile);
      const wanted = [...unique.values()];
      const data = await tiles.readTiles(wanted);
      if (!Array.isArray(data) || data.length !== wanted.length) throw new Error(`tile reader returned ${Array.isArray(data) ? data.length : "no"} tiles for ${wanted.length}`);
      const byPath = new Map<string, Uint8Array>();
      wanted.forEach((tile, i) => {
        const bytes = data[i];
        if (!(bytes instanceof Uint8Array) || bytes.length !== tile.width * HASH_SIZE) {
          throw new Error(`tile ${formatTilePath(tile)} is ${bytes instanceof Uint8Array ? bytes.length : "not"} bytes, expected ${tile.width * HASH_SIZE}`);
        }
        byPath.set(formatTilePath(tile), bytes);
      });
      return Promise.all(locations.map(({ tile, offset, span }) => spanHash(byPath.get(formatTilePath(tile))!, offset, span)));
    },
  };
}

/** The bytes of `tile`, from stored hashes (what a sequencer writes): its `width` hashes at tree level 8·level. */
export async function readTileData(tile: Tile, reader: HashReader): Promise<Result<Uint8Array>> {
  formatTilePath(tile); // validates the coordinates
  const level = tile.level * TILE_HEIGHT;
  const indexes: number[] = [];
  for (let i = 0; i < tile.width; i++) indexes.push(storedHashIndex(level, tile.index * TILE_WIDTH + i));
  const hashes = await reader.readHashes(indexes);
  if (!Array.isArray(hashes) || hashes.length !== indexes.length) return fail(`hash reader returned the wrong number of hashes for ${formatTilePath(tile)}`);
  const out = new Uint8Array(tile.width * HASH_SIZE);
  for (let i = 0; i < hashes.length; i++) {
    if (!(hashes[i] instanceof Uint8Array) || hashes[i]!.length !== HASH_SIZE) return fail(`hash reader returned a malformed hash for ${formatTilePath(tile)}`);
    out.set(hashes[i]!, i * HASH_SIZE);
  }
  return ok(out);
}
