/**
 * @module
 * The approval of a staged publish (docs/PROTOCOL.md §12.1): a *second* key enrolled in the
 * namespace signs "I, key A, approve publisher P's statement (by digest) for name@version", and
 * only then does the registry countersign, binding this approval into the countersignature as it
 * binds the publisher statement. A stolen CI token and CI signing key together cannot publish
 * where approval is required, and consumers can require the approval by policy (policy.ts
 * `require-approval`).
 *
 *     _type          https://in-toto.io/Statement/v1
 *     subject        the artifact (purl, sha256, sha512): the publish statement's subject
 *     predicateType  https://countersign.dev/approval/v1
 *     predicate      { name, version, namespace, publisher: { keyid, statementSha256 },
 *                      approver: { keyid, publicKey }, approvedAt }
 *
 * `checkApproval` is the one check of an approval against the publish statement it must cover,
 * shared by the Worker (before it countersigns) and the verifier (verify.ts, every install).
 */

import * as z from "zod/mini";
import { toBase64, utf8 } from "./bytes.js";
import { signEnvelope, type Envelope } from "./dsse.js";
import { Fingerprint, hex, Subject, Timestamp } from "./fields.js";
import { checkPackageName, checkVersion, purl } from "./names.js";
import { fail, ok, type Result } from "./result.js";
import { parseJsonBytes } from "./schema.js";
import type { Signer } from "./signature.js";
import { openStatement, type OpenedStatement, type StatementFormat } from "./signed.js";
import { IN_TOTO_PAYLOAD_TYPE, STATEMENT_TYPE, statementSha256, type PublishStatement } from "./statement.js";

export const APPROVAL_PREDICATE = "https://countersign.dev/approval/v1";

export const ApprovalStatementSchema = z.strictObject({
  _type: z.literal(STATEMENT_TYPE),
  subject: z.tuple([Subject]),
  predicateType: z.literal(APPROVAL_PREDICATE),
  predicate: z.strictObject({
    name: z.string(),
    version: z.string(),
    namespace: z.string(),
    /** The publish statement approved: its signer and the SHA-256 of its payload bytes. */
    publisher: z.strictObject({ keyid: Fingerprint, statementSha256: hex(32) }),
    approver: z.strictObject({ keyid: Fingerprint, publicKey: z.string() }),
    approvedAt: Timestamp,
  }),
});

export type ApprovalStatement = z.infer<typeof ApprovalStatementSchema>;

/** What is approved: the staged publish statement, as the registry holds it. */
export interface ApprovalTarget {
  statement: PublishStatement;
  /** The keyid that signed the publish statement. */
  publisherKeyid: string;
  /** Hex SHA-256 of the publish statement's payload bytes. */
  statementSha256: string;
}

/** The approval statement for a target, signed by `approver` (`countersign approve`). */
export async function signApproval(target: ApprovalTarget, approver: Signer, at: Date = new Date()): Promise<Envelope> {
  const { name, version, namespace } = target.statement.predicate;
  const subject = target.statement.subject[0];
  const statement: ApprovalStatement = {
    _type: STATEMENT_TYPE,
    subject: [{ name: subject.name, digest: { sha256: subject.digest.sha256, sha512: subject.digest.sha512 } }],
    predicateType: APPROVAL_PREDICATE,
    predicate: {
      name,
      version,
      namespace,
      publisher: { keyid: target.publisherKeyid, statementSha256: target.statementSha256 },
      approver: { keyid: approver.keyid, publicKey: toBase64(approver.publicKey) },
      approvedAt: at.toISOString(),
    },
  };
  return signEnvelope(IN_TOTO_PAYLOAD_TYPE, utf8(JSON.stringify(statement)), approver);
}

