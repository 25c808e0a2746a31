/**
 * @module
 * npm registry signatures (`dist.signatures`, `GET /-/npm/v1/keys`), as `npm audit signatures`
 * checks them (npm's lib/utils/verify-signatures.js and pacote's lib/registry.js):
 *
 *     message   = `${name}@${version}:${integrity}`          (integrity: the sha512 SRI of dist.integrity)
 *     signature = ECDSA P-256 over SHA-256(message), DER-encoded (node:crypto's default
 *                 `createVerify("SHA256")`), base64
 *     key       = base64 of the SubjectPublicKeyInfo DER (npm wraps it in PEM armour)
 *     keyid     = "SHA256:" base64-nopad(SHA-256(string("ecdsa-sha2-nistp256") ||
 *                 string("nistp256") || string(Q)))        (Q: the uncompressed point, 65 bytes)
 *
 * The keyid is the OpenSSH fingerprint of the key, what `ssh-keygen -l -E sha256` prints for it,
 * and the convention of npm's own keys (test/core/npm-signatures.test.ts checks it against
 * registry.npmjs.org's published keys); the Ed25519 fingerprints of core/keys.ts follow the same
 * rule. npm itself only compares keyids as strings.
 *
 * The registry's ECDSA key is a second Workers secret, NPM_SIGNING_KEY: base64 of the key's
 * PKCS#8 DER, as WebCrypto exports it (`generateNpmSigningKey`). WebCrypto signs in IEEE P1363
 * form (r || s, 64 bytes); npm verifies DER, so signatures are re-encoded (`derFromP1363`).
 */

import { concatBytes, fromBase64, toBase64, toBase64NoPad, utf8 } from "./bytes.js";
import { sha256 } from "./digest.js";

export const NPM_KEY_TYPE = "ecdsa-sha2-nistp256";
const CURVE_NAME = "nistp256";
const ECDSA = { name: "ECDSA", namedCurve: "P-256" } as const;
const ECDSA_SHA256 = { name: "ECDSA", hash: "SHA-256" } as const;

/** One entry of `GET /-/npm/v1/keys`, exactly as npm's registry serves its own. */
export interface NpmRegistryKey {
  expires: string | null;
  keyid: string;
  keytype: typeof NPM_KEY_TYPE;
  scheme: typeof NPM_KEY_TYPE;
  key: string;
}

/** One entry of a version's `dist.signatures`. */
export interface NpmSignature {
  keyid: string;
  sig: string;
}

/** The bytes npm verifies a registry signature over. */
export function npmSignatureMessage(name: string, version: string, integrity: string): string {
  return `${name}@${version}:${integrity}`;
}

/** SubjectPublicKeyInfo DER of a P-256 point: id-ecPublicKey, prime256v1, then the point. */
const SPKI_P256_PREFIX = Uint8Array.of(
  0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
);
const POINT_LENGTH = 65;

export function spkiFromPoint(point: Uint8Array): Uint8Array {
  if (point.length !== POINT_LENGTH || point[0] !== 0x04) throw new RangeError("expected an uncompressed P-256 point (65 bytes, 0x04 first)");
  return concatBytes(SPKI_P256_PREFIX, point);
}

/** The uncompressed point of a P-256 SubjectPublicKeyInfo, or undefined for anything else. */
export function pointFromSpki(spki: Uint8Array): Uint8Array | undefined {
  if (spki.length !== SPKI_P256_PREFIX.length + POINT_LENGTH) return undefined;
  for (let i = 0; i < SPKI_P256_PREFIX.length; i++) if (spki[i] !== SPKI_P256_PREFIX[i]) return undefined;
  const point = spki.subarray(SPKI_P256_PREFIX.length);
  return point[0] === 0x04 ? point : undefined;
}

function sshString(bytes: Uint8Array): Uint8Array {
  const n = bytes.length;
  return concatBytes(Uint8Array.of(n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff), bytes);
}

/** npm's keyid of a P-256 key given as SPKI DER: its OpenSSH SHA-256 fingerprint. */
export async function npmKeyid(spki: Uint8Array): Promise<string> {
  const point = pointFromSpki(spki);
  if (!point) throw new RangeError("not a P-256 SubjectPublicKeyInfo");
  return `SHA256:${toBase64NoPad(await sha256(concatBytes(sshString(utf8(NPM_KEY_TYPE)), sshString(utf8(CURVE_NAME)), sshString(point))))}`;
}

/** The OpenSSH public key line of a P-256 SPKI, for `ssh-keygen -lf` (which prints the keyid). */
export function npmKeySshLine(spki: Uint8Array): string {
  const point = pointFromSpki(spki);
  if (!point) throw new RangeError("not a P-256 SubjectPublicKeyInfo");
  return `${NPM_KEY_TYPE} ${toBase64(concatBytes(sshString(utf8(NPM_KEY_TYPE)), sshString(utf8(CURVE_NAME)), sshString(point)))}`;
}

/** A minimal DER INTEGER of an unsigned big-endian number. */
function derInteger(bytes: Uint8Array): Uint8Array {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const body = bytes.subarray(start);
  const padded = body[0]! & 0x80 ? concatBytes(Uint8Array.of(0), body) : body;
  return concatBytes(Uint8Array.of(0x02, padded.length), padded);
}

