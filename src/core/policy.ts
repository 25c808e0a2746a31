/**
 * @module
 * Governance: consumer rules over signed attributes, applied after the cryptographic checks
 * (docs/PROTOCOL.md §16). Written in the pins file under `policy`:
 *
 *     "policy": { "rules": [
 *       { "rule": "require-review", "namespaces": ["@acme"], "reviewers": ["SHA256:…"] },
 *       { "rule": "allowed-models", "models": ["anthropic/claude-*", "openai/gpt-5*"] },
 *       { "rule": "require-ai-disclosure" },
 *       { "rule": "require-file-digests" },
 *       { "rule": "publisher-continuity", "approved": [{ "name": "@acme/utils", "keyid": "SHA256:…" }] },
 *       { "rule": "require-approval", "namespaces": ["@acme"], "approvers": ["SHA256:…"] }
 *     ] }
 *
 * A rule applies to the namespaces it lists (exact, `@*` for any scope, `*` for any unscoped
 * name), or to every pinned namespace when it lists none. Unknown rule names and unknown fields
 * are errors: a typo must not silently switch a rule off.
 */

import * as z from "zod/mini";
import type { AiAttribute } from "./attributes.js";
import { AI_CONTRIBUTIONS } from "./attributes.js";
import { Fingerprint } from "./fields.js";
import { ANY_SCOPE, ANY_UNSCOPED } from "./names.js";
import { fail, ok, type Result } from "./result.js";
import { verifyReview, type ReviewTarget } from "./review.js";
import { parseWith } from "./schema.js";
import type { Verified } from "./verify.js";

const Namespaces = z.optional(z.array(z.string()).check(z.minLength(1)));
const Contribution = z.enum([...AI_CONTRIBUTIONS, "undisclosed"]);

const RuleSchema = z.discriminatedUnion("rule", [
  z.strictObject({
    rule: z.literal("require-review"),
    namespaces: Namespaces,
    /** Contributions that need review; default generated and assisted. "undisclosed": no ai attribute. */
    when: z.optional(z.array(Contribution).check(z.minLength(1))),
    reviewers: z.array(Fingerprint).check(z.minLength(1)),
    min: z.optional(z.number().check(z.int(), z.positive())),
  }),
  z.strictObject({
    rule: z.literal("allowed-models"),
    namespaces: Namespaces,
    /** `provider/name@version` patterns; `*` matches any run of characters. */
    models: z.array(z.string().check(z.minLength(1), z.maxLength(300))).check(z.minLength(1)),
  }),
  z.strictObject({ rule: z.literal("require-ai-disclosure"), namespaces: Namespaces }),
  z.strictObject({ rule: z.literal("require-file-digests"), namespaces: Namespaces }),
  z.strictObject({
    rule: z.literal("publisher-continuity"),
    namespaces: Namespaces,
    approved: z.optional(z.array(z.strictObject({ name: z.string(), keyid: Fingerprint }))),
  }),
  z.strictObject({
    rule: z.literal("require-approval"),
    namespaces: Namespaces,
    /** Keys whose approval counts; omitted: any second key the registry enrolled (approval.ts). */
    approvers: z.optional(z.array(Fingerprint).check(z.minLength(1))),
  }),
]);

const PolicySchema = z.strictObject({ rules: z.array(RuleSchema) });

export type PolicyRule = z.infer<typeof RuleSchema>;
export type Policy = z.infer<typeof PolicySchema>;
export const RULE_NAMES = ["require-review", "allowed-models", "require-ai-disclosure", "require-file-digests", "publisher-continuity", "require-approval"] as const;

export function parsePolicy(value: unknown): Result<Policy> {
  if (value === undefined) return ok({ rules: [] });
  const rules = (value as { rules?: unknown[] } | null)?.rules;
  if (Array.isArray(rules)) {
    // Say which rule name is unknown, rather than zod's generic union failure.
    const index = rules.findIndex((r) => !RULE_NAMES.includes((r as { rule?: never } | null)?.rule as never));
    if (index >= 0) return fail(`policy.rules.${index}: unknown rule "${String((rules[index] as { rule?: unknown } | null)?.rule)}" (known: ${RULE_NAMES.join(", ")})`);
  }
  return parseWith(PolicySchema, value, "policy");
}

export interface PolicySubject {
  verified: Verified;
  /** Review envelopes served with the bundle (attacker-controlled until verified). */
  reviews: unknown[];
  /** Publisher key of the version this one replaces (previous receipt or lockfile), if known. */
  previousPublisher?: string;
  /** Extra publisher-key approvals given on the command line. */
  approvals?: { name: string; keyid: string }[];
}

