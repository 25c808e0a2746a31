/**
 * The approval of a staged publish (core/approval.ts) and its binding in the countersignature
 * (statement.ts, verify.ts step 9): every attack on the signed record is stopped offline, by the
 * same checks every consumer runs.
 */

import { beforeAll, describe, expect, it } from "vitest";
import {
  approvalTarget,
  APPROVAL_PREDICATE,
  artifactDigests,
  BUNDLE_MEDIA_TYPE,
  checkApproval,
  COUNTERSIGN_STATEMENT,
  CountersignStatementSchema,
  countersign,
  createSigner,
  fromBase64,
  fromHex,
  IN_TOTO_PAYLOAD_TYPE,
  isCountersignStatement,
  keyPairFromSeed,
  openEnvelope,
  openStatement,
  PUBLISH_STATEMENT,
  signApproval,
  signEnvelope,
  signPublishStatement,
  toBase64,
  utf8,
  verifyBundle,
  type ApprovalTarget,
  type Bundle,
  type Envelope,
  type Signer,
} from "../../src/core/index.js";
import { signerFromSeedByte } from "../helpers/bundles.js";
import { PUBLISHER_SEED, REGISTRY_SEED } from "../helpers/vectors.js";

let registry: Signer;
let ci: Signer; // the publisher (CI) key
let second: Signer; // the second key enrolled in the namespace
let third: Signer;
let publisherEnvelope: Envelope;
let target: ApprovalTarget;
const bytes = utf8("the staged @acme/utils 2.0.0 tarball");
let digests: { sha256: string; sha512: string };

const NAME = "@acme/utils";
const VERSION = "2.0.0";
const AT = new Date("2026-11-25T10:00:00.000Z");

beforeAll(async () => {
  [registry, ci, second, third] = (await Promise.all([11, 12, 13, 14].map(signerFromSeedByte))) as [Signer, Signer, Signer, Signer];
  digests = await artifactDigests(bytes);
  publisherEnvelope = await signPublishStatement({ name: NAME, version: VERSION, digests, size: bytes.length, publisher: ci, createdAt: new Date("2026-11-25T09:00:00.000Z") });
  target = await targetOf(publisherEnvelope);
});

async function targetOf(envelope: Envelope): Promise<ApprovalTarget> {
  const opened = await openStatement(envelope, PUBLISH_STATEMENT);
  if (!opened.ok) throw new Error(opened.error.message);
  return approvalTarget(opened.value);
}

/** Plays the registry's part: countersigns the publisher envelope, binding `bound` (if any); the bundle carries `carried`. */
async function approvedBundle(bound: Envelope | undefined, carried: Envelope | undefined = bound, publisher = publisherEnvelope): Promise<Bundle> {
  const opened = openEnvelope(publisher);
  if ("problem" in opened) throw new Error(opened.problem);
  const statement = await openStatement(publisher, PUBLISH_STATEMENT);
  if (!statement.ok) throw new Error(statement.error.message);
  const approval = bound ? openEnvelope(bound) : undefined;
  if (approval && "problem" in approval) throw new Error(approval.problem);
  const countersignature = await countersign(opened, statement.value.statement, registry, { origin: "https://registry.test", publishedAt: new Date("2026-11-25T10:00:01.000Z"), sequence: 42, approval });
  return { mediaType: BUNDLE_MEDIA_TYPE, publisher, countersignature, ...(carried ? { approval: carried } : {}) };
}

const verify = (bundle: unknown) => verifyBundle({ name: NAME, version: VERSION, artifact: digests, bundle, pinned: [registry.keyid] });

function payloadOf(envelope: Envelope): Record<string, any> {
  return JSON.parse(new TextDecoder().decode(fromBase64(envelope.payload)));
}

