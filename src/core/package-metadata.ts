/**
 * @module
 * Signed, expiring package metadata (PROTOCOL §19): per package, a registry-signed statement of
 * its version list (each version's sequence number and sha512), dist-tags, deprecations and
 * publish times, with a serial number that grows with every change and an expiry at most 24 hours
 * after it was issued.
 *
 * Countersignatures say "these bytes are name@version"; they cannot say which versions exist or
 * which one `latest` is. Without this statement a mirror or a compromised registry can serve a
 * validly countersigned *older* version as `latest`, or hide a newer one (a security fix), and
 * every signature still verifies. With it, a consumer that checks:
 *
 * - the signature, by the same pinned registry key that countersigned the packages;
 * - `expires` is in the future — a registry or mirror that keeps serving an old statement is a
 *   **freeze**, visible within a day;
 * - `serial` is not below the highest this machine has seen for the package — an older
 *   statement is a **rollback**; the same serial with other contents is an **equivocation**;
 * - every locked version is listed with the same sequence number and sha512;
 *
 * has the guarantees TUF's snapshot and timestamp roles give, for one package at a time, with one
 * signature and no extra round trip (the statement travels with the packument and the batch API).
 */

import { fromBase64, toBase64, toHex, utf8 } from "./bytes.js";
import { sha256 } from "./digest.js";
import { signEnvelope, type Envelope } from "./dsse.js";
import { Fingerprint, hex, Timestamp } from "./fields.js";
import { checkPackageName, namespaceOf } from "./names.js";
import { fail, ok, type Result } from "./result.js";
import * as z from "zod/mini";
import { parseJsonBytes } from "./schema.js";
import type { Signer } from "./signature.js";
import { openStatement, type StatementFormat } from "./signed.js";

export const METADATA_PAYLOAD_TYPE = "application/vnd.countersign.package-metadata.v1+json";
export const METADATA_TYPE = "https://countersign.dev/package-metadata/v1";
/** The longest a statement may be valid: a frozen view is visible within a day. */
export const MAX_METADATA_VALIDITY_MS = 24 * 60 * 60 * 1000;
/** Clocks disagree: a statement issued up to this far in the verifier's future is still accepted. */
export const METADATA_CLOCK_SKEW_MS = 5 * 60 * 1000;

const MetadataVersion = z.strictObject({
  version: z.string().check(z.minLength(1), z.maxLength(256)),
  sequence: z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER)),
  sha512: hex(64),
  publishedAt: Timestamp,
  deprecated: z.optional(z.string().check(z.maxLength(1024))),
});

const Sequence = z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER));

/** A publisher key revoked in the package's namespace (registry-statement.ts, logged at `sequence`). */
const RevokedKey = z.strictObject({
  keyid: Fingerprint,
  /** Versions the key published with a sequence number ≥ this are void. */
  since: Sequence,
  sequence: Sequence,
  revokedAt: Timestamp,
});

const MetadataSchema = z.strictObject({
  _type: z.literal(METADATA_TYPE),
  registry: z.strictObject({ keyid: Fingerprint, publicKey: z.string(), origin: z.string().check(z.maxLength(2048)) }),
  name: z.string(),
  namespace: z.string(),
  serial: z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER)),
  issuedAt: Timestamp,
  expires: Timestamp,
  /** In publication order (ascending sequence). */
  versions: z.array(MetadataVersion).check(z.maxLength(100_000)),
  distTags: z.record(z.string().check(z.minLength(1), z.maxLength(256)), z.string().check(z.minLength(1), z.maxLength(256))),
  /** Publisher keys revoked in the namespace, in log order; absent when there are none. */
  revokedKeys: z.optional(z.array(RevokedKey).check(z.minLength(1), z.maxLength(10_000))),
});

export type PackageMetadata = z.infer<typeof MetadataSchema>;
export type MetadataVersion = z.infer<typeof MetadataVersion>;
export type MetadataRevokedKey = z.infer<typeof RevokedKey>;

export interface MetadataInput {
  name: string;
  origin: string;
  serial: number;
  versions: MetadataVersion[];
  distTags: Record<string, string>;
  /** Publisher keys revoked in the namespace (registry statements `key_revoked`). */
  revokedKeys?: MetadataRevokedKey[];
  issuedAt: Date;
  /** Default and maximum: issuedAt + 24 h. */
  expires?: Date;
}

