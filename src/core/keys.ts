/**
 * @module
 * Ed25519 keys and their fingerprints.
 *
 * Fingerprint format (docs/PROTOCOL.md §3):
 *
 *     fingerprint = "SHA256:" base64-nopad( SHA-256( string("ssh-ed25519") || string(publicKey) ) )
 *
 * where `string(x)` is a 4-byte big-endian length followed by the bytes of x (RFC 4251 §5). This
 * is exactly what `ssh-keygen -l -E sha256` prints for the same key written as an OpenSSH public
 * key line, and the `keyid` convention npm uses for its registry keys, so a fingerprint can be
 * checked out of band with standard tools. The key type is bound inside the hashed blob. It is
 * always 50 characters and is never truncated in pins; `shortFingerprint` is for display only.
 *
 * Public keys are accepted only if they are canonical encodings of points that are not of small
 * order and have no torsion component: honest keys (A = aB) always satisfy this, and rejecting the
 * rest makes the native WebCrypto verifier and the strict noble verifier agree (see signature.ts).
 */

import * as ed from "@noble/ed25519";
import { concatBytes, fromBase64, randomBytes, toBase64, toBase64NoPad, utf8 } from "./bytes.js";
import { sha256 } from "./digest.js";

export const SEED_LENGTH = 32;
export const PUBLIC_KEY_LENGTH = 32;
export const SIGNATURE_LENGTH = 64;

// "SHA256:" and 43 base64 characters: the length check first is cheaper than a counted repetition.
const FINGERPRINT_LENGTH = 50;
const FINGERPRINT = /^SHA256:[A-Za-z0-9+/]+$/;

export type KeyProblem = "length" | "encoding" | "small-order" | "torsion";

/**
 * Checks that `publicKey` is acceptable under the strict rules above. Returns the problem, or
 * `undefined` when the key is fine. It costs ~0.5 ms (a scalar multiplication by L): hot paths
 * go through `newVerifier` (signature.ts), which vets each key once.
 */
export function checkPublicKey(publicKey: Uint8Array): KeyProblem | undefined {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_LENGTH) return "length";
  return checkPoint(publicKey);
}

function checkPoint(publicKey: Uint8Array): KeyProblem | undefined {
  let point: ed.Point;
  try {
    // Strict RFC 8032 decoding: y < p, and x = 0 only with the sign bit clear.
    point = ed.Point.fromBytes(publicKey, false);
  } catch {
    return "encoding";
  }
  if (point.isSmallOrder()) return "small-order";
  if (!point.isTorsionFree()) return "torsion";
  return undefined;
}

/** OpenSSH wire encoding of an Ed25519 public key (RFC 8709 §4). */
export function sshPublicKeyBlob(publicKey: Uint8Array): Uint8Array {
  const type = utf8("ssh-ed25519");
  return concatBytes(u32(type.length), type, u32(publicKey.length), publicKey);
}

/** The OpenSSH public key line, for checking a fingerprint with `ssh-keygen -lf`. */
export function sshPublicKeyLine(publicKey: Uint8Array, comment = ""): string {
  return `ssh-ed25519 ${toBase64(sshPublicKeyBlob(publicKey))}${comment ? ` ${comment}` : ""}`;
}

export async function fingerprint(publicKey: Uint8Array): Promise<string> {
  if (publicKey.length !== PUBLIC_KEY_LENGTH) throw new RangeError(`"publicKey" expected 32 bytes, got ${publicKey.length}`);
  return `SHA256:${toBase64NoPad(await sha256(sshPublicKeyBlob(publicKey)))}`;
}

export function isFingerprint(text: unknown): text is string {
  return typeof text === "string" && text.length === FINGERPRINT_LENGTH && FINGERPRINT.test(text);
}

/** First 16 characters after the prefix: for human eyes, never for pins. */
export function shortFingerprint(fp: string): string {
  return fp.slice(0, 7 + 16);
}

export interface KeyPair {
  /** The 32-byte RFC 8032 private key (seed). Secret. */
  readonly seed: Uint8Array;
  readonly publicKey: Uint8Array;
  readonly keyid: string;
}

export async function keyPairFromSeed(seed: Uint8Array): Promise<KeyPair> {
  if (!(seed instanceof Uint8Array) || seed.length !== SEED_LENGTH) throw new RangeError(`"seed" expected 32 bytes`);
  const publicKey = (await nativePublicKey(seed)) ?? (await ed.getPublicKeyAsync(seed));
  return { seed, publicKey, keyid: await fingerprint(publicKey) };
}

/** RFC 8410 PKCS#8 wrapping of a raw Ed25519 seed: WebCrypto cannot import the seed directly. */
export const PKCS8_SEED_PREFIX = Uint8Array.of(0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20);

/**
 * The public key of a seed through the platform's WebCrypto (its JWK `x`), or undefined where
 * WebCrypto has no Ed25519: noble's derivation builds its precomputed tables first, which costs
 * a short-lived process (the CLI reading its receipt key) about 25 ms.
 */
async function nativePublicKey(seed: Uint8Array): Promise<Uint8Array | undefined> {
  try {
    const key = await crypto.subtle.importKey("pkcs8", concatBytes(PKCS8_SEED_PREFIX, seed) as Uint8Array<ArrayBuffer>, { name: "Ed25519" }, true, ["sign"]);
    const { x } = (await crypto.subtle.exportKey("jwk", key)) as JsonWebKey;
    const publicKey = typeof x === "string" ? fromBase64(x.replace(/-/g, "+").replace(/_/g, "/").padEnd(44, "=")) : undefined;
    return publicKey?.length === PUBLIC_KEY_LENGTH ? publicKey : undefined;
  } catch {
    return undefined;
  }
}

/** A fresh key pair from `crypto.getRandomValues`, the only randomness source used. */
export function generateKeyPair(): Promise<KeyPair> {
  return keyPairFromSeed(randomBytes(SEED_LENGTH));
}

/** Parses a base64 public key and applies `checkPublicKey`; returns the key or the problem. */
export function parsePublicKey(text: unknown): { key: Uint8Array } | { problem: KeyProblem } {
  const key = typeof text === "string" ? fromBase64(text) : undefined;
  if (!key) return { problem: "encoding" };
  const problem = checkPublicKey(key);
  return problem ? { problem } : { key };
}

export const KEY_PROBLEM_TEXT: Record<KeyProblem, string> = {
  length: "an Ed25519 public key is 32 bytes",
  encoding: "not a canonical base64 Ed25519 point encoding",
  "small-order": "the point has small order (a weak key that verifies forged signatures)",
  torsion: "the point has a torsion component (not a key any honest signer produces)",
};

function u32(n: number): Uint8Array {
  return new Uint8Array([n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff]);
}