describe("the approval statement", () => {
  it("is an in-toto statement over the publish statement's subject, naming that statement by digest", async () => {
    const approval = await signApproval(target, second, AT);
    expect(approval.payloadType).toBe(IN_TOTO_PAYLOAD_TYPE);
    expect(approval.signatures[0]!.keyid).toBe(second.keyid);
    const statement = payloadOf(approval);
    expect(statement).toEqual({
      _type: "https://in-toto.io/Statement/v1",
      subject: [{ name: "pkg:npm/%40acme/utils@2.0.0", digest: digests }],
      predicateType: APPROVAL_PREDICATE,
      predicate: {
        name: NAME,
        version: VERSION,
        namespace: "@acme",
        publisher: { keyid: ci.keyid, statementSha256: target.statementSha256 },
        approver: { keyid: second.keyid, publicKey: toBase64(second.publicKey) },
        approvedAt: AT.toISOString(),
      },
    });
    const checked = await checkApproval(approval, target);
    expect(checked.ok && { keyid: checked.value.keyid, approvedAt: checked.value.approvedAt }).toEqual({ keyid: second.keyid, approvedAt: AT.toISOString() });
  });

  it("fails on any changed byte of its payload or signature", async () => {
    const approval = await signApproval(target, second, AT);
    const payload = fromBase64(approval.payload)!;
    for (let i = 0; i < payload.length; i++) {
      const changed = payload.slice();
      changed[i]! ^= 0x01;
      const result = await checkApproval({ ...approval, payload: toBase64(changed) }, target);
      expect(result.ok, `payload byte ${i}`).toBe(false);
    }
    const sig = fromBase64(approval.signatures[0]!.sig)!;
    for (let i = 0; i < sig.length; i++) {
      const changed = sig.slice();
      changed[i]! ^= 0x80;
      const result = await checkApproval({ ...approval, signatures: [{ keyid: second.keyid, sig: toBase64(changed) }] }, target);
      expect(!result.ok && result.error.code, `signature byte ${i}`).toBe("bad_approval");
    }
  });

  it("is refused when signed by the publisher's own key (same_key)", async () => {
    const result = await checkApproval(await signApproval(target, ci, AT), target);
    expect(!result.ok && result.error).toMatchObject({ code: "same_key", actual: ci.keyid });
  });

  it("is refused for another version, other bytes or another publish statement (approval_mismatch)", async () => {
    const otherVersion = await targetOf(await signPublishStatement({ name: NAME, version: "2.0.1", digests, size: bytes.length, publisher: ci }));
    const resigned = await targetOf(await signPublishStatement({ name: NAME, version: VERSION, digests, size: bytes.length, publisher: ci, createdAt: new Date("2026-11-25T09:30:00.000Z") }));
    const other = await artifactDigests(utf8("other bytes"));
    const otherBytes: ApprovalTarget = { ...target, statement: { ...target.statement, subject: [{ ...target.statement.subject[0], digest: other }] } };
    for (const [label, signedFor] of [["version", otherVersion], ["statement", resigned], ["bytes", otherBytes]] as const) {
      const result = await checkApproval(await signApproval(signedFor, second, AT), target);
      expect(!result.ok && result.error.code, label).toBe("approval_mismatch");
    }
  });

  it("is strict: an unknown field, a missing one, or a namespace that is not the name's is refused", async () => {
    const resign = async (edit: (s: Record<string, any>) => void) => {
      const statement = payloadOf(await signApproval(target, second, AT));
      edit(statement);
      return signEnvelope(IN_TOTO_PAYLOAD_TYPE, utf8(JSON.stringify(statement)), second);
    };
    for (const edit of [(s: Record<string, any>) => (s.predicate.extra = 1), (s: Record<string, any>) => delete s.predicate.approvedAt, (s: Record<string, any>) => (s.predicate.namespace = "@other")]) {
      const result = await checkApproval(await resign(edit), target);
      expect(!result.ok && result.error.code).toBe("bad_approval");
    }
  });
});

