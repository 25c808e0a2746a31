/**
 * @module
 * C2SP tlog-tiles entry bundles: the entries of one level-0 tile, each as a big-endian uint16
 * length followed by that many bytes, concatenated. A full bundle holds 256 entries; entry i of
 * bundle N is log entry N·256 + i and hashes (`leafHash`) to hash i of level-0 tile N.
 *
 * Decoding is strict: a truncated length or entry, trailing bytes, or a count other than the
 * bundle's width is an error, never a shorter list.
 */

import { fail, ok, type Result } from "../result.js";
import { TILE_WIDTH } from "./tiles.js";

/** Largest entry a bundle can carry. */
export const MAX_ENTRY_BYTES = 0xffff;

/** Encodes 1..256 entries as a bundle. */
export function formatEntryBundle(entries: readonly Uint8Array[]): Result<Uint8Array> {
  if (entries.length === 0 || entries.length > TILE_WIDTH) return fail(`an entry bundle holds 1 to ${TILE_WIDTH} entries, not ${entries.length}`);
  let length = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    if (!(entry instanceof Uint8Array)) return fail(`entry ${i} is not bytes`);
    if (entry.length > MAX_ENTRY_BYTES) return fail(`entry ${i} is ${entry.length} bytes, more than the ${MAX_ENTRY_BYTES} a bundle can carry`);
    length += 2 + entry.length;
  }
  const out = new Uint8Array(length);
  let offset = 0;
  for (const entry of entries) {
    out[offset] = entry.length >>> 8;
    out[offset + 1] = entry.length & 0xff;
    out.set(entry, offset + 2);
    offset += 2 + entry.length;
  }
  return ok(out);
}

/**
 * Decodes a bundle of exactly `width` entries (1..256, default 256 for a full bundle). The entries
 * are views into `data`.
 */
export function parseEntryBundle(data: Uint8Array, width = TILE_WIDTH): Result<Uint8Array[]> {
  if (!(data instanceof Uint8Array)) return fail("entry bundle is not bytes");
  if (!Number.isInteger(width) || width < 1 || width > TILE_WIDTH) return fail(`an entry bundle holds 1 to ${TILE_WIDTH} entries, not ${width}`);
  const entries: Uint8Array[] = [];
  let offset = 0;
  while (offset < data.length) {
    if (entries.length === width) return fail(`entry bundle has bytes after its ${width} entries`);
    if (offset + 2 > data.length) return fail(`entry bundle is truncated in the length of entry ${entries.length}`);
    const length = (data[offset]! << 8) | data[offset + 1]!;
    offset += 2;
    if (offset + length > data.length) return fail(`entry bundle is truncated in entry ${entries.length} (${length} bytes announced, ${data.length - offset} left)`);
    entries.push(data.subarray(offset, offset + length));
    offset += length;
  }
  if (entries.length !== width) return fail(`entry bundle has ${entries.length} entries, expected ${width}`);
  return ok(entries);
}
