/**
 * @module
 * The publisher, countersignature and artifact links: core's verifyBundle against the one
 * fingerprint in use, its failure layer mapped to the link it breaks (binding and registry →
 * countersignature, publisher → publisher, integrity → artifact).
 *
 * Each link is stated on its own merits, and nothing rests on a link that failed:
 * - The signatures are checked even when the bytes are not the signed ones (or could not be
 *   read): verifyBundle runs once with the artifact's digests and, if that stops at the integrity
 *   layer or there are no bytes, once more with the digests the countersignature names, whose
 *   first eight steps then say whether the signatures hold. A changed byte fails the artifact alone.
 * - The countersignature also needs the registry identity to verify (the key the page checks
 *   against is the key that identity vouches for); the artifact, whose digests the countersignature
 *   signs, needs the countersignature.
 * - When the countersignature fails, the publisher's statement is still checked by itself: signed
 *   by the key it names, for this name and version (the detail says the enrolment is not shown).
 *   So a bundle countersigned by another registry fails the countersignature, not the publisher.
 */

import { fromUtf8, toHex } from "../../core/bytes.js";
import { isPlainObject } from "../../core/dsse.js";
import { artifactDigests, sriFromHex, type ArtifactDigests } from "../../core/digest.js";
import type { Attributes } from "../../core/attributes.js";
import { countersignatureEntry } from "../../core/log.js";
import { fail, ok, type Result } from "../../core/result.js";
import { openStatement } from "../../core/signed.js";
import { describePublisherProblem, PUBLISH_STATEMENT } from "../../core/statement.js";
import { countersignRefusal, type KeyChain } from "../../core/rotation.js";
import { verifyBundle, type Verified, type VerifyFailure } from "../../core/verify.js";
import { expectedActual, link, type LinkOutcome } from "./outcome.js";

export interface Artifact {
  bytes: Uint8Array;
  digests: ArtifactDigests;
  size: number;
}

export async function hashArtifact(bytes: Result<Uint8Array>): Promise<Result<Artifact>> {
  if (!bytes.ok) return bytes;
  return ok({ bytes: bytes.value, digests: await artifactDigests(bytes.value), size: bytes.value.length });
}

export interface BundleCheck {
  /** The publisher, countersignature and artifact links. */
  outcomes: LinkOutcome[];
  /** The whole bundle verified against the identity's key (the bytes aside): what the log link needs. */
  signed: Result<Verified>;
  /** The publisher statement's attributes, when the publisher link verified: what ai and files need. */
  attributes: Result<Attributes>;
  /** The artifact's bytes, when they are the signed ones. */
  artifact: Result<Artifact>;
}

export interface BundleInput {
  name: string;
  version: string;
  fingerprint: string;
}

export async function checkBundle(input: BundleInput, bundle: Result<unknown>, fetched: Result<Artifact>, identity: Result<{ chain: KeyChain }>): Promise<BundleCheck> {
  const { name, version, fingerprint } = input;
  if (!bundle.ok) {
    const reason = bundle.error;
    return {
      outcomes: [link("publisher", "failed", reason), link("countersignature", "failed", reason), link("artifact", "failed", fetched.ok ? `not checked: ${reason}` : fetched.error)],
      signed: fail(reason),
      attributes: fail(reason),
      artifact: fail(reason),
    };
  }
  // The fingerprint in use, and the keys the registry's logged rotations connect it to (PROTOCOL §21).
  const pinned = identity.ok ? [...identity.value.chain.keys.keys()] : [fingerprint];
  const withBytes = fetched.ok
    ? await verifyBundle({ name, version, artifact: { sha512: fetched.value.digests.sha512, sha256: fetched.value.digests.sha256, size: fetched.value.size }, bundle: bundle.value, pinned })
    : undefined;
  const signatures =
    withBytes && (withBytes.ok || withBytes.error.layer !== "integrity")
      ? withBytes
      : await verifyBundle({ name, version, artifact: { sha512: signedSha512(bundle.value) }, bundle: bundle.value, pinned });
  const artifactNotChecked = (why: string) => link("artifact", "failed", fetched.ok ? `not checked: its digests are signed in the countersignature, and ${why}` : fetched.error);

  if (!signatures.ok && signatures.error.layer === "publisher") {
    const why = describe(signatures.error, fingerprint);
    return {
      outcomes: [
        link("publisher", "failed", why),
        link("countersignature", "failed", `The countersignature must bind the publisher statement and signature in the bundle, and that statement does not verify (see the publisher signature).`),
        artifactNotChecked("the publisher statement does not verify"),
      ],
      signed: fail(why),
      attributes: fail(why),
      artifact: fail(why),
    };
  }
  if (!signatures.ok || !identity.ok) {
    // The countersignature fails (or has no trusted key to be checked against): the publisher by itself.
    const why = !signatures.ok ? describe(signatures.error, fingerprint) : "The registry identity did not verify, so nothing is checked against its key: the countersignature's signature is not established.";
    const alone = await publisherAlone(bundle.value, name, version, "the countersignature does not verify");
    return { outcomes: [alone.outcome, link("countersignature", "failed", why), artifactNotChecked("the countersignature does not verify")], signed: fail(why), attributes: alone.attributes, artifact: fail(why) };
  }

  const v = signatures.value;
  const refusal = countersignRefusal(identity.value.chain, v.registry.keyid, v.sequence);
  if (refusal) {
    const why = `The countersignature is by a registry key outside the log indexes it may sign: ${refusal}.`;
    const alone = await publisherAlone(bundle.value, name, version, "the countersignature is not valid");
    return { outcomes: [alone.outcome, link("countersignature", "failed", why), artifactNotChecked("the countersignature is not valid")], signed: fail(why), attributes: alone.attributes, artifact: fail(why) };
  }
  const publisher = link(
    "publisher",
    "verified",
    `The publish statement for ${name}@${version} is signed by ${v.publisher.keyid} (at ${v.publisher.createdAt}), the key the registry enrolled for ${v.namespace} and names in its countersignature.`,
  );
  const countersignature = link(
    "countersignature",
    "verified",
    `Countersigned by registry key ${v.registry.keyid} (${v.registry.keyid === fingerprint ? "the fingerprint in use" : "a key of the registry's logged rotations from the fingerprint in use, valid at this log index"}) as publication #${v.sequence} at ${v.publishedAt}, origin ${v.registry.origin}. It binds exactly this publisher statement and signature, for ${name}@${version}.`,
  );
  const done = (artifact: LinkOutcome, verified: Result<Artifact>): BundleCheck => ({ outcomes: [publisher, countersignature, artifact], signed: ok(v), attributes: ok(v.attributes), artifact: verified });
  if (!fetched.ok) return done(link("artifact", "failed", fetched.error), fetched);
  if (withBytes && !withBytes.ok) {
    const why = describe(withBytes.error, fingerprint);
    return done(link("artifact", "failed", why), fail(why));
  }
  const { size, digests } = fetched.value;
  return done(
    link("artifact", "verified", `The ${size.toLocaleString("en")} bytes downloaded hash to ${sriFromHex("sha512", digests.sha512)} (sha256 ${digests.sha256}): the digests and size both signatures cover.`),
    fetched,
  );
}