export async function signPackageMetadata(input: MetadataInput, signer: Signer): Promise<Envelope> {
  const expires = input.expires ?? new Date(input.issuedAt.getTime() + MAX_METADATA_VALIDITY_MS);
  const statement: PackageMetadata = {
    _type: METADATA_TYPE,
    registry: { keyid: signer.keyid, publicKey: toBase64(signer.publicKey), origin: input.origin },
    name: input.name,
    namespace: namespaceOf(input.name),
    serial: input.serial,
    issuedAt: input.issuedAt.toISOString(),
    expires: expires.toISOString(),
    versions: [...input.versions].sort((a, b) => a.sequence - b.sequence),
    distTags: input.distTags,
    ...(input.revokedKeys?.length ? { revokedKeys: [...input.revokedKeys].sort((a, b) => a.sequence - b.sequence).map((k) => ({ keyid: k.keyid, since: k.since, sequence: k.sequence, revokedAt: k.revokedAt })) } : {}),
  };
  return signEnvelope(METADATA_PAYLOAD_TYPE, utf8(JSON.stringify(statement)), signer);
}

/** Signed by the registry key it names; parse checks the statement's own consistency. */
const METADATA_FORMAT: StatementFormat<PackageMetadata> = {
  payloadType: METADATA_PAYLOAD_TYPE,
  what: "package metadata",
  parse: (payload) => {
    const parsed = parseJsonBytes(payload, MetadataSchema, "metadata");
    if (!parsed.ok) return parsed;
    const problem = inconsistency(parsed.value);
    return problem ? fail(`metadata: ${problem}`) : parsed;
  },
  signer: (statement) => ({ role: "registry", keyid: statement.registry.keyid, publicKey: statement.registry.publicKey }),
};

function inconsistency(m: PackageMetadata): string | undefined {
  const name = checkPackageName(m.name);
  if (!name.ok) return name.reason;
  if (m.namespace !== name.namespace) return `namespace ${m.namespace} is not the namespace of ${m.name}`;
  const issued = Date.parse(m.issuedAt);
  const expires = Date.parse(m.expires);
  if (!(expires > issued)) return "expires is not after issuedAt";
  if (expires - issued > MAX_METADATA_VALIDITY_MS) return "valid for more than 24 hours";
  const seen = new Set<string>();
  let last = 0;
  for (const v of m.versions) {
    if (seen.has(v.version)) return `${v.version} is listed twice`;
    if (v.sequence <= last) return "versions are not in ascending sequence order";
    seen.add(v.version);
    last = v.sequence;
  }
  for (const [tag, version] of Object.entries(m.distTags)) if (!seen.has(version)) return `dist-tag ${tag} points at ${version}, which is not listed`;
  const revoked = new Set<string>();
  for (const key of m.revokedKeys ?? []) {
    if (revoked.has(key.keyid)) return `publisher key ${key.keyid} is revoked twice`;
    if (key.since > key.sequence) return `the revocation of ${key.keyid} voids versions after its own sequence number`;
    revoked.add(key.keyid);
  }
  return undefined;
}

export type MetadataFailureCode =
  /** No metadata was served for a package in a pinned namespace. */
  | "metadata_missing"
  /** Not a well-formed metadata statement, or its signature does not verify. */
  | "metadata_invalid"
  /** Signed by a key that is not the pinned one. */
  | "metadata_untrusted"
  /** For another package. */
  | "metadata_mismatch"
  /** Served without its place in the registry's transparency log (PROTOCOL §19.1). */
  | "metadata_not_logged"
  /** Past its expiry: a registry or mirror serving a frozen view. */
  | "metadata_expired"
  /** Older than the metadata this machine already accepted for the package. */
  | "metadata_rollback"
  /** The same serial as accepted before, with other contents: two views signed by one key. */
  | "metadata_equivocation"
  /** A locked version the metadata does not list, or lists with other bytes or sequence. */
  | "version_not_listed"
  /** A packument whose dist-tags differ from the signed ones (a tag moved without the registry's signature). */
  | "dist_tags_mismatch"
  /** Countersigned after the registry revoked its publisher key (from the revocation's `since` on). */
  | "publisher_revoked";

