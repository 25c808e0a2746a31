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
import { signEnvelope, type Envelope } from "./dsse.js";
import { Fingerprint, ShortText, Subject, Timestamp } from "./fields.js";
import { purl } from "./names.js";
import { fail, ok, type Result } from "./result.js";
import { parseJsonBytes } from "./schema.js";
import type { Signer } from "./signature.js";
import { openStatement, type StatementFormat } from "./signed.js";
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

/** The review as a signed format: signed by the reviewer key it names. */
const REVIEW_FORMAT: StatementFormat<ReviewStatement> = {
  payloadType: IN_TOTO_PAYLOAD_TYPE,
  what: "an in-toto statement",
  parse: (payload) => parseJsonBytes(payload, ReviewSchema, "statement"),
  signer: ({ predicate }) => ({ role: "reviewer", keyid: predicate.reviewer.keyid, publicKey: predicate.reviewer.publicKey }),
};

/**
 * Verifies a review (attacker-controlled) for a target: well formed, signed by the key it names,
 * and about exactly this name, version and both digests. A review of other bytes or another
 * version — a replayed review — is refused here, whoever signed it.
 */
export async function verifyReview(value: unknown, target: ReviewTarget): Promise<Result<VerifiedReview>> {
  const opened = await openStatement(value, REVIEW_FORMAT);
  if (!opened.ok) return fail(`review: ${opened.error.message}`);
  const { statement, keyid } = opened.value;
  const { predicate, subject } = statement;
  const digest = subject[0].digest;
  if (predicate.name !== target.name || predicate.version !== target.version || subject[0].name !== purl(target.name, target.version)) {
    return fail(`review by ${keyid} is for ${predicate.name}@${predicate.version}, not ${target.name}@${target.version}`);
  }
  if (digest.sha512 !== target.digests.sha512 || digest.sha256 !== target.digests.sha256) return fail(`review by ${keyid} is for other bytes than ${target.name}@${target.version}`);
  return ok({ keyid, verdict: predicate.verdict, reviewedAt: predicate.reviewedAt, ...(predicate.note ? { note: predicate.note } : {}) });
}
