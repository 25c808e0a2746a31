/**
 * @module
 * Verification of one artifact against the consumer's pins: the resolver-side enforcement.
 *
 * Input: the artifact's digests (hashed from its bytes, or the `integrity` a lockfile recorded),
 * the provenance bundle (publisher envelope + registry countersignature), and the fingerprints
 * pinned for the artifact's namespace. Every check must pass; the first failure is returned,
 * naming the layer that stopped it:
 *
 * | step | layer     | check                                                                     |
 * |------|-----------|---------------------------------------------------------------------------|
 * | 1    | binding   | the namespace is pinned at all                                            |
 * | 2    | registry  | the countersignature is a well-formed countersign statement               |
 * | 3    | binding   | its registry key is one of the fingerprints pinned for the namespace      |
 * | 4    | registry  | its signature verifies under that key                                     |
 * | 5    | registry  | it is for the requested name, version and namespace                       |
 * | 6    | publisher | the publisher envelope is signed by the key the registry enrolled         |
 * | 7    | publisher | the publish statement is well formed and its signature verifies           |
 * | 8    | registry  | the countersignature covers exactly this publish statement and signature  |
 * | 9    | integrity | the artifact's digests (and size, if known) equal the signed subject      |
 *
 * The order makes each attack fail at its own layer: an unpinned registry is refused before any
 * signature is examined; a swapped publisher statement fails as "publisher"; a countersignature
 * moved to another name or statement fails as "registry"; changed bytes fail as "integrity".
 */

import { toHex } from "./bytes.js";
import { sha256 } from "./digest.js";
import { isPlainObject, openEnvelope, verifyEnvelope, type Envelope, type OpenedEnvelope } from "./dsse.js";
import { checkPackageName, checkVersion } from "./names.js";
import { fail, ok, type Result } from "./result.js";
import { encodeSignature } from "./signature.js";
import type { Attributes } from "./attributes.js";
import { IN_TOTO_PAYLOAD_TYPE, parseCountersignStatement, parsePublishStatement } from "./statement.js";

export const BUNDLE_MEDIA_TYPE = "application/vnd.countersign.bundle.v1+json";

/** What a registry serves per version: everything a verifier needs, offline. */
export interface Bundle {
  mediaType: typeof BUNDLE_MEDIA_TYPE;
  publisher: Envelope;
  countersignature: Envelope;
}

/** The cryptographic layers, and "policy" for the consumer's governance rules (policy.ts). */
export type Layer = "integrity" | "publisher" | "registry" | "binding" | "policy";

export type FailureCode =
  | "invalid_request"
  | "unpinned_namespace"
  | "untrusted_registry"
  | "not_countersigned"
  | "malformed_countersignature"
  | "bad_countersignature"
  | "countersignature_mismatch"
  | "malformed_publisher_statement"
  | "publisher_key_mismatch"
  | "bad_publisher_signature"
  | "digest_mismatch"
  | "size_mismatch"
  | "policy_rejected";

export interface VerifyFailure {
  layer: Layer;
  code: FailureCode;
  message: string;
  /** For policy failures: the rule that rejected the package. */
  rule?: string;
  name: string;
  version: string;
  namespace: string;
  expected?: string;
  actual?: string;
}

export interface Verified {
  name: string;
  version: string;
  namespace: string;
  digests: { sha256: string; sha512: string };
  size: number;
  publisher: { keyid: string; createdAt: string };
  registry: { keyid: string; origin: string };
  sequence: number;
  publishedAt: string;
  attributes: Attributes;
}

export interface VerifyInput {
  name: string;
  version: string;
  /** Hex digests of the artifact's bytes; `sha512` is required, the others are checked if given. */
  artifact: { sha512: string; sha256?: string; size?: number };
  /** The bundle as received (attacker-controlled JSON). */
  bundle: unknown;
  /** Fingerprints pinned for the artifact's namespace; empty means the namespace is not pinned. */
  pinned: readonly string[];
}