export interface MetadataProblem {
  code: MetadataFailureCode;
  message: string;
  expected?: string;
  actual?: string;
}

export interface OpenedMetadata {
  metadata: PackageMetadata;
  /**
   * SHA-256 of what one serial must always say: everything but the signing key and origin
   * (`registry`), `issuedAt` and `expires` (a statement re-signed for a new expiry, or by the
   * successor of a rotated key, keeps its serial). A machine remembers it with the serial, and
   * the log records it (`metadataRecordEntry`).
   */
  contentSha256: string;
}

/** What this machine accepted before for the package (the client's metadata store). */
export interface SeenMetadata {
  serial: number;
  /** Absent for a floor stored before the digest left out `registry` (compared by serial only, once). */
  contentSha256?: string | undefined;
}

/**
 * Opens a served metadata envelope for `name` and checks it against the pinned keys, the clock
 * and what was seen before. Never throws.
 */
export async function openPackageMetadata(value: unknown, expect: { name: string; pinned: readonly string[]; now: Date; seen?: SeenMetadata | undefined }): Promise<Result<OpenedMetadata, MetadataProblem>> {
  if (value === undefined || value === null) return fail({ code: "metadata_missing", message: `the registry served no signed metadata for ${expect.name}` });
  const opened = await openStatement(value, METADATA_FORMAT, { trusted: expect.pinned });
  if (!opened.ok) {
    const problem = opened.error;
    if (problem.code === "untrusted_signer") return fail({ code: "metadata_untrusted", message: `metadata for ${expect.name} is signed by a key not pinned for its namespace`, expected: expect.pinned.join(" "), actual: problem.keyid });
    return fail({ code: "metadata_invalid", message: `metadata for ${expect.name}: ${problem.message}` });
  }
  const metadata = opened.value.statement;
  if (metadata.name !== expect.name) return fail({ code: "metadata_mismatch", message: `metadata is for ${metadata.name}, not ${expect.name}`, expected: expect.name, actual: metadata.name });
  const contentSha256 = await contentDigest(metadata);
  const now = expect.now.getTime();
  if (Date.parse(metadata.expires) <= now) {
    return fail({ code: "metadata_expired", message: `metadata for ${expect.name} expired at ${metadata.expires}: the registry or a mirror is serving a frozen view`, expected: `expires after ${expect.now.toISOString()}`, actual: metadata.expires });
  }
  if (Date.parse(metadata.issuedAt) > now + METADATA_CLOCK_SKEW_MS) {
    return fail({ code: "metadata_invalid", message: `metadata for ${expect.name} is issued in the future (${metadata.issuedAt}); check this machine's clock` });
  }
  const seen = expect.seen;
  if (seen && metadata.serial < seen.serial) {
    return fail({ code: "metadata_rollback", message: `metadata for ${expect.name} is older than what this machine already accepted: a rollback`, expected: `serial ≥ ${seen.serial}`, actual: `serial ${metadata.serial}` });
  }
  if (seen && metadata.serial === seen.serial && seen.contentSha256 !== undefined && contentSha256 !== seen.contentSha256) {
    return fail({ code: "metadata_equivocation", message: `two different metadata statements for ${expect.name} carry serial ${metadata.serial}`, expected: `sha256:${seen.contentSha256}`, actual: `sha256:${contentSha256}` });
  }
  return ok({ metadata, contentSha256 });
}

/** The digest of a statement's contents without its signer and validity window (the parsed object's key order is the schema's). */
async function contentDigest(m: PackageMetadata): Promise<string> {
  const { registry: _registry, issuedAt: _issued, expires: _expires, ...contents } = m;
  return toHex(await sha256(utf8(JSON.stringify(contents))));
}

/**
 * A serial's log entry (PROTOCOL §19.1): which contents the registry published for `name` at
 * `serial`. Deterministic, so a consumer holding an opened statement recomputes the exact bytes
 * and checks their inclusion; the registry records each serial once, the first time it signs it.
 */
export interface MetadataRecord {
  name: string;
  serial: number;
  contentSha256: string;
}

