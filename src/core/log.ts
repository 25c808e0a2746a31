/**
 * @module
 * The registry's transparency log as the protocol sees it (PROTOCOL §18): where it is served,
 * the name its checkpoints are signed under, and what each entry is.
 *
 *     entry 0        genesis: {"type":".../log/genesis/v1","origin":<registry origin>,"keyid":<fingerprint>}
 *     entry i ≥ 1    the payload bytes of the countersignature whose `predicate.sequence` is i,
 *                    or of the registry statement (registry-statement.ts) or key rotation
 *                    (rotation.ts) whose `sequence` is i, or a package metadata record
 *                    (package-metadata.ts: a package's serial and the digest of what it lists)
 *     (a gap)        {"type":".../log/gap/v1","index":i}: a number no version holds (databases
 *                    that predate gap-free sequence numbers only)
 *
 * So a log index is a countersignature's sequence number, and anyone holding a bundle can
 * recompute its entry: the exact bytes the registry signed, nothing re-serialised.
 */

import { fromBase64, fromUtf8, utf8 } from "./bytes.js";
import type { Envelope } from "./dsse.js";
import { ed25519NoteSigner, ed25519NoteVerifier, type NoteSigner, type NoteVerifier } from "./note/index.js";
import { fail, ok, type Result } from "./result.js";
import type { Signer } from "./signature.js";
import { parseRegistryStatement, REGISTRY_STATEMENT_TYPE, type RegistryStatement } from "./registry-statement.js";
import { parseRotation, ROTATION_TYPE, type KeyRotation } from "./rotation.js";
import { METADATA_RECORD_TYPE, parseMetadataRecord, type MetadataRecord } from "./package-metadata.js";
import { COUNTERSIGN_PREDICATE } from "./statement.js";

/** The log's URL prefix below a registry's origin (C2SP tlog-tiles paths follow it). */
export const LOG_PATH = "/-/countersign/v1/log/";
export const CHECKPOINT_PATH = `${LOG_PATH}checkpoint`;
export const LOG_GENESIS_TYPE = "https://countersign.dev/log/genesis/v1";
export const LOG_GAP_TYPE = "https://countersign.dev/log/gap/v1";

/** `https://npm.example.com` → `https://npm.example.com/-/countersign/v1/log/`. */
export const logUrl = (registryOrigin: string) => `${registryOrigin}${LOG_PATH}`;

/**
 * The checkpoint origin line and note key name: the log prefix without scheme or trailing slash,
 * as C2SP tlog-checkpoint recommends (`npm.example.com/-/countersign/v1/log`).
 */
export function logOrigin(registryOrigin: string): string {
  return `${registryOrigin.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "")}${LOG_PATH.slice(0, -1)}`;
}

/** The verifier for a registry's checkpoints: its Ed25519 key under the log's name. */
export function logVerifier(registryOrigin: string, publicKey: Uint8Array): Promise<Result<NoteVerifier, string>> {
  return ed25519NoteVerifier(logOrigin(registryOrigin), publicKey);
}

/** The registry key signing checkpoints under the log's name. */
export function logSigner(registryOrigin: string, signer: Signer): Promise<NoteSigner> {
  return ed25519NoteSigner(logOrigin(registryOrigin), signer);
}

export const genesisEntry = (registryOrigin: string, keyid: string) => utf8(JSON.stringify({ type: LOG_GENESIS_TYPE, origin: registryOrigin, keyid }));
export const gapEntry = (index: number) => utf8(JSON.stringify({ type: LOG_GAP_TYPE, index }));

/** A countersignature's log entry: its payload bytes, decoded from the envelope. */
export function countersignatureEntry(countersignature: Pick<Envelope, "payload">): Result<Uint8Array, string> {
  const bytes = typeof countersignature?.payload === "string" ? fromBase64(countersignature.payload) : undefined;
  return bytes ? ok(bytes) : fail("countersignature payload is not base64");
}

