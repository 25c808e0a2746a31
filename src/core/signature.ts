/**
 * @module
 * Ed25519 signing and strict verification.
 *
 * The verification rule is noble's strict mode (`zip215: false`): RFC 8032 / FIPS 186-5 with
 * canonical encodings of A and R, S < L, and small-order keys rejected. For speed, a native
 * WebCrypto verifier answers first, and its answer is trusted only when it is "valid":
 *
 * - WebCrypto (OpenSSL/BoringSSL) checks the cofactorless equation R = [S]B - [k]A byte for byte,
 *   which implies noble's cofactored equation, canonical R and S < L. With A already vetted by
 *   `checkPublicKey` (canonical, not small-order, torsion-free), every signature WebCrypto accepts
 *   is one noble accepts.
 * - A "not valid" from WebCrypto is re-checked with noble, whose answer is final.
 *
 * So the result is exactly noble's strict result; test/core/signature.test.ts checks this against
 * RFC 8032 and edge-case vectors. Honest traffic only ever takes the native path.
 */

import * as ed from "@noble/ed25519";
import { bufferSource, concatBytes, fromBase64, toBase64 } from "./bytes.js";
import { checkPublicKey, keyPairFromSeed, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, type KeyPair } from "./keys.js";

/** Something that can sign for one key: the registry's key, a publisher's key, a reviewer's. */
export interface Signer {
  readonly keyid: string;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

const ED25519 = { name: "Ed25519" } as const;
// RFC 8410 PKCS#8 wrapping of a raw Ed25519 seed: WebCrypto cannot import the seed directly.
const PKCS8_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);

let nativeSupport: Promise<boolean> | undefined;

/** Whether this runtime's WebCrypto implements Ed25519 (workerd and Node ≥ 20 do). */
export function hasNativeEd25519(): Promise<boolean> {
  nativeSupport ??= crypto.subtle
    .importKey("raw", new Uint8Array(PUBLIC_KEY_LENGTH).fill(0x42), ED25519, false, ["verify"])
    .then(
      () => true,
      () => false,
    );
  return nativeSupport;
}

export async function createSigner(keyPair: KeyPair | Uint8Array): Promise<Signer> {
  const pair = keyPair instanceof Uint8Array ? await keyPairFromSeed(keyPair) : keyPair;
  const seed = pair.seed;
  if (await hasNativeEd25519()) {
    const key = await crypto.subtle.importKey("pkcs8", bufferSource(concatBytes(PKCS8_PREFIX, seed)), ED25519, false, ["sign"]);
    return {
      keyid: pair.keyid,
      publicKey: pair.publicKey,
      sign: async (message) => new Uint8Array(await crypto.subtle.sign(ED25519, key, bufferSource(message))),
    };
  }
  return { keyid: pair.keyid, publicKey: pair.publicKey, sign: (message) => ed.signAsync(message, seed) };
}

// Imported keys and key checks are cached: verification of a lockfile sees the same few keys
// thousands of times. The cache is bounded so a stream of distinct keys cannot grow it forever.
const MAX_CACHED_KEYS = 4096;
const keyCache = new Map<string, Promise<CryptoKey | null> | false>();

function cachedKey(publicKey: Uint8Array): Promise<CryptoKey | null> | false {
  const id = toBase64(publicKey);
  let entry = keyCache.get(id);
  if (entry === undefined) {
    if (keyCache.size >= MAX_CACHED_KEYS) keyCache.clear();
    if (checkPublicKey(publicKey) !== undefined) entry = false;
    else
      entry = hasNativeEd25519().then((native) =>
        native ? crypto.subtle.importKey("raw", bufferSource(publicKey), ED25519, false, ["verify"]) : null,
      );
    keyCache.set(id, entry);
  }
  return entry;
}

/**
 * Strict Ed25519 verification. Returns false (never throws) for any malformed input: wrong
 * lengths, rejected keys, non-canonical encodings, invalid signatures.
 */
export async function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false;
  const entry = cachedKey(publicKey);
  if (entry === false) return false;
  const key = await entry;
  if (key && (await crypto.subtle.verify(ED25519, key, bufferSource(signature), bufferSource(message)))) return true;
  try {
    return await ed.verifyAsync(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Verification with noble only, bypassing the native path: used to test that both agree. */
export async function verifySignatureNoble(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (checkPublicKey(publicKey) !== undefined) return false;
  try {
    return await ed.verifyAsync(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

export function encodeSignature(signature: Uint8Array): string {
  return toBase64(signature);
}

export function decodeSignature(text: unknown): Uint8Array | undefined {
  const bytes = typeof text === "string" ? fromBase64(text) : undefined;
  return bytes && bytes.length === SIGNATURE_LENGTH ? bytes : undefined;
}
