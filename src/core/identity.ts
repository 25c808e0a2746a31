/**
 * @module
 * The registry identity document, served at `/.well-known/countersign.json`.
 *
 * A DSSE envelope (payload type `application/vnd.countersign.identity.v1+json`) signed by the
 * registry's own key, whose payload names the registry, its origin, its keys (a list, so that
 * rotation can add keys without changing the format) and the namespaces it is authoritative for.
 * A client holding only a pinned fingerprint can check it: find the key with that fingerprint in
 * the list, check the fingerprint, verify the signature. A client holding nothing learns a
 * fingerprint to show a human, never one to trust silently.
 */

import { fromBase64, fromUtf8, toBase64, utf8 } from "./bytes.js";
import { signEnvelope, type Envelope } from "./dsse.js";
import { isFingerprint } from "./keys.js";
import { npmKeyid, NPM_KEY_TYPE } from "./npm-signatures.js";
import { fail, ok, type Result } from "./result.js";
import * as z from "zod/mini";
import { parseJsonBytes } from "./schema.js";
import type { Signer } from "./signature.js";
import { openStatement, type StatementFormat } from "./signed.js";
import { currentKeys, followRotations, openRotation, type KeyChain, type KeyRotation } from "./rotation.js";

export const IDENTITY_PAYLOAD_TYPE = "application/vnd.countersign.identity.v1+json";
export const IDENTITY_TYPE = "https://countersign.dev/identity/v1";
export const WELL_KNOWN_PATH = "/.well-known/countersign.json";

const IdentityKey = z.strictObject({
  keyid: z.string().check(z.refine(isFingerprint, "expected a SHA256: fingerprint")),
  algorithm: z.literal("ed25519"),
  publicKey: z.string(),
  /** "active": signs now (and signs this document); "retired": rotated away at log index `until` (rotation.ts). */
  status: z.enum(["active", "retired"]),
  until: z.optional(z.number().check(z.int(), z.positive())),
});

/**
 * The registry's npm signing key (ECDSA P-256, NPM_SIGNING_KEY; core/npm-signatures.ts): the key
 * `GET /-/npm/v1/keys` serves for `npm audit signatures`, listed here so that it is vouched for
 * by the registry's Ed25519 key and adds no trust root of its own. `key` is base64 SPKI DER,
 * `keyid` its OpenSSH SHA-256 fingerprint (npm's keyid), both exactly as the keys endpoint has them.
 */
const IdentityNpmKey = z.strictObject({
  keyid: z.string().check(z.refine(isFingerprint, "expected a SHA256: fingerprint")),
  keytype: z.literal(NPM_KEY_TYPE),
  key: z.string().check(z.maxLength(256)),
});

// Not strict at the top: fields a newer registry adds are ignored (and dropped), so its documents
// open in older clients; every field this version knows is checked strictly.
const IdentitySchema = z.object({
  type: z.literal(IDENTITY_TYPE),
  name: z.string().check(z.minLength(1), z.maxLength(128)),
  origin: z.string(),
  keys: z.array(IdentityKey).check(z.minLength(1), z.maxLength(16)),
  namespaces: z.array(z.string()).check(z.maxLength(100_000)),
  /** The registry's transparency log (PROTOCOL §18): URL prefix, checkpoint origin, note verifier key. */
  log: z.optional(z.strictObject({ url: z.string(), origin: z.string(), key: z.string() })),
  /** Its key rotations in log order (PROTOCOL §21): envelopes, each opened with `openRotation`. */
  rotations: z.optional(z.array(z.unknown()).check(z.maxLength(64))),
  /** Its npm registry signing keys (PROTOCOL §11, "Registry signatures"); absent when it has none. */
  npmKeys: z.optional(z.array(IdentityNpmKey).check(z.minLength(1), z.maxLength(16))),
  issuedAt: z.iso.datetime({ offset: false, precision: 3 }),
});

export type IdentityDocument = z.infer<typeof IdentitySchema>;

export interface IdentityInput {
  name: string;
  origin: string;
  namespaces: string[];
  log?: IdentityDocument["log"];
  npmKeys?: IdentityDocument["npmKeys"];
  /** Keys rotated away (oldest first), each with the log index of its rotation, and the rotation envelopes. */
  retired?: { keyid: string; publicKey: string; until: number }[];
  rotations?: Envelope[];
  issuedAt?: Date;
}