export type LogEntry =
  | { kind: "genesis"; index: 0; origin: string; keyid: string }
  | { kind: "gap"; index: number }
  | { kind: "statement"; index: number; statement: RegistryStatement }
  | { kind: "rotation"; index: number; rotation: KeyRotation }
  | { kind: "metadata"; index: number; record: MetadataRecord }
  | {
      kind: "countersignature";
      index: number;
      name: string;
      version: string;
      namespace: string;
      publisherKeyid: string;
      registryKeyid: string;
      publishedAt: string;
      sha512: string;
    };

const isString = (value: unknown): value is string => typeof value === "string" && value.length > 0;

/**
 * What entry `index` of a log says, for monitors. Shape only: a countersignature entry's
 * signature is not in the log (the registry's signature over it is checked where it is served,
 * in the bundle); what the log proves is that this statement was published to everybody.
 * Anything else, or an entry at the wrong index, is an error, never skipped.
 */
export function parseLogEntry(bytes: Uint8Array, index: number): Result<LogEntry, string> {
  let value: unknown;
  try {
    value = JSON.parse(fromUtf8(bytes));
  } catch {
    return fail(`log entry ${index} is not UTF-8 JSON`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return fail(`log entry ${index} is not a JSON object`);
  const entry = value as Record<string, unknown>;
  if (entry.type === LOG_GENESIS_TYPE) {
    if (index !== 0) return fail(`log entry ${index} is a genesis entry, which only index 0 may be`);
    if (!isString(entry.origin) || !isString(entry.keyid)) return fail("log entry 0 is a malformed genesis entry");
    return ok({ kind: "genesis", index: 0, origin: entry.origin, keyid: entry.keyid });
  }
  if (entry.type === LOG_GAP_TYPE) {
    if (entry.index !== index || index === 0) return fail(`log entry ${index} is a gap entry for index ${String(entry.index).slice(0, 20)}`);
    return ok({ kind: "gap", index });
  }
  if (entry._type === REGISTRY_STATEMENT_TYPE) {
    const statement = parseRegistryStatement(bytes);
    if (!statement.ok) return fail(`log entry ${index} is a malformed registry statement: ${statement.error}`);
    if (statement.value.sequence !== index) return fail(`log entry ${index} is the registry statement with sequence number ${statement.value.sequence}`);
    return ok({ kind: "statement", index, statement: statement.value });
  }
  if (entry._type === ROTATION_TYPE) {
    const rotation = parseRotation(bytes);
    if (!rotation.ok) return fail(`log entry ${index} is a malformed key rotation: ${rotation.error}`);
    if (rotation.value.sequence !== index) return fail(`log entry ${index} is the key rotation with sequence number ${rotation.value.sequence}`);
    return ok({ kind: "rotation", index, rotation: rotation.value });
  }
  if (entry._type === METADATA_RECORD_TYPE) {
    const record = parseMetadataRecord(bytes);
    if (!record.ok) return fail(`log entry ${index} is a malformed package metadata record: ${record.error}`);
    return ok({ kind: "metadata", index, record: record.value });
  }
  if (entry.predicateType !== COUNTERSIGN_PREDICATE) return fail(`log entry ${index} is of an unknown type`);
  const predicate = entry.predicate as Record<string, unknown> | undefined;
  const subject = (entry.subject as { digest?: { sha512?: unknown } }[] | undefined)?.[0];
  const publisher = predicate?.publisher as Record<string, unknown> | undefined;
  const registry = predicate?.registry as Record<string, unknown> | undefined;
  if (
    !predicate ||
    !isString(predicate.name) ||
    !isString(predicate.version) ||
    !isString(predicate.namespace) ||
    !isString(predicate.publishedAt) ||
    !isString(publisher?.keyid) ||
    !isString(registry?.keyid) ||
    !isString(subject?.digest?.sha512)
  ) {
    return fail(`log entry ${index} is a malformed countersignature`);
  }
  if (predicate.sequence !== index) return fail(`log entry ${index} is the countersignature with sequence number ${String(predicate.sequence).slice(0, 20)}`);
  return ok({
    kind: "countersignature",
    index,
    name: predicate.name,
    version: predicate.version,
    namespace: predicate.namespace,
    publisherKeyid: publisher.keyid as string,
    registryKeyid: registry.keyid as string,
    publishedAt: predicate.publishedAt,
    sha512: subject.digest.sha512 as string,
  });
}