/** The approval as a signed format: signed by the approver key it names. */
export const APPROVAL_STATEMENT: StatementFormat<ApprovalStatement> = {
  payloadType: IN_TOTO_PAYLOAD_TYPE,
  what: "an in-toto statement",
  parse: (payload) => {
    const parsed = parseJsonBytes(payload, ApprovalStatementSchema, "approval");
    if (!parsed.ok) return parsed;
    const { predicate, subject } = parsed.value;
    const name = checkPackageName(predicate.name);
    if (!name.ok) return fail(`approval: ${name.reason}`);
    const version = checkVersion(predicate.version);
    if (!version.ok) return fail(`approval: ${version.reason}`);
    if (predicate.namespace !== name.namespace) return fail(`approval: namespace "${predicate.namespace}" does not match the name's namespace ${name.namespace}`);
    if (subject[0].name !== purl(predicate.name, predicate.version)) return fail("approval: subject name is not the purl of name@version");
    return parsed;
  },
  signer: ({ predicate }) => ({ role: "approver", keyid: predicate.approver.keyid, publicKey: predicate.approver.publicKey }),
};

export type ApprovalCode =
  /** Not an approval statement, or its signature does not verify under the key it names. */
  | "bad_approval"
  /** A valid approval, but of another version, other bytes or another publish statement. */
  | "approval_mismatch"
  /** Approved by the key that signed the publish statement: no second key. */
  | "same_key";

export interface ApprovalProblem {
  code: ApprovalCode;
  message: string;
  expected?: string;
  actual?: string;
}

export interface VerifiedApproval {
  keyid: string;
  approvedAt: string;
  opened: OpenedStatement<ApprovalStatement>;
}

/**
 * Opens an approval (attacker-controlled) and checks that it covers exactly `target`: the same
 * name, version, namespace and subject (purl and both digests), the same publish statement (its
 * signer and the SHA-256 of its bytes), by a key that is not the publisher's. `signedBy`: the
 * keyid the envelope must name (the countersignature's binding). Whether the approver key is
 * enrolled is the registry's check, not this one.
 */
export async function checkApproval(value: unknown, target: ApprovalTarget, options: { signedBy?: string } = {}): Promise<Result<VerifiedApproval, ApprovalProblem>> {
  const opened = await openStatement(value, APPROVAL_STATEMENT, options.signedBy ? { signedBy: [options.signedBy] } : {});
  if (!opened.ok) {
    const problem = opened.error;
    if (problem.code === "unexpected_signer") return fail({ code: "bad_approval", message: `approval is signed by ${problem.keyid}, not the key the countersignature binds`, expected: options.signedBy, actual: problem.keyid });
    return fail({ code: "bad_approval", message: `approval: ${problem.message}` });
  }
  const { predicate, subject } = opened.value.statement;
  const wanted = target.statement;
  const p = wanted.predicate;
  if (predicate.name !== p.name || predicate.version !== p.version || predicate.namespace !== p.namespace) {
    return fail({ code: "approval_mismatch", message: `approval is for ${predicate.name}@${predicate.version}, not ${p.name}@${p.version}`, expected: `${p.name}@${p.version}`, actual: `${predicate.name}@${predicate.version}` });
  }
  const a = subject[0];
  const b = wanted.subject[0];
  if (a.name !== b.name || a.digest.sha256 !== b.digest.sha256 || a.digest.sha512 !== b.digest.sha512) {
    return fail({ code: "approval_mismatch", message: `approval is for other bytes than ${p.name}@${p.version}`, expected: `sha512:${b.digest.sha512}`, actual: `sha512:${a.digest.sha512}` });
  }
  if (predicate.publisher.keyid !== target.publisherKeyid || predicate.publisher.statementSha256 !== target.statementSha256) {
    return fail({
      code: "approval_mismatch",
      message: `approval covers another publish statement of ${p.name}@${p.version}`,
      expected: `${target.publisherKeyid} ${target.statementSha256}`,
      actual: `${predicate.publisher.keyid} ${predicate.publisher.statementSha256}`,
    });
  }
  if (opened.value.keyid === target.publisherKeyid) {
    return fail({ code: "same_key", message: `approval is signed by the publisher's own key ${opened.value.keyid}; a second enrolled key must approve`, expected: `a key other than ${target.publisherKeyid}`, actual: opened.value.keyid });
  }
  return ok({ keyid: opened.value.keyid, approvedAt: predicate.approvedAt, opened: opened.value });
}

/** The approval target of a publish envelope already opened (the registry's staged row, a bundle). */
export async function approvalTarget(publisher: OpenedStatement<PublishStatement>): Promise<ApprovalTarget> {
  return { statement: publisher.statement, publisherKeyid: publisher.keyid, statementSha256: await statementSha256(publisher.envelope.payload) };
}
