/**
 * @module
 * The verification receipt (docs/PROTOCOL.md §17): what a successful `countersign verify` hands
 * to the runtime phase. For each verified package: name, version, integrity, publisher and
 * registry fingerprints, and the per-file digests the publisher signed and the registry checked.
 * It is bound to the lockfile(s) it verified by digest, and signed by a local key, so the
 * runtime hook can refuse to load a module whose bytes differ from what was verified.
 */

import * as z from "zod/mini";
import { FileEntry } from "./attributes.js";
import { utf8 } from "./bytes.js";
import { openEnvelope, signEnvelope, verifyEnvelope, type Envelope } from "./dsse.js";
import { Fingerprint, hex, ShortText, Timestamp } from "./fields.js";
import { fail, type Result } from "./result.js";
import { parseJsonBytes } from "./schema.js";
import type { Signer } from "./signature.js";

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

const ReceiptSchema = z.strictObject({
  type: z.literal(RECEIPT_TYPE),
  createdAt: Timestamp,
  /** Lockfiles verified, relative to the project directory, with their SHA-256. */
  lockfiles: z.array(z.strictObject({ path: ShortText(1024), sha256: hex(32) })).check(z.minLength(1)),
  /** Namespaces pinned to a registry: their modules must be in `packages` to load. */
  namespaces: z.array(z.string()),
  packages: z.array(ReceiptPackage),
});

export type Receipt = z.infer<typeof ReceiptSchema>;
export type ReceiptPackage = z.infer<typeof ReceiptPackage>;

export function signReceipt(receipt: Receipt, signer: Signer): Promise<Envelope> {
  return signEnvelope(RECEIPT_PAYLOAD_TYPE, utf8(JSON.stringify(receipt)), signer);
}

/** Verifies a receipt against the public key of the local receipt key. */
export async function openReceipt(value: unknown, publicKey: Uint8Array, keyid: string): Promise<Result<Receipt>> {
  const envelope = openEnvelope(value);
  if ("problem" in envelope) return fail(`receipt: ${envelope.problem}`);
  if (envelope.payloadType !== RECEIPT_PAYLOAD_TYPE) return fail("receipt: wrong payload type");
  if (envelope.keyid !== keyid) return fail(`receipt is signed by ${envelope.keyid}, not by this machine's receipt key ${keyid}`);
  if (!(await verifyEnvelope(envelope, publicKey))) return fail("receipt: signature does not verify");
  return parseJsonBytes(envelope.payload, ReceiptSchema, "receipt");
}
