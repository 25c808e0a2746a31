/** The `require-approval` policy rule (policy.ts): staged publishing's second key, required by the consumer. */

import { describe, expect, it } from "vitest";
import { evaluatePolicy, parsePolicy, type Policy } from "../../src/core/index.js";
import { FIXTURE_PUBLISHER, verifiedFixture } from "../helpers/verified.js";

const PUBLISHER = FIXTURE_PUBLISHER;
const RELEASE_MANAGER = "SHA256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa0";
const SOMEONE_ELSE = "SHA256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb0";

const verified = verifiedFixture;

const policy = (rules: unknown[]): Policy => {
  const parsed = parsePolicy({ rules });
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value;
};

const approved = (keyid: string) => verified({ approval: { keyid, approvedAt: "2026-11-24T00:01:00.000Z" } });

describe("require-approval", () => {
  it("parses, with or without approvers; approvers must be fingerprints and unknown fields are errors", () => {
    expect(parsePolicy({ rules: [{ rule: "require-approval" }] }).ok).toBe(true);
    expect(parsePolicy({ rules: [{ rule: "require-approval", namespaces: ["@acme"], approvers: [RELEASE_MANAGER] }] }).ok).toBe(true);
    expect(parsePolicy({ rules: [{ rule: "require-approval", approvers: ["alice"] }] }).ok).toBe(false);
    expect(parsePolicy({ rules: [{ rule: "require-approval", approvers: [] }] }).ok).toBe(false);
    expect(parsePolicy({ rules: [{ rule: "require-approval", approver: [RELEASE_MANAGER] }] }).ok).toBe(false);
    expect(parsePolicy({ rules: [{ rule: "require-aproval" }] })).toEqual({ ok: false, error: expect.stringContaining("require-approval") });
  });

  it("rejects a version published without a second key's approval, naming the rule", async () => {
    const violations = await evaluatePolicy(policy([{ rule: "require-approval", namespaces: ["@acme"] }]), { verified: verified(), reviews: [] });
    expect(violations).toEqual([{ rule: "require-approval", index: 0, reason: expect.stringContaining(`published by ${PUBLISHER} without a second key's approval`) }]);
  });

  it("accepts a version whose countersignature binds an approval", async () => {
    expect(await evaluatePolicy(policy([{ rule: "require-approval" }]), { verified: approved(RELEASE_MANAGER), reviews: [] })).toEqual([]);
  });

  it("with approvers listed, rejects an approval by a key not listed", async () => {
    const rules = policy([{ rule: "require-approval", approvers: [RELEASE_MANAGER] }]);
    expect(await evaluatePolicy(rules, { verified: approved(RELEASE_MANAGER), reviews: [] })).toEqual([]);
    const violations = await evaluatePolicy(rules, { verified: approved(SOMEONE_ELSE), reviews: [] });
    expect(violations).toEqual([{ rule: "require-approval", index: 0, reason: `approved by ${SOMEONE_ELSE}, who is not a listed approver` }]);
  });

  it("applies only to the namespaces it lists", async () => {
    const rules = policy([{ rule: "require-approval", namespaces: ["@other"] }]);
    expect(await evaluatePolicy(rules, { verified: verified(), reviews: [] })).toEqual([]);
  });
});