export async function verifyBundle(input: VerifyInput): Promise<Result<Verified, VerifyFailure>> {
  const { name, version } = input;
  const nameCheck = checkPackageName(name);
  const namespace = nameCheck.ok ? nameCheck.namespace : "";
  const failure = (layer: Layer, code: FailureCode, message: string, extra: { expected?: string; actual?: string } = {}) =>
    fail<VerifyFailure>({ layer, code, message, name, version, namespace, ...extra });

  const versionCheck = checkVersion(version);
  if (!nameCheck.ok || !versionCheck.ok) return failure("binding", "invalid_request", nameCheck.ok ? (versionCheck as { reason: string }).reason : nameCheck.reason);

  // 1. binding: the namespace must be pinned.
  if (input.pinned.length === 0) return failure("binding", "unpinned_namespace", `no registry is pinned for ${namespace}`);

  // 2. registry: a well-formed countersignature.
  const bundle = isPlainObject(input.bundle) ? input.bundle : {};
  const counter = openEnvelope(bundle.countersignature);
  if ("problem" in counter) return failure("registry", "malformed_countersignature", `countersignature: ${counter.problem}`);
  if (counter.payloadType !== IN_TOTO_PAYLOAD_TYPE) return failure("registry", "malformed_countersignature", "countersignature: not an in-toto statement");
  const parsedCounter = await parseCountersignStatement(counter.payload);
  if (!parsedCounter.ok) return failure("registry", "malformed_countersignature", `countersignature: ${parsedCounter.error}`);
  const { statement: cs, registryKey } = parsedCounter.value;
  const registryKeyid = cs.predicate.registry.keyid;
  if (counter.keyid !== registryKeyid) return failure("registry", "malformed_countersignature", "countersignature: envelope keyid differs from the registry key in the statement");

  // 3. binding: by a pinned registry key.
  if (!input.pinned.includes(registryKeyid)) {
    return failure("binding", "untrusted_registry", `countersigned by a registry not pinned for ${namespace} (${cs.predicate.registry.origin})`, {
      expected: input.pinned.join(" "),
      actual: registryKeyid,
    });
  }

  // 4. registry: the countersignature verifies.
  if (!(await verifyEnvelope(counter, registryKey))) return failure("registry", "bad_countersignature", `countersignature by ${registryKeyid} does not verify`, { expected: registryKeyid });

  // 5. registry: for this name, version and namespace.
  const p = cs.predicate;
  if (p.name !== name || p.version !== version || p.namespace !== namespace) {
    return failure("registry", "countersignature_mismatch", `countersignature is for ${p.name}@${p.version}, not ${name}@${version}`, {
      expected: `${name}@${version}`,
      actual: `${p.name}@${p.version}`,
    });
  }

  // 6–7. publisher: the enrolled key signed a well-formed statement.
  const pub = openEnvelope(bundle.publisher);
  if ("problem" in pub) return failure("publisher", "malformed_publisher_statement", `publisher envelope: ${pub.problem}`);
  if (pub.keyid !== p.publisher.keyid) {
    return failure("publisher", "publisher_key_mismatch", `publisher statement is signed by ${pub.keyid}, but the registry enrolled and countersigned ${p.publisher.keyid} for ${namespace}`, {
      expected: p.publisher.keyid,
      actual: pub.keyid,
    });
  }
  if (pub.payloadType !== IN_TOTO_PAYLOAD_TYPE) return failure("publisher", "malformed_publisher_statement", "publisher envelope: not an in-toto statement");
  const parsedPub = await parsePublishStatement(pub.payload);
  if (!parsedPub.ok) return failure("publisher", "malformed_publisher_statement", `publisher statement: ${parsedPub.error}`);
  const { statement: ps, publisherKey } = parsedPub.value;
  if (ps.predicate.publisher.keyid !== pub.keyid) return failure("publisher", "malformed_publisher_statement", "publisher statement: envelope keyid differs from the publisher key in the statement");
  if (!(await verifyEnvelope(pub, publisherKey))) return failure("publisher", "bad_publisher_signature", `publisher signature by ${pub.keyid} does not verify`, { expected: pub.keyid });

  // 8. registry: the countersignature binds exactly this publisher statement and signature.
  const covered = await coversPublisher(p.publisher, pub);
  if (!covered) return failure("registry", "countersignature_mismatch", "countersignature covers a different publisher statement or signature");
  const pp = ps.predicate;
  if (pp.name !== p.name || pp.version !== p.version || pp.namespace !== p.namespace || pp.artifact.size !== p.artifact.size || !sameSubject(ps.subject[0], cs.subject[0])) {
    return failure("registry", "countersignature_mismatch", "countersignature and publisher statement disagree about the artifact");
  }

  // 9. integrity: the bytes are the ones both parties signed.
  const digest = cs.subject[0].digest;
  if (input.artifact.sha512 !== digest.sha512) {
    return failure("integrity", "digest_mismatch", `sha512 of ${name}@${version} differs from the signed digest`, { expected: `sha512:${digest.sha512}`, actual: `sha512:${input.artifact.sha512}` });
  }
  if (input.artifact.sha256 !== undefined && input.artifact.sha256 !== digest.sha256) {
    return failure("integrity", "digest_mismatch", `sha256 of ${name}@${version} differs from the signed digest`, { expected: `sha256:${digest.sha256}`, actual: `sha256:${input.artifact.sha256}` });
  }
  if (input.artifact.size !== undefined && input.artifact.size !== p.artifact.size) {
    return failure("integrity", "size_mismatch", `${name}@${version} is ${input.artifact.size} bytes, signed size is ${p.artifact.size}`, { expected: String(p.artifact.size), actual: String(input.artifact.size) });
  }

  return ok({
    name,
    version,
    namespace,
    digests: { sha256: digest.sha256, sha512: digest.sha512 },
    size: p.artifact.size,
    publisher: { keyid: pub.keyid, createdAt: pp.createdAt },
    registry: { keyid: registryKeyid, origin: p.registry.origin },
    sequence: p.sequence,
    publishedAt: p.publishedAt,
    attributes: pp.attributes,
  });
}

async function coversPublisher(bound: { keyid: string; statementSha256: string; sig: string }, envelope: OpenedEnvelope): Promise<boolean> {
  return bound.keyid === envelope.keyid && bound.sig === encodeSignature(envelope.signature) && bound.statementSha256 === toHex(await sha256(envelope.payload));
}

function sameSubject(a: { name: string; digest: { sha256: string; sha512: string } }, b: typeof a): boolean {
  return a.name === b.name && a.digest.sha256 === b.digest.sha256 && a.digest.sha512 === b.digest.sha512;
}

/** Formats a failure as the one line a CLI prints. */
export function describeFailure(f: VerifyFailure): string {
  const values = f.expected !== undefined || f.actual !== undefined ? ` (expected ${f.expected ?? "?"}, actual ${f.actual ?? "?"})` : "";
  return `${f.name}@${f.version}: ${f.layer} layer rejected [${f.code}] in ${f.namespace || "?"}: ${f.message}${values}`;
}