describe("the countersignature's approval binding", () => {
  it("is in the countersign predicate only when approved, and parses strictly", async () => {
    const direct = payloadOf((await approvedBundle(undefined)).countersignature);
    expect(direct.predicate).not.toHaveProperty("approval");
    const approval = await signApproval(target, second, AT);
    const bound = payloadOf((await approvedBundle(approval)).countersignature);
    expect(bound.predicate.approval).toEqual({ keyid: second.keyid, statementSha256: expect.stringMatching(/^[0-9a-f]{64}$/), sig: approval.signatures[0]!.sig });
    // The fast path leaves it to zod, which accepts it; and nothing else in the binding.
    expect(isCountersignStatement(bound)).toBe(false);
    expect(CountersignStatementSchema.safeParse(bound).success).toBe(true);
    expect(CountersignStatementSchema.safeParse({ ...bound, predicate: { ...bound.predicate, approval: { ...bound.predicate.approval, extra: 1 } } }).success).toBe(false);
    const opened = await openStatement((await approvedBundle(approval)).countersignature, COUNTERSIGN_STATEMENT);
    expect(opened.ok).toBe(true);
  });
});

describe("verifyBundle with a bound approval", () => {
  it("verifies, and reports the approver", async () => {
    const result = await verify(await approvedBundle(await signApproval(target, second, AT)));
    expect(result.ok && result.value.approval).toEqual({ keyid: second.keyid, approvedAt: AT.toISOString() });
    const direct = await verify(await approvedBundle(undefined));
    expect(direct.ok && direct.value.approval).toBeNull();
  });

  it("fails when the approval is stripped from a bundle whose countersignature binds it (approval_missing)", async () => {
    const { approval: _stripped, ...bundle } = await approvedBundle(await signApproval(target, second, AT));
    const result = await verify(bundle);
    expect(!result.ok && result.error).toMatchObject({ layer: "publisher", code: "approval_missing", expected: second.keyid, actual: "none" });
  });

  it("fails when the approval is swapped for another one, even a valid one by the same key (bad_approval)", async () => {
    const bound = await signApproval(target, second, AT);
    const later = await signApproval(target, second, new Date(AT.getTime() + 1000));
    const result = await verify(await approvedBundle(bound, later));
    expect(!result.ok && result.error).toMatchObject({ layer: "publisher", code: "bad_approval" });
    const byThird = await verify(await approvedBundle(bound, await signApproval(target, third, AT)));
    expect(!byThird.ok && byThird.error).toMatchObject({ layer: "publisher", code: "bad_approval", expected: second.keyid, actual: third.keyid });
  });

  it("fails on any changed byte of the bundle's approval", async () => {
    const approval = await signApproval(target, second, AT);
    const bundle = await approvedBundle(approval);
    const payload = fromBase64(approval.payload)!;
    for (let i = 0; i < payload.length; i += 7) {
      const changed = payload.slice();
      changed[i]! ^= 0x01;
      const result = await verify({ ...bundle, approval: { ...approval, payload: toBase64(changed) } });
      expect(!result.ok && result.error.layer, `payload byte ${i}`).toBe("publisher");
    }
  });

  it("fails when the approval is by the publisher's own key, even if a registry bound it (same_key)", async () => {
    const result = await verify(await approvedBundle(await signApproval(target, ci, AT)));
    expect(!result.ok && result.error).toMatchObject({ layer: "publisher", code: "same_key", actual: ci.keyid });
  });

  it("fails when the bound approval covers another publish statement (approval_mismatch)", async () => {
    const resigned = await signPublishStatement({ name: NAME, version: VERSION, digests, size: bytes.length, publisher: ci, createdAt: new Date("2026-11-25T09:30:00.000Z") });
    const result = await verify(await approvedBundle(await signApproval(await targetOf(resigned), second, AT)));
    expect(!result.ok && result.error).toMatchObject({ layer: "publisher", code: "approval_mismatch" });
  });

  it("ignores an approval the countersignature does not bind: anyone could attach one", async () => {
    const result = await verify(await approvedBundle(undefined, await signApproval(target, second, AT)));
    expect(result.ok && result.value.approval).toBeNull();
  });
});

