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

import { toBase64, utf8 } from "./bytes.js";
import { signEnvelope, type Envelope } from "./dsse.js";
import { isFingerprint } from "./keys.js";
import { fail, ok, type Result } from "./result.js";
import * as z from "zod/mini";
import { parseJsonBytes } from "./schema.js";
import type { Signer } from "./signature.js";
import { openStatement, type StatementFormat } from "./signed.js";

export const IDENTITY_PAYLOAD_TYPE = "application/vnd.countersign.identity.v1+json";
export const IDENTITY_TYPE = "https://countersign.dev/identity/v1";
export const WELL_KNOWN_PATH = "/.well-known/countersign.json";

const IdentityKey = z.strictObject({
  keyid: z.string().check(z.refine(isFingerprint, "expected a SHA256: fingerprint")),
  algorithm: z.literal("ed25519"),
  publicKey: z.string(),
  status: z.enum(["active"]),
});

const IdentitySchema = z.strictObject({
  type: z.literal(IDENTITY_TYPE),
  name: z.string().check(z.minLength(1), z.maxLength(128)),
  origin: z.string(),
  keys: z.array(IdentityKey).check(z.minLength(1), z.maxLength(16)),
  namespaces: z.array(z.string()).check(z.maxLength(100_000)),
  /** The registry's transparency log (PROTOCOL §18): URL prefix, checkpoint origin, note verifier key. */
  log: z.optional(z.strictObject({ url: z.string(), origin: z.string(), key: z.string() })),
  issuedAt: z.iso.datetime({ offset: false, precision: 3 }),
});

export type IdentityDocument = z.infer<typeof IdentitySchema>;

export interface IdentityInput {
  name: string;
  origin: string;
  namespaces: string[];
  log?: IdentityDocument["log"];
  issuedAt?: Date;
}

export async function signIdentity(input: IdentityInput, signer: Signer): Promise<Envelope> {
  const doc: IdentityDocument = {
    type: IDENTITY_TYPE,
    name: input.name,
    origin: input.origin,
    keys: [{ keyid: signer.keyid, algorithm: "ed25519", publicKey: toBase64(signer.publicKey), status: "active" }],
    namespaces: input.namespaces,
    ...(input.log ? { log: input.log } : {}),
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
    const key = document.keys.find((k) => k.keyid === keyid);
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