export const METADATA_RECORD_TYPE = "https://countersign.dev/package-metadata-record/v1";

const RecordSchema = z.strictObject({
  _type: z.literal(METADATA_RECORD_TYPE),
  name: z.string().check(z.maxLength(214)),
  serial: z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER)),
  contentSha256: hex(32),
});

/** The entry bytes: `{"_type":…,"name":…,"serial":…,"contentSha256":…}`, in that order. */
export function metadataRecordEntry(record: MetadataRecord): Uint8Array {
  return utf8(JSON.stringify({ _type: METADATA_RECORD_TYPE, name: record.name, serial: record.serial, contentSha256: record.contentSha256 }));
}

/** Parses a log entry as a metadata record; it must be byte for byte the canonical form. */
export function parseMetadataRecord(bytes: Uint8Array): Result<MetadataRecord, string> {
  const parsed = parseJsonBytes(bytes, RecordSchema, "metadata record");
  if (!parsed.ok) return parsed;
  const record = { name: parsed.value.name, serial: parsed.value.serial, contentSha256: parsed.value.contentSha256 };
  const name = checkPackageName(record.name);
  if (!name.ok) return fail(`metadata record: ${name.reason}`);
  if (toBase64(metadataRecordEntry(record)) !== toBase64(bytes)) return fail("metadata record: not in its canonical form");
  return ok(record);
}

/**
 * The record of a statement this registry signed (the Worker's side: its own envelope, so the
 * signature is not checked again; the contents are parsed exactly as a consumer parses them).
 */
export async function metadataRecordOf(envelope: Pick<Envelope, "payload">): Promise<Result<MetadataRecord, string>> {
  const payload = typeof envelope.payload === "string" ? fromBase64(envelope.payload) : undefined;
  if (!payload) return fail("metadata: payload is not base64");
  const parsed = METADATA_FORMAT.parse(payload);
  if (!parsed.ok) return parsed;
  return ok({ name: parsed.value.name, serial: parsed.value.serial, contentSha256: await contentDigest(parsed.value) });
}

/**
 * Whether the metadata lists `version` with these bytes and sequence number, and (given the
 * publisher key that signed it) whether that key's revocation voids it: a version whose
 * sequence number is at or after the revocation's `since`. Versions before `since` stay valid:
 * the log fixes that they were countersigned while the key was trusted.
 */
export function checkListed(metadata: PackageMetadata, locked: { version: string; sha512: string; sequence?: number; publisherKeyid?: string }): MetadataProblem | undefined {
  const listed = metadata.versions.find((v) => v.version === locked.version);
  if (!listed) return { code: "version_not_listed", message: `${metadata.name}@${locked.version} is not in the registry's signed version list`, expected: `one of ${metadata.versions.length} listed versions`, actual: locked.version };
  if (listed.sha512 !== locked.sha512) return { code: "version_not_listed", message: `${metadata.name}@${locked.version} is listed with other bytes`, expected: `sha512:${listed.sha512}`, actual: `sha512:${locked.sha512}` };
  if (locked.sequence !== undefined && listed.sequence !== locked.sequence) return { code: "version_not_listed", message: `${metadata.name}@${locked.version} is listed with another sequence number`, expected: String(listed.sequence), actual: String(locked.sequence) };
  const revoked = locked.publisherKeyid === undefined ? undefined : revocationOf(metadata, locked.publisherKeyid);
  if (revoked && listed.sequence >= revoked.since) {
    return {
      code: "publisher_revoked",
      message: `${metadata.name}@${locked.version} was countersigned (sequence ${listed.sequence}) for publisher key ${revoked.keyid}, which the registry revoked in ${metadata.namespace} at ${revoked.revokedAt} (log index ${revoked.sequence}) for every version from sequence ${revoked.since} on`,
      expected: `a version before sequence ${revoked.since}, or another publisher key`,
      actual: `sequence ${listed.sequence} by ${revoked.keyid}`,
    };
  }
  return undefined;
}

/** The revocation of a publisher key the metadata lists, if any. */
export function revocationOf(metadata: PackageMetadata, keyid: string): MetadataRevokedKey | undefined {
  return metadata.revokedKeys?.find((k) => k.keyid === keyid);
}
