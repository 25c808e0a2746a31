/**
 * @module
 * Registry key rotation (PROTOCOL §21): the registry hands its identity from one Ed25519 key to
 * the next with a **rotation statement** signed by both — the old key says "my successor is this
 * key", the new one says "I take over" — appended to the transparency log at its own sequence
 * number `s` (one sequence with versions and registry statements). From then on:
 *
 *   - the old key's countersignatures count only for sequence numbers below `s`, and its
 *     checkpoints only for trees of size at most `s` (they cannot include the rotation);
 *   - the new key's countersignatures count only above `s`;
 *   - only a key that has not been rotated away signs package metadata.
 *
 * So old countersignatures stay valid because the log orders them before the rotation, not
 * because of a clock; and a stolen old key cannot sign anything a consumer who knows the
 * rotation accepts. A consumer follows a rotation only when it chains to a key it pinned, in
 * either direction (`followRotations`).
 *
 * Envelope: DSSE with exactly two signatures, the old key's then the new key's, over the same
 * PAE. A log entry is the payload bytes, as for countersignatures.
 */

import * as z from "zod/mini";
import { fromBase64, toBase64, utf8 } from "./bytes.js";
import { isExactObject, pae, type Envelope } from "./dsse.js";
import { Fingerprint, Timestamp } from "./fields.js";
import { fail, ok, type Result } from "./result.js";
import { parseJsonBytes } from "./schema.js";
import { decodeSignature, encodeSignature, type Signer } from "./signature.js";
import { vetSignerKey } from "./signed.js";

export const ROTATION_PAYLOAD_TYPE = "application/vnd.countersign.key-rotation.v1+json";
export const ROTATION_TYPE = "https://countersign.dev/key-rotation/v1";

const Sequence = z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER));
const Key = z.strictObject({ keyid: Fingerprint, publicKey: z.string().check(z.maxLength(64)) });

const RotationSchema = z.strictObject({
  _type: z.literal(ROTATION_TYPE),
  origin: z.string().check(z.maxLength(2048)),
  /** The rotation's log index: the old key's last countersignature is below it, the new key's first above. */
  sequence: Sequence,
  at: Timestamp,
  from: Key,
  to: Key,
  /**
   * Set when the old key is rotated away because it was compromised: its countersignatures from
   * this log index on are void too (1 ≤ compromisedSince < sequence). Its checkpoints still count
   * up to `sequence`: they state the log, which is checked by consistency, not trusted.
   */
  compromisedSince: z.optional(Sequence),
});

export type KeyRotation = z.infer<typeof RotationSchema>;

const MAX_ROTATION_PAYLOAD = 4096;

/** Signs the rotation from `from` to `to` at log index `sequence`: both keys sign the same payload. */
export async function signRotation(context: { origin: string; sequence: number; at: string; compromisedSince?: number | undefined }, from: Signer, to: Signer): Promise<Envelope> {
  const statement: KeyRotation = {
    _type: ROTATION_TYPE,
    origin: context.origin,
    sequence: context.sequence,
    at: context.at,
    from: { keyid: from.keyid, publicKey: toBase64(from.publicKey) },
    to: { keyid: to.keyid, publicKey: toBase64(to.publicKey) },
    ...(context.compromisedSince !== undefined ? { compromisedSince: context.compromisedSince } : {}),
  };
  const payload = utf8(JSON.stringify(statement));
  const message = pae(ROTATION_PAYLOAD_TYPE, payload);
  const [old, next] = await Promise.all([from.sign(message), to.sign(Uint8Array.from(message))]);
  return {
    payloadType: ROTATION_PAYLOAD_TYPE,
    payload: toBase64(payload),
    signatures: [
      { keyid: from.keyid, sig: encodeSignature(old) },
      { keyid: to.keyid, sig: encodeSignature(next) },
    ],
  };
}

/** Parses a rotation's payload bytes (a log entry): schema and self-consistency, no signatures. */
export function parseRotation(payload: Uint8Array): Result<KeyRotation> {
  const parsed = parseJsonBytes(payload, RotationSchema, "key rotation");
  if (!parsed.ok) return parsed;
  if (parsed.value.from.keyid === parsed.value.to.keyid) return fail("key rotation: from and to are the same key");
  const since = parsed.value.compromisedSince;
  if (since !== undefined && since >= parsed.value.sequence) return fail("key rotation: compromisedSince must be below the rotation's own sequence number");
  return parsed;
}

