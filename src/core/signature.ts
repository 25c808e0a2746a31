/**
 * @module
 * Ed25519 signing and strict verification.
 *
 * The verification rule is noble's strict mode (`zip215: false`): RFC 8032 / FIPS 186-5 with
 * canonical encodings of A and R, S < L, and small-order keys rejected. For speed, a native
 * verifier answers first, and its answer is trusted only when it is "valid":
 *
 * - Native verifiers (OpenSSL/BoringSSL behind WebCrypto or node:crypto) check the cofactorless
 *   equation R = [S]B - [k]A byte for byte, which implies noble's cofactored equation, canonical R
 *   and S < L. With A already vetted by `checkPublicKey` (canonical, not small-order,
 *   torsion-free), every signature they accept is one noble accepts.
 * - A "not valid" (or a throw) from the native verifier is re-checked with noble, whose answer is
 *   final.
 *
 * So the result is exactly noble's strict result; test/core/signature.test.ts checks this for
 * every native path against RFC 8032 and edge-case vectors. Honest traffic only ever takes the
 * native path.
 *
 * A `Verifier` (Go's note.Verifier) is one vetted key: it exists only for a key that passed
 * `checkPublicKey`, so the rule above holds by construction. It holds the key's fingerprint and its
 * native handle; `newVerifier` caches them, bounded, so a lockfile that repeats a few keys
 * thousands of times vets and imports each once.
 *
 * The native verifier is WebCrypto (workerd, Node) unless the host registers synchronous
 * primitives with `useNativeCrypto` (noble's `hashes` slot is the model): the Node CLI registers
 * node:crypto (scripts/cli/native-ed25519.ts), which skips WebCrypto's per-call promise, thread
 * hop and argument normalisation. The same registration supplies a synchronous SHA-256 for the
 * statement digests a countersignature binds (`sha256HexNative`); a result that is not 64 hex
 * digits is ignored. The core itself imports no runtime module.
 */

import * as ed from "@noble/ed25519";
import { bufferSource, concatBytes, fromBase64, isLowerHex, toBase64 } from "./bytes.js";
import { checkPublicKey, fingerprint, keyPairFromSeed, PKCS8_SEED_PREFIX, PUBLIC_KEY_LENGTH, SIGNATURE_LENGTH, type KeyPair, type KeyProblem } from "./keys.js";
import { fail, ok, type MaybePromise, type Result } from "./result.js";

/** Something that can sign for one key: the registry's key, a publisher's key, a reviewer's. */
export interface Signer {
  readonly keyid: string;
  readonly publicKey: Uint8Array;
  sign(message: Uint8Array): Promise<Uint8Array>;
}

/** One vetted public key, ready to verify strictly. Obtain it from `newVerifier`. */
export interface Verifier {
  /** The key's fingerprint (keys.ts). */
  readonly keyid: string;
  readonly publicKey: Uint8Array;
  /**
   * Strict verification (the rule above): false, never a throw, for any invalid input. The
   * answer is synchronous when the native verifier accepts; await it either way.
   */
  verify(message: Uint8Array, signature: Uint8Array): MaybePromise<boolean>;
}

/** A host's synchronous native primitives, registered with `useNativeCrypto`. */
export interface NativeCrypto {
  /**
   * Given a vetted 32-byte Ed25519 public key, imports it once and returns a function that
   * verifies under it. Its `true` must mean the cofactorless RFC 8032 check passed (OpenSSL's
   * does); anything else, including a throw, is re-checked with noble.
   */
  ed25519(publicKey: Uint8Array): (message: Uint8Array, signature: Uint8Array) => boolean;
  /** SHA-256 of `data` as 64 lowercase hex digits (the statements' digest form). */
  sha256Hex(data: Uint8Array): string;
}

type FastVerify = (message: Uint8Array, signature: Uint8Array) => MaybePromise<boolean>;
type Vetted = Result<Verifier, KeyProblem>;

const ED25519 = { name: "Ed25519" } as const;
const MAX_CACHED_KEYS = 4096;

let nativeSupport: Promise<boolean> | undefined;
let host: NativeCrypto | undefined;
const verifiers = new Map<string, { readonly pending: Promise<Vetted>; settled?: Vetted }>();

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

/** Registers (or with `undefined`, removes) the host's synchronous native primitives. */
export function useNativeCrypto(native: NativeCrypto | undefined): void {
  host = native;
  verifiers.clear();
}