export interface PolicyViolation {
  rule: PolicyRule["rule"];
  /** Index of the rule in policy.rules. */
  index: number;
  reason: string;
}

function appliesTo(rule: PolicyRule, namespace: string): boolean {
  if (!rule.namespaces) return true;
  return rule.namespaces.some((ns) => ns === namespace || (ns === ANY_SCOPE && namespace.startsWith("@")) || (ns === ANY_UNSCOPED && !namespace.startsWith("@")));
}

function describe(ai: AiAttribute | undefined): string {
  return ai ? `AI contribution "${ai.contribution}"` : "no AI disclosure";
}

const modelId = (m: { name: string; version?: string | undefined; provider?: string | undefined }) => `${m.provider ?? "?"}/${m.name}@${m.version ?? ""}`;

function globMatch(pattern: string, text: string): boolean {
  const regex = new RegExp(`^${pattern.split("*").map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".*")}$`);
  // A pattern without a version matches every version of the model.
  return regex.test(text) || (!pattern.includes("@") && regex.test(text.replace(/@[^@]*$/, "")));
}

async function check(rule: PolicyRule, subject: PolicySubject): Promise<string | undefined> {
  const { verified } = subject;
  const ai = verified.attributes.ai;
  switch (rule.rule) {
    case "require-ai-disclosure":
      return ai ? undefined : "the publisher made no AI-generation disclosure";
    case "require-file-digests":
      return verified.attributes.files?.length ? undefined : "the publisher statement carries no per-file digests";
    case "allowed-models": {
      if (!ai || ai.contribution === "none") return undefined;
      if (ai.models.length === 0) return `${describe(ai)} but no model is declared`;
      const unlisted = ai.models.map(modelId).filter((id) => !rule.models.some((p) => globMatch(p, id)));
      return unlisted.length ? `generated with a model no rule allows: ${unlisted.join(", ")}` : undefined;
    }
    case "require-review": {
      const when = rule.when ?? ["generated", "assisted"];
      if (!when.includes(ai ? ai.contribution : "undisclosed")) return undefined;
      const target: ReviewTarget = { name: verified.name, version: verified.version, digests: verified.digests };
      const approvedBy = new Set<string>();
      const notes: string[] = [];
      for (const review of subject.reviews) {
        const result = await verifyReview(review, target);
        if (!result.ok) notes.push(result.error);
        else if (result.value.verdict !== "approved") notes.push(`review by ${result.value.keyid} is "${result.value.verdict}"`);
        else if (!rule.reviewers.includes(result.value.keyid)) notes.push(`review by ${result.value.keyid}, who is not a listed reviewer`);
        else approvedBy.add(result.value.keyid);
      }
      const needed = rule.min ?? 1;
      if (approvedBy.size >= needed) return undefined;
      return `${describe(ai)} needs ${needed} approved review(s) by a listed reviewer, has ${approvedBy.size}${notes.length ? ` (${notes.join("; ")})` : ""}`;
    }
    case "publisher-continuity": {
      const previous = subject.previousPublisher;
      const current = verified.publisher.keyid;
      if (!previous || previous === current) return undefined;
      const approvals = [...(rule.approved ?? []), ...(subject.approvals ?? [])];
      if (approvals.some((a) => a.name === verified.name && a.keyid === current)) return undefined;
      return `publisher key changed from ${previous} to ${current}; approve it explicitly`;
    }
    case "require-approval": {
      // Only an approval the countersignature binds counts (verify.ts): the registry checked that
      // its key is enrolled and is not the publisher's, and the verifier checked it again.
      const approval = verified.approval;
      if (!approval) return `published by ${verified.publisher.keyid} without a second key's approval (stage it and approve it: countersign publish --stage, countersign approve)`;
      if (rule.approvers && !rule.approvers.includes(approval.keyid)) return `approved by ${approval.keyid}, who is not a listed approver`;
      return undefined;
    }
  }
}

/** Every rule that applies and fails, in policy order; empty when the package passes. */
export async function evaluatePolicy(policy: Policy, subject: PolicySubject): Promise<PolicyViolation[]> {
  const violations: PolicyViolation[] = [];
  for (const [index, rule] of policy.rules.entries()) {
    if (!appliesTo(rule, subject.verified.namespace)) continue;
    const reason = await check(rule, subject);
    if (reason) violations.push({ rule: rule.rule, index, reason });
  }
  return violations;
}