/** The publisher's statement by itself: signed by the key it names, for this name and version. */
async function publisherAlone(bundle: unknown, name: string, version: string, unestablished: string): Promise<{ outcome: LinkOutcome; attributes: Result<Attributes> }> {
  const opened = await openStatement(isPlainObject(bundle) ? bundle.publisher : undefined, PUBLISH_STATEMENT);
  if (!opened.ok) {
    const why = `${describePublisherProblem(opened.error)}.`;
    return { outcome: link("publisher", "failed", why), attributes: fail(why) };
  }
  const { predicate } = opened.value.statement;
  if (predicate.name !== name || predicate.version !== version) {
    const why = `the publish statement is for ${predicate.name}@${predicate.version}, not ${name}@${version}`;
    return { outcome: link("publisher", "failed", why), attributes: fail(why) };
  }
  return {
    outcome: link(
      "publisher",
      "verified",
      `The publish statement for ${name}@${version} is signed by ${opened.value.keyid} (at ${predicate.createdAt}), the key it names. That the registry enrolled this key for ${predicate.namespace} is not shown: ${unestablished}.`,
    ),
    attributes: ok(predicate.attributes),
  };
}

/** One sentence for a verifyBundle failure, with expected and actual values. */
function describe(f: VerifyFailure, fingerprint: string): string {
  if (f.code === "untrusted_registry") {
    return `The countersignature is by registry key ${f.actual ?? "?"}, not by ${fingerprint}, the fingerprint in use (expected ${f.expected ?? fingerprint}, actual ${f.actual ?? "?"}).`;
  }
  return `${f.message} [${f.code}]${expectedActual(f.expected, f.actual)}.`;
}

/**
 * The sha512 the countersignature names, read without verifying anything (verifyBundle then
 * checks everything); a digest no artifact has when it cannot be read, which verifyBundle refuses
 * before the integrity step anyway (the countersignature is then malformed).
 */
function signedSha512(bundle: unknown): string {
  const envelope = isPlainObject(bundle) && isPlainObject(bundle.countersignature) ? bundle.countersignature : undefined;
  const entry = envelope && typeof envelope.payload === "string" ? countersignatureEntry({ payload: envelope.payload }) : undefined;
  try {
    const statement: unknown = entry?.ok ? JSON.parse(fromUtf8(entry.value)) : undefined;
    const subject = isPlainObject(statement) && Array.isArray(statement.subject) ? (statement.subject[0] as unknown) : undefined;
    const digest = isPlainObject(subject) && isPlainObject(subject.digest) ? subject.digest.sha512 : undefined;
    if (typeof digest === "string") return digest;
  } catch {
    // not JSON: verifyBundle says so
  }
  return toHex(new Uint8Array(64));
}