describe("vector (docs/PROTOCOL.md, staged publishing)", () => {
  // RFC 8032 §7.1 TEST 3's key approves the vector publish statement of PROTOCOL §5.
  const APPROVER_SEED = "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7";

  it("the approval of the §5 vector statement, and the countersignature that binds it", async () => {
    const [vPublisher, vRegistry, vApprover] = await Promise.all([PUBLISHER_SEED, REGISTRY_SEED, APPROVER_SEED].map(async (seed) => createSigner(await keyPairFromSeed(fromHex(seed)!))));
    const artifact = utf8("hello, countersign\n");
    const vDigests = await artifactDigests(artifact);
    const envelope = await signPublishStatement({ name: "@acme/hello", version: "1.0.0", digests: vDigests, size: artifact.length, publisher: vPublisher!, createdAt: new Date("2026-11-24T12:00:00.000Z") });
    const approval = await signApproval(await targetOf(envelope), vApprover!, new Date("2026-11-24T12:30:00.000Z"));
    expect(vApprover!.keyid).toBe("SHA256:s3Z2A+mldeflHo5TMMEUA7MlkMg96xvtqH9DGLHHZmE");
    expect(new TextDecoder().decode(fromBase64(approval.payload))).toBe(
      '{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"pkg:npm/%40acme/hello@1.0.0","digest":{"sha256":"bbd9b6c9881396672844084ebabc9b18d5115e296077bdcd712a6f5e2d648ffa","sha512":"e274a346c3857c89f8a5b25ad2454ecae4c185ffca6a4d91008c75faee12f54fdb4125e3e8abfee01b0a00264e3a7ad5c63e41f6e379f9a753906726c49f6002"}}],"predicateType":"https://countersign.dev/approval/v1","predicate":{"name":"@acme/hello","version":"1.0.0","namespace":"@acme","publisher":{"keyid":"SHA256:F34nin7tcaYH6WR5LSWSfj6weFBPfBpuyUUoPFP9YjA","statementSha256":"373ae60b289ce8620653418a4689551b718b4c834e1562dee36722bdc609e533"},"approver":{"keyid":"SHA256:s3Z2A+mldeflHo5TMMEUA7MlkMg96xvtqH9DGLHHZmE","publicKey":"/FHNjmIYoaONpH7QAjDwWAgW7RO6MwOsXeuRFUiQgCU="},"approvedAt":"2026-11-24T12:30:00.000Z"}}',
    );
    expect(approval.signatures[0]!.sig).toBe("xNubqq6tAEoLtIn1OGOMWLBDdS/6O03g5ZXs/poJKKqpxohSL4MBkO4kmWbCxnRyuItFsQ+AL6rXyn1bBUseAw==");
    const opened = openEnvelope(envelope);
    const bound = openEnvelope(approval);
    if ("problem" in opened || "problem" in bound) throw new Error("vector envelopes open");
    const statement = await openStatement(envelope, PUBLISH_STATEMENT);
    if (!statement.ok) throw new Error(statement.error.message);
    const countersignature = await countersign(opened, statement.value.statement, vRegistry!, { origin: "https://registry.example", publishedAt: new Date("2026-11-24T12:30:01.000Z"), sequence: 1, approval: bound });
    expect(payloadOf(countersignature).predicate.approval).toEqual({ keyid: vApprover!.keyid, statementSha256: "48ebcb11a2570ac6dd6bdc07c02fe10b3743bbe5d1f4df566ec200f54481facc", sig: approval.signatures[0]!.sig });
    expect(countersignature.signatures[0]!.sig).toBe("+fngtBTIjwdu0ht5d3j1A3f1HinrRxdYCTG5s3Cu+DP6SNIoUJ4E3cKPz/fiRi5Re6CS8Aq8/8WsJW7DT29qBQ==");
    const verified = await verifyBundle({ name: "@acme/hello", version: "1.0.0", artifact: vDigests, bundle: { mediaType: BUNDLE_MEDIA_TYPE, publisher: envelope, countersignature, approval }, pinned: [vRegistry!.keyid] });
    expect(verified.ok && verified.value.approval).toEqual({ keyid: vApprover!.keyid, approvedAt: "2026-11-24T12:30:00.000Z" });
  });
});
