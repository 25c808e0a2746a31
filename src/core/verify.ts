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
 * | 9    | publisher | an approval the countersignature binds is in the bundle, is exactly the   |
 * |      |           | bound one, covers this publish statement, and is by another key (§12.1)   |
 * | 10   | integrity | the artifact's digests (and size, if known) equal the signed subject      |
 *
 * The order makes each attack fail at its own layer: an unpinned registry is refused before any
 * signature is examined; a swapped publisher statement fails as "publisher"; a countersignature
 * moved to another name or statement fails as "registry"; changed bytes fail as "integrity".
 * An approval in the bundle that the countersignature does not bind is ignored (anyone can add
 * one): `Verified.approval` is null, and a `require-approval` policy rejects the version.
 */

import { checkApproval } from "./approval.js";
import { isPlainObject, type Envelope, type OpenedEnvelope } from "./dsse.js";
import { checkPackageName, checkVersion } from "./names.js";
import { fail, ok, type MaybePromise, type Result } from "./result.js";
import { openStatement } from "./signed.js";
import type { Attributes } from "./attributes.js";
import type { MetadataFailureCode } from "./package-metadata.js";
import { COUNTERSIGN_STATEMENT, describePublisherProblem, PUBLISH_STATEMENT, statementSha256, type StatementBinding } from "./statement.js";

export const BUNDLE_MEDIA_TYPE = "application/vnd.countersign.bundle.v1+json";

/** What a registry serves per version: everything a verifier needs, offline. */
export interface Bundle {
  mediaType: typeof BUNDLE_MEDIA_TYPE;
  publisher: Envelope;
  countersignature: Envelope;
  /** A staged publish's approval (approval.ts), which the countersignature binds. */
  approval?: Envelope;
}

/**
 * The cryptographic layers, "policy" for the consumer's governance rules (policy.ts), and "log"
 * for the registry's transparency log (the client's checks: inclusion and a consistent view), and
 * "metadata" for the package's signed version list and dist-tags (package-metadata.ts).
 */
export type Layer = "integrity" | "publisher" | "registry" | "binding" | "policy" | "log" | "metadata";

