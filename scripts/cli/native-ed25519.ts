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
import { useNativeBase64, useNativeCrypto, type NativeCrypto } from "../../src/core/index.js";

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

/**
 * Node's base64 decoder skips characters outside the alphabet, so strictness comes from the
 * round trip: the text is accepted only if it is exactly the canonical encoding of the bytes.
 */
export function nodeBase64(text: string): Uint8Array | undefined {
  const bytes = Buffer.from(text, "base64");
  return bytes.toString("base64") === text ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : undefined;
}

useNativeBase64(nodeBase64);
