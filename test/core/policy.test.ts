import { beforeAll, describe, expect, it } from "vitest";
import { verifiedFixture } from "../helpers/verified.js";
import {
  artifactDigests,
  createSigner,
  evaluatePolicy,
  generateKeyPair,
  openReceipt,
  parsePolicy,
  RECEIPT_TYPE,
  signReceipt,
  signReview,
  utf8,
  verifyReview,
  type Policy,
  type Signer,
  type Verified,
} from "../../src/core/index.js";

let bob: Signer;
let carol: Signer;
const digests = { sha256: "", sha512: "" };

const verified = (overrides: Partial<Verified> = {}): Verified =>
  verifiedFixture({ digests, attributes: { ai: { contribution: "generated", tools: [], models: [{ name: "claude-opus-4", version: "1", provider: "anthropic" }] } }, ...overrides });

const policy = (rules: unknown[]): Policy => {
  const parsed = parsePolicy({ rules });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
};

beforeAll(async () => {
  [bob, carol] = await Promise.all([createSigner(await generateKeyPair()), createSigner(await generateKeyPair())]);
  Object.assign(digests, await artifactDigests(utf8("the reviewed bytes")));
});

describe("parsePolicy", () => {
  it("names an unknown rule instead of ignoring it", () => {
    expect(parsePolicy({ rules: [{ rule: "require-reveiw", reviewers: [] }] })).toEqual({ ok: false, error: expect.stringContaining('unknown rule "require-reveiw"') });
  });
  it.each([
    [{ rules: [{ rule: "require-review" }] }, "reviewers"],
    [{ rules: [{ rule: "require-review", reviewers: ["SHA256:short"] }] }, "fingerprint"],
    [{ rules: [{ rule: "allowed-models", models: [] }] }, "models"],
    [{ rules: [{ rule: "require-file-digests", extra: 1 }] }, "extra"],
    [{ rules: [], other: true }, "other"],
  ])("rejects %j", (value, mention) => {
    const result = parsePolicy(value);
    expect(!result.ok && result.error).toContain(mention);
  });
});

