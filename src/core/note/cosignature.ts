/**
 * @module
 * Ed25519 checkpoint cosignatures (c2sp.org/tlog-cosignature, "cosignature/v1"): a witness's
 * statement that, at `time`, this was the largest consistent tree it had seen for the log.
 *
 * A cosignature is a note signature line whose key has signature type 0x04:
 *
 *     keyHash   = SHA-256( name ‖ 0x0A ‖ 0x04 ‖ 32-byte Ed25519 public key )[:4]
 *     line      = "— " name " " base64( keyHash(4) ‖ timestamp(8, big-endian) ‖ Ed25519 signature(64) )
 *     signed    = "cosignature/v1\n" "time " <timestamp, decimal, no leading zeros> "\n" <checkpoint text>
 *
 * where the checkpoint text is the whole note text, extension lines included. For example the
 * spec's witness line `— witness.example.com/w1 jWbPPwAAAABkGFDL…` has key hash 8d66cf3f and
 * timestamp 0x6418_50cb = 1679315147, and signs
 *
 *     cosignature/v1
 *     time 1679315147
 *     example.com/behind-the-sofa
 *     20852163
 *     CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=
 *
 * Timestamps are POSIX seconds. The spec allows up to 2^63 - 1; here they are limited to 2^53 - 1
 * (a safe integer), and a larger one makes the cosignature invalid. The cosignature verifier also
 * refuses to verify over a text that is not a checkpoint. The ML-DSA-44 type (0x06) is not built.
 */

import { concatBytes, fromUtf8, utf8 } from "../bytes.js";
import { KEY_PROBLEM_TEXT, SIGNATURE_LENGTH } from "../keys.js";
import { fail, ok, type Result } from "../result.js";
import { createSigner, newVerifier, type Signer } from "../signature.js";
import { parseCheckpoint } from "./checkpoint.js";
import { isValidKeyName, keyHashOf, parseSignerKey, parseVerifierKey, type NoteSignature, type NoteSigner, type NoteVerifier } from "./note.js";

/** Signature type byte of Ed25519 cosignature/v1 keys. */
export const COSIGNATURE_TYPE = 0x04;
const TIMESTAMP_LENGTH = 8;

/** The bytes a cosignature/v1 signs: header, time line, then the checkpoint text. */
export function cosignatureMessage(timestamp: number, checkpointText: string): Uint8Array {
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw new RangeError(`"timestamp" expected a non-negative safe integer, got ${timestamp}`);
  return utf8(`cosignature/v1\ntime ${timestamp}\n${checkpointText}`);
}

/** The timestamp of a cosignature line (verified or not), or undefined if it is not one. */
export function cosignatureTimestamp(sig: Pick<NoteSignature, "signature">): number | undefined {
  const bytes = sig.signature;
  if (bytes.length !== TIMESTAMP_LENGTH + SIGNATURE_LENGTH) return undefined;
  return readTimestamp(bytes);
}

function readTimestamp(bytes: Uint8Array): number | undefined {
  const high = ((bytes[0]! << 24) | (bytes[1]! << 16) | (bytes[2]! << 8) | bytes[3]!) >>> 0;
  const low = ((bytes[4]! << 24) | (bytes[5]! << 16) | (bytes[6]! << 8) | bytes[7]!) >>> 0;
  const value = high * 2 ** 32 + low;
  return high < 2 ** 21 ? value : undefined; // below 2^53
}

function writeTimestamp(timestamp: number): Uint8Array {
  const out = new Uint8Array(TIMESTAMP_LENGTH);
  const high = Math.floor(timestamp / 2 ** 32);
  const low = timestamp % 2 ** 32;
  new DataView(out.buffer).setUint32(0, high);
  new DataView(out.buffer).setUint32(4, low);
  return out;
}

/** A verifier of cosignature/v1 lines by the Ed25519 key `publicKey` of cosigner `name`. */
export async function cosignatureVerifier(name: string, publicKey: Uint8Array): Promise<Result<NoteVerifier, string>> {
  if (!isValidKeyName(name)) return fail("invalid key name");
  const vetted = await newVerifier(publicKey);
  if (!vetted.ok) return fail(KEY_PROBLEM_TEXT[vetted.error]);
  const key = vetted.value;
  const keyHash = await keyHashOf(name, COSIGNATURE_TYPE, publicKey);
  return ok({
    name,
    keyHash,
    verify(message, signature) {
      if (signature.length !== TIMESTAMP_LENGTH + SIGNATURE_LENGTH) return false;
      const timestamp = readTimestamp(signature);
      if (timestamp === undefined) return false;
      let text: string;
      try {
        text = fromUtf8(message);
      } catch {
        return false;
      }
      if (!parseCheckpoint(text).ok) return false;
      return key.verify(cosignatureMessage(timestamp, text), signature.subarray(TIMESTAMP_LENGTH));
    },
  });
}

/** The cosignature verifier for a vkey of type 0x04 (`name+hex8+base64(0x04 ‖ key)`). */
export async function newCosignatureVerifier(vkey: string): Promise<Result<NoteVerifier, string>> {
  const parsed = await parseVerifierKey(vkey);
  if (!parsed.ok) return parsed;
  if (parsed.value.type !== COSIGNATURE_TYPE) return fail("not a cosignature key (type 0x04)");
  return cosignatureVerifier(parsed.value.name, parsed.value.publicKey);
}

/**
 * A note signer producing cosignature/v1 lines with a core `Signer`, stamping each with
 * `now()` (POSIX seconds; default the clock). Signing text that is not a checkpoint throws
 * RangeError: a witness cosigns checkpoints only.
 */
export async function cosignatureSigner(name: string, signer: Signer, now: () => number = () => Math.floor(Date.now() / 1000)): Promise<NoteSigner> {
  if (!isValidKeyName(name)) throw new RangeError(`"name" expected a key name, got ${JSON.stringify(name)}`);
  const keyHash = await keyHashOf(name, COSIGNATURE_TYPE, signer.publicKey);
  return {
    name,
    keyHash,
    async sign(message) {
      const text = fromUtf8(message);
      if (!parseCheckpoint(text).ok) throw new RangeError(`"message" expected a checkpoint`);
      const timestamp = now();
      const signature = await signer.sign(cosignatureMessage(timestamp, text));
      return concatBytes(writeTimestamp(timestamp), signature);
    },
  };
}

/** The cosignature signer for a `PRIVATE+KEY+<name>+<hex8>+base64(0x04 ‖ seed)` string. */
export async function newCosignatureSigner(skey: string, now?: () => number): Promise<Result<NoteSigner, string>> {
  const parsed = await parseSignerKey(skey);
  if (!parsed.ok) return parsed;
  if (parsed.value.type !== COSIGNATURE_TYPE) return fail("not a cosignature key (type 0x04)");
  return ok(await cosignatureSigner(parsed.value.name, await createSigner(parsed.value.seed), now));
}