/** ECDSA-Sig-Value DER (SEQUENCE { r INTEGER, s INTEGER }) from WebCrypto's r || s. */
export function derFromP1363(signature: Uint8Array): Uint8Array {
  if (signature.length !== 64) throw new RangeError("expected a 64-byte P-256 signature (r || s)");
  const body = concatBytes(derInteger(signature.subarray(0, 32)), derInteger(signature.subarray(32)));
  return concatBytes(Uint8Array.of(0x30, body.length), body); // at most 70 bytes: short-form length
}

/** r || s (64 bytes) from a strict DER ECDSA-Sig-Value, or undefined if it is not one. */
export function p1363FromDer(der: Uint8Array): Uint8Array | undefined {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2) return undefined;
  const out = new Uint8Array(64);
  let at = 2;
  for (let half = 0; half < 2; half++) {
    if (der[at] !== 0x02) return undefined;
    const length = der[at + 1]!;
    const value = der.subarray(at + 2, at + 2 + length);
    if (length === 0 || value.length !== length || length > 33) return undefined;
    // Minimal: no leading zero unless the next byte's high bit is set; and not negative.
    if (value[0]! & 0x80 || (value[0] === 0 && length > 1 && !(value[1]! & 0x80))) return undefined;
    const digits = value[0] === 0 ? value.subarray(1) : value;
    if (digits.length > 32) return undefined;
    out.set(digits, half * 32 + 32 - digits.length);
    at += 2 + length;
  }
  return at === der.length ? out : undefined;
}

export interface NpmSigner {
  readonly keyid: string;
  /** Base64 SPKI DER: the `key` of the keys endpoint. */
  readonly key: string;
  /** The keys endpoint's entry for this key (never expires: npm would refuse later versions). */
  readonly registryKey: NpmRegistryKey;
  /** `dist.signatures[0]` for a version. */
  sign(name: string, version: string, integrity: string): Promise<NpmSignature>;
}

/**
 * Imports NPM_SIGNING_KEY (base64 PKCS#8 DER of a P-256 private key). Throws a RangeError
 * (whose message never contains the secret) if it is not one.
 */
export async function createNpmSigner(secret: string): Promise<NpmSigner> {
  const pkcs8 = fromBase64(secret.trim());
  if (!pkcs8 || pkcs8.length < 64 || pkcs8.length > 256) throw new RangeError("is not base64 of a PKCS#8 P-256 private key");
  let privateKey: CryptoKey;
  let jwk: JsonWebKey;
  try {
    // Extractable only to read the public point (JWK x, y); the key never leaves this isolate.
    privateKey = await crypto.subtle.importKey("pkcs8", pkcs8 as Uint8Array<ArrayBuffer>, ECDSA, true, ["sign"]);
    jwk = (await crypto.subtle.exportKey("jwk", privateKey)) as JsonWebKey;
  } catch {
    throw new RangeError("is not base64 of a PKCS#8 P-256 private key");
  }
  const x = fromBase64Url(jwk.x);
  const y = fromBase64Url(jwk.y);
  if (jwk.crv !== "P-256" || x?.length !== 32 || y?.length !== 32) throw new RangeError("is not base64 of a PKCS#8 P-256 private key");
  const spki = spkiFromPoint(concatBytes(Uint8Array.of(0x04), x, y));
  const keyid = await npmKeyid(spki);
  const key = toBase64(spki);
  return {
    keyid,
    key,
    registryKey: { expires: null, keyid, keytype: NPM_KEY_TYPE, scheme: NPM_KEY_TYPE, key },
    async sign(name, version, integrity) {
      const raw = new Uint8Array(await crypto.subtle.sign(ECDSA_SHA256, privateKey, utf8(npmSignatureMessage(name, version, integrity)) as Uint8Array<ArrayBuffer>));
      return { keyid, sig: toBase64(derFromP1363(raw)) };
    },
  };
}

/** Checks one `dist.signatures` entry against a base64 SPKI key, as npm does (DER signature). */
export async function verifyNpmSignature(key: string, signature: NpmSignature, name: string, version: string, integrity: string): Promise<boolean> {
  const spki = fromBase64(key);
  const der = fromBase64(signature.sig);
  const raw = der && p1363FromDer(der);
  if (!spki || !pointFromSpki(spki) || !raw) return false;
  try {
    const publicKey = await crypto.subtle.importKey("spki", spki as Uint8Array<ArrayBuffer>, ECDSA, false, ["verify"]);
    return await crypto.subtle.verify(ECDSA_SHA256, publicKey, raw as Uint8Array<ArrayBuffer>, utf8(npmSignatureMessage(name, version, integrity)) as Uint8Array<ArrayBuffer>);
  } catch {
    return false;
  }
}

/** A new NPM_SIGNING_KEY (base64 PKCS#8 DER) and its keyid. */
export async function generateNpmSigningKey(): Promise<{ secret: string; keyid: string; key: string }> {
  const pair = (await crypto.subtle.generateKey(ECDSA, true, ["sign", "verify"])) as CryptoKeyPair;
  const secret = toBase64(new Uint8Array((await crypto.subtle.exportKey("pkcs8", pair.privateKey)) as ArrayBuffer));
  const spki = new Uint8Array((await crypto.subtle.exportKey("spki", pair.publicKey)) as ArrayBuffer);
  return { secret, keyid: await npmKeyid(spki), key: toBase64(spki) };
}

function fromBase64Url(text: string | undefined): Uint8Array | undefined {
  if (typeof text !== "string" || !/^[A-Za-z0-9_-]*$/.test(text)) return undefined;
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  return fromBase64(b64.padEnd(Math.ceil(b64.length / 4) * 4, "="));
}
