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
 * exactly one signature; `keyid` is the signer's fingerprint (keys.ts).
 */

import { concatBytes, fromBase64, toBase64, utf8 } from "./bytes.js";
import { isFingerprint } from "./keys.js";
import { decodeSignature, encodeSignature, verifySignature, type Signer } from "./signature.js";

export interface Envelope {
  payloadType: string;
  payload: string;
  signatures: { keyid: string; sig: string }[];
}

/** An envelope whose fields decoded cleanly. Nothing about it has been verified yet. */
export interface OpenedEnvelope {
  readonly envelope: Envelope;
  readonly payloadType: string;
  readonly payload: Uint8Array;
  readonly keyid: string;
  readonly signature: Uint8Array;
}

/** Upper bound on an envelope's payload; statements are a few KB, file lists a few hundred. */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;

export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const type = utf8(payloadType);
  return concatBytes(utf8(`DSSEv1 ${type.length} `), type, utf8(` ${payload.length} `), payload);
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
  const keys = Object.keys(value).sort().join(",");
  if (keys !== "payload,payloadType,signatures") return { problem: "envelope must have exactly payloadType, payload and signatures" };
  const { payloadType, payload, signatures } = value as Record<string, unknown>;
  if (typeof payloadType !== "string" || payloadType.length === 0 || payloadType.length > 256) return { problem: "payloadType is not a short string" };
  if (typeof payload !== "string" || payload.length > (MAX_PAYLOAD_BYTES / 3) * 4 + 4) return { problem: "payload is not a string of acceptable size" };
  const body = fromBase64(payload);
  if (!body) return { problem: "payload is not canonical base64" };
  if (!Array.isArray(signatures) || signatures.length !== 1) return { problem: "envelope must carry exactly one signature" };
  const entry: unknown = signatures[0];
  if (!isPlainObject(entry) || Object.keys(entry).sort().join(",") !== "keyid,sig") return { problem: "signature entry must have exactly keyid and sig" };
  const { keyid, sig } = entry as Record<string, unknown>;
  if (!isFingerprint(keyid)) return { problem: "signature keyid is not a SHA256: fingerprint" };
  const signature = decodeSignature(sig);
  if (!signature) return { problem: "signature is not 64 bytes of canonical base64" };
  return { envelope: value as unknown as Envelope, payloadType, payload: body, keyid, signature };
}

export function verifyEnvelope(opened: OpenedEnvelope, publicKey: Uint8Array): Promise<boolean> {
  return verifySignature(publicKey, pae(opened.payloadType, opened.payload), opened.signature);
}

export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