export type FailureCode =
  | "invalid_request"
  | "unpinned_namespace"
  | "untrusted_registry"
  | "not_countersigned"
  /** Countersigned by a registry key outside the sequence numbers it may sign: rotated away before, or made the key after (PROTOCOL §21). */
  | "registry_key_retired"
  /** A lockfile entry installed at a pinned name is not a registry package (link, directory, git, …). */
  | "not_a_registry_package"
  /** A lockfile entry installed at a pinned name is another package (an alias into the namespace). */
  | "alias_into_pinned_namespace"
  | "malformed_countersignature"
  | "bad_countersignature"
  | "countersignature_mismatch"
  | "malformed_publisher_statement"
  | "publisher_key_mismatch"
  | "bad_publisher_signature"
  /** The countersignature binds an approval (staged publishing) that the bundle does not carry. */
  | "approval_missing"
  /** The bundle's approval is not the bound one, does not open, or does not verify. */
  | "bad_approval"
  /** The approval is for another version, other bytes or another publish statement. */
  | "approval_mismatch"
  /** The approval is signed by the publisher's own key. */
  | "same_key"
  | "digest_mismatch"
  | "size_mismatch"
  | "policy_rejected"
  /** The countersignature's entry is not provable in the registry's log at its sequence number. */
  | "not_in_log"
  /** Two checkpoints signed by the registry's key that cannot both be true: a split view or a rewritten log. */
  | "split_view"
  /** A checkpoint (served, stored or in a tlog-proof) that does not open under the registry's log key. */
  | "bad_checkpoint"
  /** The log serves tiles or entry bundles that do not match its own signed checkpoint. */
  | "bad_tiles"
  /** No checkpoint covering the entry carries the witness cosignatures the pins require. */
  | "witness_quorum"
  /** The package's signed metadata (package-metadata.ts): missing, expired, rolled back, or not listing the version. */
  | MetadataFailureCode;

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
  /** The second key's approval the countersignature binds (staged publishing); null for a direct publish. */
  approval: { keyid: string; approvedAt: string } | null;
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

  if (!nameCheck.ok) return failure("binding", "invalid_request", nameCheck.reason);
  const versionCheck = checkVersion(version);
  if (!versionCheck.ok) return failure("binding", "invalid_request", versionCheck.reason);

  // 1. binding: the namespace must be pinned.
  if (input.pinned.length === 0) return failure("binding", "unpinned_namespace", `no registry is pinned for ${namespace}`);

  // Steps that can answer now are not awaited (`x instanceof Promise ? await x : x`): each await
  // lets every other verification in flight advance a step, and thousands of half-done
  // verifications cost more in garbage collection than the checks themselves.

  // 2–4. registry, binding, registry: a well-formed countersignature, by a pinned key, that verifies.
  const bundle = isPlainObject(input.bundle) ? input.bundle : {};
  const openingCounter = openStatement(bundle.countersignature, COUNTERSIGN_STATEMENT, { trusted: input.pinned });
  const counter = openingCounter instanceof Promise ? await openingCounter : openingCounter;
  if (!counter.ok) {
    const problem = counter.error;
    switch (problem.code) {
      case "untrusted_signer":
        return failure("binding", "untrusted_registry", `countersigned by a registry not pinned for ${namespace} (${problem.unverified.statement.predicate.registry.origin})`, {
          expected: input.pinned.join(" "),
          actual: problem.keyid,
        });
      case "bad_signature":
        return failure("registry", "bad_countersignature", `countersignature by ${problem.keyid} does not verify`, { expected: problem.keyid });
      default:
        return failure("registry", "malformed_countersignature", `countersignature: ${problem.message}`);
    }
  }
  const cs = counter.value.statement;
  const registryKeyid = counter.value.keyid;

  // 5. registry: for this name, version and namespace.
  const p = cs.predicate;
  if (p.name !== name || p.version !== version || p.namespace !== namespace) {
    return failure("registry", "countersignature_mismatch", `countersignature is for ${p.name}@${p.version}, not ${name}@${version}`, {
      expected: `${name}@${version}`,
      actual: `${p.name}@${p.version}`,
    });
  }

  // 6–7. publisher: the enrolled key signed a well-formed statement.
  const openingPub = openStatement(bundle.publisher, PUBLISH_STATEMENT, { signedBy: [p.publisher.keyid] });
  const pub = openingPub instanceof Promise ? await openingPub : openingPub;
  if (!pub.ok) {
    const problem = pub.error;
    switch (problem.code) {
      case "unexpected_signer":
        return failure("publisher", "publisher_key_mismatch", `publisher statement is signed by ${problem.keyid}, but the registry enrolled and countersigned ${p.publisher.keyid} for ${namespace}`, {
          expected: p.publisher.keyid,
          actual: problem.keyid,
        });
      case "bad_signature":
        return failure("publisher", "bad_publisher_signature", `publisher signature by ${problem.keyid} does not verify`, { expected: problem.keyid });
      default:
        return failure("publisher", "malformed_publisher_statement", describePublisherProblem(problem));
    }
  }
  const ps = pub.value.statement;

  // 8. registry: the countersignature binds exactly this publisher statement and signature.
  const covering = coversStatement(p.publisher, pub.value.envelope);
  const covered = covering instanceof Promise ? await covering : covering;
  if (!covered) return failure("registry", "countersignature_mismatch", "countersignature covers a different publisher statement or signature");
  const pp = ps.predicate;
  if (pp.name !== p.name || pp.version !== p.version || pp.namespace !== p.namespace || pp.artifact.size !== p.artifact.size || !sameSubject(ps.subject[0], cs.subject[0])) {
    return failure("registry", "countersignature_mismatch", "countersignature and publisher statement disagree about the artifact");
  }

  // 9. publisher: the bound approval, if the publish was staged.
  let approval: Verified["approval"] = null;
  if (p.approval) {
    const bound = p.approval;
    if (bundle.approval === undefined) {
      return failure("publisher", "approval_missing", `the countersignature binds an approval by ${bound.keyid}, but the bundle carries none`, { expected: bound.keyid, actual: "none" });
    }
    const checked = await checkApproval(bundle.approval, { statement: ps, publisherKeyid: pub.value.keyid, statementSha256: p.publisher.statementSha256 }, { signedBy: bound.keyid });
    if (!checked.ok) {
      const { code, message, expected, actual } = checked.error;
      return failure("publisher", code, message, { ...(expected !== undefined ? { expected } : {}), ...(actual !== undefined ? { actual } : {}) });
    }
    const exact = coversStatement(bound, checked.value.opened.envelope);
    if (!(exact instanceof Promise ? await exact : exact)) {
      return failure("publisher", "bad_approval", "the bundle's approval is not the one the countersignature binds", { expected: `${bound.keyid} ${bound.statementSha256}`, actual: checked.value.keyid });
    }
    approval = { keyid: checked.value.keyid, approvedAt: checked.value.approvedAt };
  }

  // 10. integrity: the bytes are the ones both parties signed.
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
    publisher: { keyid: pub.value.keyid, createdAt: pp.createdAt },
    registry: { keyid: registryKeyid, origin: p.registry.origin },
    sequence: p.sequence,
    publishedAt: p.publishedAt,
    attributes: pp.attributes,
    approval,
  });
}

/** Whether a countersignature's binding (§6) names exactly this envelope: signer, payload digest, signature. */
function coversStatement(bound: StatementBinding, envelope: OpenedEnvelope): MaybePromise<boolean> {
  // The envelope's sig text is canonical base64 (dsse.ts), so comparing texts compares signatures.
  if (bound.keyid !== envelope.keyid || bound.sig !== envelope.envelope.signatures[0]?.sig) return false;
  const digest = statementSha256(envelope.payload);
  return digest instanceof Promise ? digest.then((hex) => hex === bound.statementSha256) : digest === bound.statementSha256;
}

function sameSubject(a: { name: string; digest: { sha256: string; sha512: string } }, b: typeof a): boolean {
  return a.name === b.name && a.digest.sha256 === b.digest.sha256 && a.digest.sha512 === b.digest.sha512;
}

/** Formats a failure as the one line a CLI prints. */
export function describeFailure(f: VerifyFailure): string {
  const values = f.expected !== undefined || f.actual !== undefined ? ` (expected ${f.expected ?? "?"}, actual ${f.actual ?? "?"})` : "";
  return `${f.name}@${f.version}: ${f.layer} layer rejected [${f.code}] in ${f.namespace || "?"}: ${f.message}${values}`;
}
