/**
 * @module
 * The transparency log's Merkle tree: RFC 6962/9162 hashing and proofs, the stored-hash layout a
 * log appends to, and C2SP tlog-tiles (tiles, paths, entry bundles). Web APIs only.
 */

export { EMPTY_ROOT, HASH_SIZE, isHash, leafHash, nodeHash, useNativeSha256, type Hash, type Sha256 } from "./hash.js";
export {
  rangeHashes,
  splitStoredHashIndex,
  storedHashCount,
  storedHashes,
  storedHashIndex,
  treeHash,
  type HashReader,
  type Subtree,
} from "./tree.js";
export { consistencyProof, consistencyRanges, inclusionProof, inclusionRanges, verifyConsistency, verifyInclusion } from "./proof.js";
export {
  FULL_TILE_BYTES,
  MAX_TILE_LEVEL,
  TILE_HEIGHT,
  TILE_WIDTH,
  formatEntriesPath,
  formatTilePath,
  hashFromTile,
  newEntryBundles,
  newTiles,
  parseEntriesPath,
  parseTilePath,
  readTileData,
  tileForStoredHash,
  tileHashReader,
  tilesForSize,
  type EntryBundleTile,
  type Tile,
  type TileLocation,
  type TileReader,
} from "./tiles.js";
export { MAX_ENTRY_BYTES, formatEntryBundle, parseEntryBundle } from "./bundle.js";
