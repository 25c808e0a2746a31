/**
 * @module
 * DSSE envelopes (https://github.com/secure-systems-lab/dsse, protocol v1).
 *
 * The signature covers the pre-authentication encoding of the payload, never re-serialised
 * JSON, so there is no canonicalisation to get wrong:
 *
 *     PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body
 *
 * where LEN is the byte length in ASCII decimal without leading zeros. Envelopes here carry
 * exactly one signature; `keyid` is the signer's fingerprint (keys.ts). This module only reads
 * and writes the format: opening a signed object (shape, payload type, statement, key, signature)
 * is `openStatement` in signed.ts.
 */

import { fromBase64, newBytes, toBase64, utf8 } from "./bytes.js";
import { isFingerprint } from "./keys.js";
import { decodeSignature, encodeSignature, type Signer } from "./signature.js";

export interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

/** An envelope whose fields decoded cleanly. Nothing about it has been verified yet. */
export interface OpenedEnvelope {
  /** The envelope rebuilt from its checked fields (the strings exactly as received). */
  readonly envelope: Envelope;
  readonly payloadType: string;
  readonly payload: Uint8Array;
  readonly keyid: string;
  readonly signature: Uint8Array;
}

/** Upper bound on an envelope's payload; statements are a few KB, file lists a few hundred. */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
const MAX_PAYLOAD_TYPE_LENGTH = 256;
const PRINTABLE = /^[\x20-\x7e]*$/;

/** PAE(payloadType, payload). The result may share its ArrayBuffer (bytes.ts `newBytes`). */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const prefix = paePrefix(payloadType);
  const length = String(payload.length);
  const out = newBytes(prefix.length + length.length + 1 + payload.length);
  out.set(prefix);
  let at = prefix.length;
  for (let i = 0; i < length.length; i++) out[at++] = length.charCodeAt(i); // ASCII digits
  out[at++] = 0x20;
  out.set(payload, at);
  return out;
}

// "DSSEv1 LEN(type) type ", kept for the last payload type seen: every statement of the protocol
// has the same one, and encoding it anew for each envelope was a measurable part of verifying.
let prefixType: string | undefined;
let prefixBytes: Uint8Array = new Uint8Array(0);

function paePrefix(payloadType: string): Uint8Array {
  if (payloadType !== prefixType) {
    // LEN is a byte length; for printable ASCII (every payload type in use) it is the string length.
    const typeLength = PRINTABLE.test(payloadType) ? payloadType.length : utf8(payloadType).length;
    prefixBytes = utf8(`DSSEv1 ${typeLength} ${payloadType} `);
    prefixType = payloadType;
  }
  return prefixBytes;
}

export async function signEnvelope(payloadType: string, payload: Uint8Array, signer: Signer): Promise<Envelope> {
  const signature = await signer.sign(pae(payloadType, payload));
  return { payloadType, payload: toBase64(payload), signatures: [{ keyid: signer.keyid, sig: encodeSignature(signature) }] };
}

/**
 * Checks the envelope's shape (attacker-controlled input): exactly the three DSSE fields, one
 * signature with a fingerprint keyid, canonical base64 everywhere. Returns a reason on failure.
 */
export function openEnvelope(value: unknown): OpenedEnvelope | { problem: string } {
  if (!isPlainObject(value)) return { problem: "envelope is not a JSON object" };
  if (!isExactObject(value, ["payloadType", "payload", "signatures"])) return { problem: "envelope must have exactly payloadType, payload and signatures" };
  const { payloadType, payload, signatures } = value;
  if (typeof payloadType !== "string" || payloadType.length === 0 || payloadType.length > MAX_PAYLOAD_TYPE_LENGTH) return { problem: "payloadType is not a short string" };
  if (typeof payload !== "string" || payload.length > (MAX_PAYLOAD_BYTES / 3) * 4 + 4) return { problem: "payload is not a string of acceptable size" };
  const body = fromBase64(payload);
  if (!body) return { problem: "payload is not canonical base64" };
  if (!Array.isArray(signatures) || signatures.length !== 1) return { problem: "envelope must carry exactly one signature" };
  const entry: unknown = signatures[0];
  if (!isExactObject(entry, ["keyid", "sig"])) return { problem: "signature entry must have exactly keyid and sig" };
  const { keyid, sig } = entry;
  if (!isFingerprint(keyid)) return { problem: "signature keyid is not a SHA256: fingerprint" };
  const signature = decodeSignature(sig);
  if (typeof sig !== "string" || !signature) return { problem: "signature is not 64 bytes of canonical base64" };
  return { envelope: { payloadType, payload, signatures: [{ keyid, sig }] }, payloadType, payload: body, keyid, signature };
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A plain object whose own enumerable keys are exactly `keys`, in any order. */
export function isExactObject(value: unknown, keys: readonly string[]): value is Record<string, unknown> {
  if (!isPlainObject(value)) return false;
  let count = 0;
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (!keys.includes(key)) return false;
    count++;
  }
  return count === keys.length;
}
