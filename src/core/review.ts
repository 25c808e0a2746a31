/**
 * @module
 * Human review as a signed statement (docs/PROTOCOL.md §5.2): a reviewer's own Ed25519 key signs
 * "I reviewed exactly these bytes of name@version", so "reviewed" is not a boolean the publisher
 * asserts. Reviews are separate attestations, attached to a version at any time after it is
 * published; the consumer's policy decides whose reviews count.
 *
 *     _type          https://in-toto.io/Statement/v1
 *     subject        the artifact (purl, sha256, sha512): the same subject as the publish statement
 *     predicateType  https://countersign.dev/attestation/review/v1
 *     predicate      { name, version, reviewer: { keyid, publicKey }, verdict, reviewedAt, note? }
 */

import * as z from "zod/mini";
import { toBase64, utf8 } from "./bytes.js";
import type { ArtifactDigests } from "./digest.js";
import { openEnvelope, signEnvelope, verifyEnvelope, type Envelope } from "./dsse.js";
import { Fingerprint, ShortText, Subject, Timestamp } from "./fields.js";
import { fingerprint, KEY_PROBLEM_TEXT, parsePublicKey } from "./keys.js";
import { purl } from "./names.js";
import { fail, ok, type Result } from "./result.js";
import { parseJsonBytes } from "./schema.js";
import type { Signer } from "./signature.js";
import { IN_TOTO_PAYLOAD_TYPE, STATEMENT_TYPE } from "./statement.js";

export const REVIEW_PREDICATE = "https://countersign.dev/attestation/review/v1";
export const REVIEW_VERDICTS = ["approved", "changes-requested"] as const;

const ReviewSchema = z.strictObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.tuple([Subject]),
  predicateType: z.literal(REVIEW_PREDICATE),
  predicate: z.strictObject({
    name: z.string(),
    version: z.string(),
    reviewer: z.strictObject({ keyid: Fingerprint, publicKey: z.string() }),
    verdict: z.enum(REVIEW_VERDICTS),
    reviewedAt: Timestamp,
    note: z.optional(ShortText(2000)),
  }),
});

export type ReviewStatement = z.infer<typeof ReviewSchema>;

export interface ReviewTarget {
  name: string;
  version: string;
  digests: ArtifactDigests;
}

export async function signReview(target: ReviewTarget, reviewer: Signer, options: { verdict?: (typeof REVIEW_VERDICTS)[number]; note?: string; at?: Date } = {}): Promise<Envelope> {
  const statement: ReviewStatement = {
    _type: STATEMENT_TYPE,
    subject: [{ name: purl(target.name, target.version), digest: { sha256: target.digests.sha256, sha512: target.digests.sha512 } }],
    predicateType: REVIEW_PREDICATE,
    predicate: {
      name: target.name,
      version: target.version,
      reviewer: { keyid: reviewer.keyid, publicKey: toBase64(reviewer.publicKey) },
      verdict: options.verdict ?? "approved",
      reviewedAt: (options.at ?? new Date()).toISOString(),
      ...(options.note ? { note: options.note } : {}),
    },
  };
  return signEnvelope(IN_TOTO_PAYLOAD_TYPE, utf8(JSON.stringify(statement)), reviewer);
}

export interface VerifiedReview {
  keyid: string;
  verdict: (typeof REVIEW_VERDICTS)[number];
  reviewedAt: string;
  note?: string;
}

/**
 * Verifies a review (attacker-controlled) for a target: well formed, signed by the key it names,
 * and about exactly this name, version and both digests. A review of other bytes or another
 * version — a replayed review — is refused here, whoever signed it.
 */
export async function verifyReview(value: unknown, target: ReviewTarget): Promise<Result<VerifiedReview>> {
  const envelope = openEnvelope(value);
  if ("problem" in envelope) return fail(`review: ${envelope.problem}`);
  if (envelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) return fail("review: not an in-toto statement");
  const parsed = parseJsonBytes(envelope.payload, ReviewSchema, "review");
  if (!parsed.ok) return parsed;
  const { predicate, subject } = parsed.value;
  const key = parsePublicKey(predicate.reviewer.publicKey);
  if ("problem" in key) return fail(`review: reviewer key rejected: ${KEY_PROBLEM_TEXT[key.problem]}`);
  if ((await fingerprint(key.key)) !== predicate.reviewer.keyid || envelope.keyid !== predicate.reviewer.keyid) return fail("review: keyid is not the fingerprint of the reviewer key");
  if (!(await verifyEnvelope(envelope, key.key))) return fail(`review: signature by ${envelope.keyid} does not verify`);
  const digest = subject[0].digest;
  if (predicate.name !== target.name || predicate.version !== target.version || subject[0].name !== purl(target.name, target.version)) {
    return fail(`review by ${envelope.keyid} is for ${predicate.name}@${predicate.version}, not ${target.name}@${target.version}`);
  }
  if (digest.sha512 !== target.digests.sha512 || digest.sha256 !== target.digests.sha256) return fail(`review by ${envelope.keyid} is for other bytes than ${target.name}@${target.version}`);
  return ok({ keyid: envelope.keyid, verdict: predicate.verdict, reviewedAt: predicate.reviewedAt, ...(predicate.note ? { note: predicate.note } : {}) });
}