export async function signIdentity(input: IdentityInput, signer: Signer): Promise<Envelope> {
  const doc: IdentityDocument = {
    type: IDENTITY_TYPE,
    name: input.name,
    origin: input.origin,
    keys: [
      { keyid: signer.keyid, algorithm: "ed25519", publicKey: toBase64(signer.publicKey), status: "active" },
      ...(input.retired ?? []).map((k) => ({ keyid: k.keyid, algorithm: "ed25519" as const, publicKey: k.publicKey, status: "retired" as const, until: k.until })),
    ],
    namespaces: input.namespaces,
    ...(input.log ? { log: input.log } : {}),
    ...(input.rotations?.length ? { rotations: input.rotations } : {}),
    ...(input.npmKeys?.length ? { npmKeys: input.npmKeys } : {}),
    issuedAt: (input.issuedAt ?? new Date()).toISOString(),
  };
  return signEnvelope(IDENTITY_PAYLOAD_TYPE, utf8(JSON.stringify(doc)), signer);
}

export interface OpenedIdentity {
  document: IdentityDocument;
  /** Fingerprint of the key whose signature verified. */
  keyid: string;
}

/** The identity document as a signed format: signed by one of the keys it lists. */
const IDENTITY_FORMAT: StatementFormat<IdentityDocument> = {
  payloadType: IDENTITY_PAYLOAD_TYPE,
  what: "an identity document",
  parse: (payload) => parseJsonBytes(payload, IdentitySchema, "document"),
  signer: (document, keyid) => {
    // Only the active key signs the document: a retired key's signature is no identity.
    const key = document.keys.find((k) => k.keyid === keyid && k.status === "active");
    return key && { role: "registry", keyid: key.keyid, publicKey: key.publicKey };
  },
};

/**
 * Verifies a served identity document. With `pinned`, the signing key must also be one of the
 * pinned fingerprints; without it, the caller must show the fingerprint to a human.
 */
export async function openIdentity(value: unknown, pinned?: readonly string[]): Promise<Result<OpenedIdentity>> {
  const opened = await openStatement(value, IDENTITY_FORMAT, { trusted: pinned });
  if (opened.ok) return ok({ document: opened.value.statement, keyid: opened.value.keyid });
  const problem = opened.error;
  if (problem.code === "untrusted_signer" && pinned) return fail(`identity document is signed by ${problem.keyid}, expected ${pinned.join(" or ")}`);
  return fail(`identity document: ${problem.message}`);
}

/**
 * Checks that every npm key an identity document lists is a P-256 key whose keyid is its
 * fingerprint; returns the first problem. (The document's signature already vouches for the
 * list; this catches a registry that lists a key under the wrong keyid, which npm would never
 * match with its `dist.signatures`.)
 */
export async function checkIdentityNpmKeys(document: IdentityDocument): Promise<string | undefined> {
  for (const entry of document.npmKeys ?? []) {
    const spki = fromBase64(entry.key);
    const keyid = spki && (await npmKeyid(spki).catch(() => undefined));
    if (!keyid) return `npm key ${entry.keyid} is not a base64 P-256 SubjectPublicKeyInfo`;
    if (keyid !== entry.keyid) return `npm key listed as ${entry.keyid} has keyid ${keyid}`;
  }
  return undefined;
}

/**
 * Opens an identity document for a consumer who pinned `pinned`, following the key rotations it
 * lists (PROTOCOL §21) where they chain to a pinned key: the document must be signed by a key of
 * that chain that was not rotated away. The rotations are read before the document's signature
 * is checked, only to learn which keys the pins reach; each is verified on its own.
 */
export async function openIdentityFollowing(value: unknown, pinned: { fingerprints: readonly string[]; retired?: readonly { fingerprint: string; until: number }[] | undefined }): Promise<Result<OpenedIdentity & { chain: KeyChain }>> {
  const listed = listedRotations(value);
  const rotations: KeyRotation[] = [];
  for (const envelope of listed) {
    const opened = await openRotation(envelope);
    if (!opened.ok) return fail(`identity document lists a key rotation that does not verify: ${opened.error}`);
    rotations.push(opened.value);
  }
  const chain = followRotations(pinned, rotations);
  if (!chain.ok) return fail(`identity document: ${chain.error}`);
  const opened = await openIdentity(value, currentKeys(chain.value));
  return opened.ok ? ok({ ...opened.value, chain: chain.value }) : opened;
}

function listedRotations(value: unknown): unknown[] {
  try {
    const payload = (value as { payload?: unknown } | null)?.payload;
    const bytes = typeof payload === "string" ? fromBase64(payload) : undefined;
    const rotations = bytes ? (JSON.parse(fromUtf8(bytes)) as { rotations?: unknown }).rotations : undefined;
    return Array.isArray(rotations) ? rotations.slice(0, 64) : [];
  } catch {
    return [];
  }
}

/** The keys an identity document lists (active and retired) with their raw public keys and, when retired, their rotation's log index. */
export function listedKeys(document: IdentityDocument): { keyid: string; publicKey: Uint8Array; until?: number | undefined }[] {
  return document.keys.flatMap((k) => {
    const publicKey = fromBase64(k.publicKey);
    return publicKey ? [{ keyid: k.keyid, publicKey, until: k.until }] : [];
  });
}