/**
 * Opens a rotation envelope (attacker-controlled): exactly two signatures, by the old key and by
 * the new one, each the fingerprint of the key the statement names and each verifying. Never
 * throws.
 */
export async function openRotation(value: unknown): Promise<Result<KeyRotation>> {
  if (!isExactObject(value, ["payloadType", "payload", "signatures"])) return fail("key rotation: not a DSSE envelope");
  if (value.payloadType !== ROTATION_PAYLOAD_TYPE) return fail("key rotation: not a key rotation statement");
  const payload = typeof value.payload === "string" && value.payload.length <= (MAX_ROTATION_PAYLOAD / 3) * 4 + 4 ? fromBase64(value.payload) : undefined;
  if (!payload) return fail("key rotation: payload is not canonical base64 of acceptable size");
  const signatures = value.signatures;
  if (!Array.isArray(signatures) || signatures.length !== 2) return fail("key rotation: must carry exactly two signatures, the old key's and the new key's");
  const parsed = parseRotation(payload);
  if (!parsed.ok) return parsed;
  const rotation = parsed.value;
  const message = pae(ROTATION_PAYLOAD_TYPE, payload);
  for (const [i, role] of [[0, "from"], [1, "to"]] as const) {
    const entry: unknown = signatures[i];
    if (!isExactObject(entry, ["keyid", "sig"])) return fail("key rotation: a signature entry must have exactly keyid and sig");
    const key = rotation[role];
    if (entry.keyid !== key.keyid) return fail(`key rotation: signature ${i + 1} must be by the ${role === "from" ? "old" : "new"} key ${key.keyid}`);
    const signature = typeof entry.sig === "string" ? decodeSignature(entry.sig) : undefined;
    if (!signature) return fail("key rotation: a signature is not 64 bytes of canonical base64");
    const vetted = await vetSignerKey({ role: role === "from" ? "old registry" : "new registry", keyid: key.keyid, publicKey: key.publicKey });
    if (!vetted.ok) return fail(`key rotation: ${vetted.error.message}`);
    if (!(await vetted.value.verify(Uint8Array.from(message), signature))) return fail(`key rotation: the ${role === "from" ? "old" : "new"} key's signature does not verify`);
  }
  return ok(rotation);
}

/** What a key may do, by log index: countersign strictly between `after` and `until`, sign checkpoints of size ≤ `until`. */
export interface KeyValidity {
  keyid: string;
  /** Base64 raw public key, when a rotation named it. */
  publicKey?: string;
  /** It countersigns only above this sequence number (the rotation that made it the registry's key). */
  after?: number;
  /** It signs trees of at most this size (the rotation away from it), and countersigns only below it. */
  until?: number;
  /** It countersigns only below this sequence number: the index from which a rotation declared it compromised. */
  compromisedSince?: number;
}

export interface KeyChain {
  /** Every key trusted for the registry, by fingerprint, with what it may sign. */
  keys: Map<string, KeyValidity>;
  /** The rotations that connect them, in log order. */
  rotations: KeyRotation[];
  /** The oldest key of the chain: what names this registry's history on a machine (stored checkpoints, floors). */
  root: string;
}

/**
 * The keys trusted for one registry: the pinned ones (`retired` ones only below their `until`),
 * and every key a rotation chains to them — forward (the pinned key handed over) or backward (a
 * pinned key took over from it). Rotations that do not touch the chain are ignored; two
 * rotations away from one key, or to one key, are an equivocation and fail.
 */
