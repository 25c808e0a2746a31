/**
 * @module
 * The CLI's native crypto for the core's fast paths (src/core/signature.ts): node:crypto's
 * synchronous Ed25519 `verify`, with each vetted key imported once as a KeyObject (the core
 * caches the returned function on its Verifier), and its synchronous SHA-256 for statement
 * digests. Importing this module registers them; main.ts does so once.
 *
 * The core's rule still decides: it calls the verifier only for keys `checkPublicKey` accepted,
 * trusts only a `true`, and re-checks anything else with noble strict, so results equal noble's
 * exactly (test/core/signature.test.ts runs its agreement suite through this path).
 */

import * as nodeCrypto from "node:crypto";
import { useNativeBase64, useNativeCrypto, useNativeSha256, type NativeCrypto } from "../../src/core/index.js";

// RFC 8410 SubjectPublicKeyInfo for Ed25519: this DER prefix, then the 32-byte key.
const SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");

// One-shot `hash` is Node ≥ 20.12; `engines` allows 20.3, where only `createHash` exists.
const sha256Hex: (data: Uint8Array) => string =
  typeof nodeCrypto.hash === "function" ? (data) => nodeCrypto.hash("sha256", data, "hex") : (data) => nodeCrypto.createHash("sha256").update(data).digest("hex");

export const nodeNativeCrypto: NativeCrypto = {
  ed25519(publicKey) {
    const key = nodeCrypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: "der", type: "spki" });
    return (message, signature) => nodeCrypto.verify(null, message, key, signature);
  },
  sha256Hex,
};

useNativeCrypto(nodeNativeCrypto);

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const EQUALS_SIGN = 0x3d;

/**
 * Strict base64 with Node's decoder, which is lenient: it skips characters outside the alphabet,
 * stops at an inner "=", also reads base64url's "-" and "_", and reads a character above U+00FF
 * by its low byte (so "Ł" decodes as "A"). The text is therefore accepted only if:
 *
 * - it is ASCII, with neither "-" nor "_": every other character then either decodes as in
 *   standard base64 or contributes no bits;
 * - it decoded to exactly 3/4 of its length, less its padding: so every character before the
 *   padding is one of the alphabet, and the padding is the canonical one for that length;
 * - the bits the last data character carries beyond the bytes are zero (RFC 4648 §3.5).
 *
 * That is the canonical encoding of the bytes (test/cli/native-base64*.test.ts hold it to the
 * core's Web-standard decoder), checked without re-encoding the bytes into a second string of the
 * text's size: payloads are decoded twice per package verified.
 */
export function nodeBase64(text: string): Uint8Array | undefined {
  if (text.length % 4 !== 0) return undefined;
  const padding = paddingOf(text);
  const length = (text.length / 4) * 3 - padding;
  const bytes = decodeInPool(text, length + 3); // room for more than the canonical length
  if (bytes.length !== length) return undefined;
  if (Buffer.byteLength(text, "utf8") !== text.length || text.includes("-") || text.includes("_")) return undefined;
  if (padding > 0 && ALPHABET.indexOf(text[text.length - padding - 1]!) & (padding === 2 ? 0x0f : 0x03)) return undefined;
  return bytes;
}

// Decoded bytes are carved from a pool, as Buffer.from does from Node's own, but decoded in place:
// one Uint8Array per payload instead of a Buffer and a view of it. A region is handed out once.
const POOL_BYTES = 64 * 1024;
let pool = Buffer.alloc(0);
let poolUsed = 0;

/** `text` as Node's lenient decoder reads it (at most `room` bytes of it), in fresh memory. */
function decodeInPool(text: string, room: number): Uint8Array {
  if (room > POOL_BYTES / 8) {
    const bytes = Buffer.from(text, "base64");
    return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length);
  }
  if (poolUsed + room > pool.length) {
    pool = Buffer.alloc(POOL_BYTES);
    poolUsed = 0;
  }
  const written = pool.write(text, poolUsed, room, "base64");
  const bytes = new Uint8Array(pool.buffer, pool.byteOffset + poolUsed, written);
  poolUsed += (written + 7) & ~7;
  return bytes;
}

/** How many "=" end the text, counting two at most (more fail the length check). */
function paddingOf(text: string): number {
  // charCodeAt rather than endsWith("="), which showed in profiles of verification.
  if (text.charCodeAt(text.length - 1) !== EQUALS_SIGN) return 0;
  return text.charCodeAt(text.length - 2) === EQUALS_SIGN ? 2 : 1;
}

useNativeBase64(nodeBase64);

// The transparency log's Merkle hashes: node:crypto is ~10x cheaper per hash than crypto.subtle.
useNativeSha256((data) => new Uint8Array(nodeCrypto.createHash("sha256").update(data).digest()));