/** Hex SHA-256 by the host's registered primitive, or `undefined` without one (then use digest.ts). */
export function sha256HexNative(data: Uint8Array): string | undefined {
  const digest = host?.sha256Hex(data);
  return isLowerHex(digest, 64) ? digest : undefined;
}

export async function createSigner(keyPair: KeyPair | Uint8Array): Promise<Signer> {
  const pair = keyPair instanceof Uint8Array ? await keyPairFromSeed(keyPair) : keyPair;
  const seed = pair.seed;
  if (await hasNativeEd25519()) {
    const key = await crypto.subtle.importKey("pkcs8", bufferSource(concatBytes(PKCS8_SEED_PREFIX, seed)), ED25519, false, ["sign"]);
    return {
      keyid: pair.keyid,
      publicKey: pair.publicKey,
      sign: async (message) => new Uint8Array(await crypto.subtle.sign(ED25519, key, bufferSource(message))),
    };
  }
  return { keyid: pair.keyid, publicKey: pair.publicKey, sign: (message) => ed.signAsync(message, seed) };
}

/**
 * The verifier for a public key given as bytes or as its canonical base64 (as statements carry
 * it), or the reason the key is refused (keys.ts). Cached per key, and synchronous once cached.
 */
export function newVerifier(publicKey: Uint8Array | string): MaybePromise<Vetted> {
  if (typeof publicKey !== "string" && publicKey.length !== PUBLIC_KEY_LENGTH) return fail("length");
  const id = typeof publicKey === "string" ? publicKey : toBase64(publicKey);
  let entry = verifiers.get(id);
  if (entry === undefined) {
    if (verifiers.size >= MAX_CACHED_KEYS) verifiers.clear();
    const fresh: { pending: Promise<Vetted>; settled?: Vetted } = { pending: vet(id).then((vetted) => (fresh.settled = vetted)) };
    verifiers.set(id, (entry = fresh));
  }
  return entry.settled ?? entry.pending;
}

async function vet(text: string): Promise<Vetted> {
  const publicKey = fromBase64(text);
  if (!publicKey) return fail("encoding");
  const problem = checkPublicKey(publicKey);
  if (problem) return fail(problem);
  const [keyid, fast] = await Promise.all([fingerprint(publicKey), nativeFor(publicKey)]);
  return ok({ keyid, publicKey, verify: (message, signature) => verifyStrict(publicKey, fast, message, signature) });
}

/** The native fast path for a vetted key: the host's, else WebCrypto's, else none (noble only). */
async function nativeFor(publicKey: Uint8Array): Promise<FastVerify | undefined> {
  try {
    if (host) return host.ed25519(publicKey);
    if (!(await hasNativeEd25519())) return undefined;
    const key = await crypto.subtle.importKey("raw", bufferSource(publicKey), ED25519, false, ["verify"]);
    return (message, signature) => crypto.subtle.verify(ED25519, key, bufferSource(signature), bufferSource(message));
  } catch {
    return undefined;
  }
}

function verifyStrict(publicKey: Uint8Array, fast: FastVerify | undefined, message: Uint8Array, signature: Uint8Array): MaybePromise<boolean> {
  if (signature.length !== SIGNATURE_LENGTH) return false;
  let answer: MaybePromise<boolean> = false;
  try {
    if (fast) answer = fast(message, signature);
  } catch {
    // A native verifier that throws has said nothing: noble decides.
  }
  if (answer === true) return true;
  const noble = () => nobleStrict(publicKey, message, signature);
  return answer instanceof Promise ? answer.then((valid) => valid === true || noble(), noble) : noble();
}

/**
 * Strict Ed25519 verification. Returns false (never throws) for any malformed input: wrong
 * lengths, rejected keys, non-canonical encodings, invalid signatures.
 */
export async function verifySignature(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (publicKey.length !== PUBLIC_KEY_LENGTH || signature.length !== SIGNATURE_LENGTH) return false;
  const verifier = await newVerifier(publicKey);
  return verifier.ok && verifier.value.verify(message, signature);
}

/** Verification with noble only, bypassing the native path: used to test that both agree. */
export async function verifySignatureNoble(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  if (checkPublicKey(publicKey) !== undefined) return false;
  return nobleStrict(publicKey, message, signature);
}

async function nobleStrict(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
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
