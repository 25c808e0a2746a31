/**
 * @module
 * The verification receipt (docs/PROTOCOL.md §17): what a successful `countersign verify` hands
 * to the runtime phase. For each verified package: name, version, integrity, publisher and
 * registry fingerprints, and the per-file digests the publisher signed and the registry checked.
 * It is bound to the lockfile(s) it verified by digest, and signed by a receipt key, so the
 * runtime hook can refuse to load a module whose bytes differ from what was verified.
 *
 * Who may sign: the machine's own receipt key, or a key whose fingerprint the pins list under
 * `receipts.signers` (a CI key held as a secret). The payload names its signer's public key, so a
 * machine that has never seen the key checks key → fingerprint → pinned before trusting it.
 */

import * as z from "zod/mini";
import { FileEntry } from "./attributes.js";
import { utf8 } from "./bytes.js";
import { signEnvelope, type Envelope } from "./dsse.js";
import { Fingerprint, hex, ShortText, Timestamp } from "./fields.js";
import { fail, ok, type Result } from "./result.js";
import { parseJsonBytes } from "./schema.js";
import type { Signer } from "./signature.js";
import { openStatement, type SignedObjectProblem, type StatementFormat } from "./signed.js";

export const RECEIPT_PAYLOAD_TYPE = "application/vnd.countersign.receipt.v1+json";
export const RECEIPT_TYPE = "https://countersign.dev/receipt/v1";
export const RECEIPT_FILE = "countersign-receipt.json";

const ReceiptPackage = z.strictObject({
  name: z.string(),
  version: z.string(),
  namespace: z.string(),
  integrity: z.string(),
  publisher: Fingerprint,
  registry: Fingerprint,
  /** The signed per-file digests; absent when the publisher signed none (the hook then refuses). */
  files: z.optional(z.array(FileEntry)),
});

/** The key that signed the receipt: keyid = its fingerprint = the envelope's keyid. */
const ReceiptSigner = z.strictObject({ keyid: Fingerprint, publicKey: z.string() });

const ReceiptSchema = z.strictObject({
  type: z.literal(RECEIPT_TYPE),
  createdAt: Timestamp,
  /** Absent in receipts written before signers could be pinned: those open only under the machine's own key. */
  signer: z.optional(ReceiptSigner),
  /** Lockfiles verified, relative to the project directory, with their SHA-256. */
  lockfiles: z.array(z.strictObject({ path: ShortText(1024), sha256: hex(32) })).check(z.minLength(1)),
  /** Namespaces pinned to a registry: their modules must be in `packages` to load. */
  namespaces: z.array(z.string()),
  packages: z.array(ReceiptPackage),
  /**
   * What `verify` read to reach this verdict, so an unchanged project is not re-verified: the
   * SHA-256 over the pins file, the lockfiles and package.json (verify/unchanged.ts), the
   * client version that verified, and the counts it reported.
   */
  verdict: z.optional(
    z.strictObject({
      inputs: hex(32),
      verifier: ShortText(64),
      summary: z.strictObject({ total: z.number(), verified: z.number(), unverified: z.number() }),
      /** The earliest expiry of the signed package metadata the verdict relied on: it is not reused after (PROTOCOL §17). */
      validUntil: z.optional(Timestamp),
    }),
  ),
});

export type Receipt = z.infer<typeof ReceiptSchema>;

/** What re-verification reads of a receipt: its package list (most of its bytes) is not parsed. */
const ReceiptVerdictView = z.object({
  createdAt: ReceiptSchema.shape.createdAt,
  signer: ReceiptSchema.shape.signer,
  lockfiles: ReceiptSchema.shape.lockfiles,
  verdict: ReceiptSchema.shape.verdict,
});
export type ReceiptVerdict = z.infer<typeof ReceiptVerdictView>;
export type ReceiptPackage = z.infer<typeof ReceiptPackage>;
export type ReceiptSigner = z.infer<typeof ReceiptSigner>;

export function signReceipt(receipt: Receipt, signer: Signer): Promise<Envelope> {
  return signEnvelope(RECEIPT_PAYLOAD_TYPE, utf8(JSON.stringify(receipt)), signer);
}

/** Which keys may sign a receipt this machine acts on. */
export interface ReceiptTrust {
  /** This machine's receipt key: trusted without being pinned. */
  own?: { keyid: string; publicKey: Uint8Array };
  /** Fingerprints listed in the pins under `receipts.signers` (e.g. a CI key). */
  signers: readonly string[];
}

/** Verifies a receipt against the public key of the local receipt key. */
export function openReceipt(value: unknown, publicKey: Uint8Array, keyid: string): Promise<Result<Receipt>> {
  return openTrustedReceipt(value, { own: { keyid, publicKey }, signers: [] });
}

/**
 * Opens a receipt signed by the machine's own key or by a pinned signer. A pinned signer's public
 * key comes from the payload, and is used only if its fingerprint is the envelope's keyid and
 * that keyid is pinned: the fingerprint pins the key.
 */
export function openTrustedReceipt(value: unknown, trust: ReceiptTrust): Promise<Result<Receipt>> {
  return openReceiptAs(value, trust, ReceiptSchema);
}

/** Like openTrustedReceipt (same signature checks), reading only createdAt, lockfiles and verdict. */
export function openReceiptVerdict(value: unknown, trust: ReceiptTrust): Promise<Result<ReceiptVerdict>> {
  return openReceiptAs(value, trust, ReceiptVerdictView);
}

async function openReceiptAs<T extends { signer?: ReceiptSigner | undefined }>(value: unknown, trust: ReceiptTrust, schema: z.ZodMiniType<T>): Promise<Result<T>> {
  const signedBy = trust.own ? [trust.own.keyid, ...trust.signers] : trust.signers;
  const opened = await openStatement(value, receiptFormat(trust, schema), { signedBy });
  if (!opened.ok) return fail(describeReceiptProblem(opened.error, trust));
  const { statement, keyid } = opened.value;
  if (statement.signer && statement.signer.keyid !== keyid) return fail("receipt: its signer field names another key than the one that signed it");
  return ok(statement);
}

/** The machine's own key signs as itself; a pinned signer's key is read from the payload and checked against its fingerprint. */
function receiptFormat<T extends { signer?: ReceiptSigner | undefined }>(trust: ReceiptTrust, schema: z.ZodMiniType<T>): StatementFormat<T> {
  return {
    payloadType: RECEIPT_PAYLOAD_TYPE,
    what: "a receipt",
    parse: (payload) => parseJsonBytes(payload, schema, "receipt"),
    signer: (receipt, keyid) => (trust.own?.keyid === keyid ? { role: "receipt", ...trust.own } : receipt.signer && { role: "signer", keyid, publicKey: receipt.signer.publicKey }),
  };
}

function describeReceiptProblem(problem: SignedObjectProblem<unknown>, trust: ReceiptTrust): string {
  switch (problem.code) {
    case "unexpected_signer": {
      const own = trust.own ? `this machine's receipt key ${trust.own.keyid}` : "this machine's receipt key (it has none)";
      return `receipt is signed by ${problem.keyid}, which is neither ${own} nor a signer listed in countersign.json receipts.signers`;
    }
    case "unknown_key":
      return `receipt is signed by ${problem.keyid} but does not carry the signer's public key`;
    case "fingerprint_mismatch":
      return `receipt: the signer public key it carries is not the key ${problem.keyid}`;
    case "bad_signature":
      return "receipt: signature does not verify";
    case "malformed_payload":
      return problem.message;
    default:
      return `receipt: ${problem.message}`;
  }
}