export function followRotations(
  pinned: { fingerprints: readonly string[]; retired?: readonly { fingerprint: string; until: number; compromisedSince?: number | undefined }[] | undefined },
  rotations: readonly KeyRotation[],
): Result<KeyChain> {
  const byFrom = new Map<string, KeyRotation>();
  const byTo = new Map<string, KeyRotation>();
  for (const r of rotations) {
    const seenFrom = byFrom.get(r.from.keyid);
    if (seenFrom && seenFrom.sequence !== r.sequence) return fail(`two rotations away from ${r.from.keyid} (log indexes ${seenFrom.sequence} and ${r.sequence}): the registry's key history forks`);
    const seenTo = byTo.get(r.to.keyid);
    if (seenTo && seenTo.sequence !== r.sequence) return fail(`two rotations to ${r.to.keyid} (log indexes ${seenTo.sequence} and ${r.sequence}): the registry's key history forks`);
    byFrom.set(r.from.keyid, r);
    byTo.set(r.to.keyid, r);
  }
  const keys = new Map<string, KeyValidity>();
  const queue: string[] = [];
  const add = (keyid: string, validity: Omit<KeyValidity, "keyid">) => {
    const known = keys.get(keyid);
    const merged: KeyValidity = { keyid, ...known, ...validity };
    if (known?.until !== undefined && validity.until !== undefined) merged.until = Math.min(known.until, validity.until);
    if (known?.compromisedSince !== undefined && validity.compromisedSince !== undefined) merged.compromisedSince = Math.min(known.compromisedSince, validity.compromisedSince);
    if (!known) queue.push(keyid);
    keys.set(keyid, merged);
  };
  for (const fingerprint of pinned.fingerprints) add(fingerprint, {});
  for (const retired of pinned.retired ?? []) add(retired.fingerprint, { until: retired.until, ...(retired.compromisedSince !== undefined ? { compromisedSince: retired.compromisedSince } : {}) });
  const used = new Set<KeyRotation>();
  while (queue.length) {
    const keyid = queue.shift()!;
    const away = byFrom.get(keyid);
    if (away) {
      used.add(away);
      add(keyid, { publicKey: away.from.publicKey, until: away.sequence, ...(away.compromisedSince !== undefined ? { compromisedSince: away.compromisedSince } : {}) });
      add(away.to.keyid, { publicKey: away.to.publicKey, after: away.sequence });
    }
    const into = byTo.get(keyid);
    if (into) {
      used.add(into);
      add(keyid, { publicKey: into.to.publicKey, after: into.sequence });
      add(into.from.keyid, { publicKey: into.from.publicKey, until: into.sequence, ...(into.compromisedSince !== undefined ? { compromisedSince: into.compromisedSince } : {}) });
    }
  }
  const chain = [...used].sort((a, b) => a.sequence - b.sequence);
  let root = pinned.retired?.length ? [...pinned.retired].sort((a, b) => a.until - b.until)[0]!.fingerprint : pinned.fingerprints[0]!;
  for (let r = byTo.get(root); r && keys.has(r.from.keyid); r = byTo.get(root)) root = r.from.keyid;
  return ok({ keys, rotations: chain, root });
}

/** Why `keyid` may not countersign at `sequence` in this chain, or undefined if it may. */
export function countersignRefusal(chain: KeyChain, keyid: string, sequence: number): string | undefined {
  const key = chain.keys.get(keyid);
  if (!key) return `${keyid} is not a key of this registry`;
  if (key.compromisedSince !== undefined && sequence >= key.compromisedSince) return `${keyid} was declared compromised from log index ${key.compromisedSince} (by its rotation at ${key.until}), and countersigned sequence ${sequence}`;
  if (key.until !== undefined && sequence >= key.until) return `${keyid} was rotated out at log index ${key.until}, but countersigned sequence ${sequence}`;
  if (key.after !== undefined && sequence <= key.after) return `${keyid} became the registry's key at log index ${key.after}, but countersigned sequence ${sequence}`;
  return undefined;
}

/** The keys that may sign what is not sequenced (package metadata, identity documents): those not rotated away. */
export function currentKeys(chain: KeyChain): string[] {
  return [...chain.keys.values()].filter((k) => k.until === undefined).map((k) => k.keyid);
}

/** The first key of `keyid`'s history in this chain (itself when no rotation led to it): what names its log on a machine. */
export function rootOf(chain: KeyChain, keyid: string): string {
  let root = keyid;
  for (let i = 0; i < chain.rotations.length; i++) {
    const into = chain.rotations.find((r) => r.to.keyid === root);
    if (!into) break;
    root = into.from.keyid;
  }
  return root;
}