describe("evaluatePolicy", () => {
  it("require-review: needs an approved review by a listed key over these exact bytes", async () => {
    const rule = policy([{ rule: "require-review", reviewers: [bob.keyid] }]);
    const target = { name: "@acme/lib", version: "1.0.0", digests };
    expect(await evaluatePolicy(rule, { verified: verified(), reviews: [] })).toMatchObject([{ rule: "require-review", index: 0 }]);
    const byCarol = await signReview(target, carol);
    const otherBytes = await signReview({ ...target, digests: await artifactDigests(utf8("other bytes")) }, bob);
    const otherVersion = await signReview({ ...target, version: "0.9.0" }, bob);
    const rejected = await signReview(target, bob, { verdict: "changes-requested" });
    const [violation] = await evaluatePolicy(rule, { verified: verified(), reviews: [byCarol, otherBytes, otherVersion, rejected, { not: "a review" }] });
    expect(violation!.reason).toContain("has 0");
    expect(violation!.reason).toContain("not a listed reviewer");
    expect(violation!.reason).toContain("for other bytes");
    expect(violation!.reason).toContain("is for @acme/lib@0.9.0");
    expect(violation!.reason).toContain('"changes-requested"');
    expect(await evaluatePolicy(rule, { verified: verified(), reviews: [await signReview(target, bob)] })).toEqual([]);
  });

  it("require-review applies to the contributions it names; human-written code passes", async () => {
    const rule = policy([{ rule: "require-review", reviewers: [bob.keyid] }]);
    expect(await evaluatePolicy(rule, { verified: verified({ attributes: { ai: { contribution: "none", tools: [], models: [] } } }), reviews: [] })).toEqual([]);
    expect(await evaluatePolicy(rule, { verified: verified({ attributes: {} }), reviews: [] })).toEqual([]);
    const strict = policy([{ rule: "require-review", reviewers: [bob.keyid], when: ["undisclosed"] }]);
    expect(await evaluatePolicy(strict, { verified: verified({ attributes: {} }), reviews: [] })).toHaveLength(1);
  });

  it("allowed-models: every declared model must match; AI without a declared model is refused", async () => {
    const rule = policy([{ rule: "allowed-models", models: ["anthropic/claude-*"] }]);
    expect(await evaluatePolicy(rule, { verified: verified(), reviews: [] })).toEqual([]);
    const other = verified({ attributes: { ai: { contribution: "assisted", tools: [], models: [{ name: "gpt-9", provider: "openai" }] } } });
    expect((await evaluatePolicy(rule, { verified: other, reviews: [] }))[0]!.reason).toContain("openai/gpt-9@");
    const undeclared = verified({ attributes: { ai: { contribution: "generated", tools: [], models: [] } } });
    expect((await evaluatePolicy(rule, { verified: undeclared, reviews: [] }))[0]!.reason).toContain("no model is declared");
    expect(await evaluatePolicy(policy([{ rule: "allowed-models", models: ["anthropic/claude-opus-4@2"] }]), { verified: verified(), reviews: [] })).toHaveLength(1);
  });

  it("require-ai-disclosure and require-file-digests", async () => {
    const rules = policy([{ rule: "require-ai-disclosure" }, { rule: "require-file-digests" }]);
    expect((await evaluatePolicy(rules, { verified: verified({ attributes: {} }), reviews: [] })).map((v) => v.rule)).toEqual(["require-ai-disclosure", "require-file-digests"]);
    const complete = verified({ attributes: { ai: { contribution: "none", tools: [], models: [] }, files: [{ path: "index.js", size: 1, sha256: "a".repeat(64) }] } });
    expect(await evaluatePolicy(rules, { verified: complete, reviews: [] })).toEqual([]);
  });

  it("publisher-continuity: a changed publisher key needs explicit approval", async () => {
    const rule = policy([{ rule: "publisher-continuity", approved: [{ name: "@acme/other", keyid: "SHA256:pppppppppppppppppppppppppppppppppppppppppp0" }] }]);
    const previous = "SHA256:oldoldoldoldoldoldoldoldoldoldoldoldoldold0";
    const [violation] = await evaluatePolicy(rule, { verified: verified(), reviews: [], previousPublisher: previous });
    expect(violation!.reason).toContain(`from ${previous} to SHA256:ppp`);
    expect(await evaluatePolicy(rule, { verified: verified(), reviews: [], previousPublisher: previous, approvals: [{ name: "@acme/lib", keyid: verified().publisher.keyid }] })).toEqual([]);
    expect(await evaluatePolicy(rule, { verified: verified(), reviews: [] })).toEqual([]);
  });

  it("rules apply only to the namespaces they list", async () => {
    const rule = policy([{ rule: "require-ai-disclosure", namespaces: ["@other", "*"] }]);
    expect(await evaluatePolicy(rule, { verified: verified({ attributes: {} }), reviews: [] })).toEqual([]);
    expect(await evaluatePolicy(policy([{ rule: "require-ai-disclosure", namespaces: ["@*"] }]), { verified: verified({ attributes: {} }), reviews: [] })).toHaveLength(1);
  });
});

describe("reviews and receipts", () => {
  it("a review verifies only for its own name, version and digests", async () => {
    const target = { name: "@acme/lib", version: "1.0.0", digests };
    const review = await signReview(target, bob, { note: "ok" });
    expect(await verifyReview(review, target)).toMatchObject({ ok: true, value: { keyid: bob.keyid, verdict: "approved", note: "ok" } });
    expect((await verifyReview(review, { ...target, name: "@acme/other" })).ok).toBe(false);
  });

  it("a receipt opens only with the key that signed it", async () => {
    const key = await generateKeyPair();
    const receipt = { type: RECEIPT_TYPE as typeof RECEIPT_TYPE, createdAt: "2026-11-24T00:00:00.000Z", lockfiles: [{ path: "package-lock.json", sha256: "a".repeat(64) }], namespaces: ["@acme"], packages: [] };
    const envelope = await signReceipt(receipt, await createSigner(key));
    expect(await openReceipt(envelope, key.publicKey, key.keyid)).toEqual({ ok: true, value: receipt });
    const other = await generateKeyPair();
    expect((await openReceipt(envelope, other.publicKey, other.keyid)).ok).toBe(false);
  });
});
