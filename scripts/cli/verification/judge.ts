/**
 * @module
 * The verdict on one package version, shared by `verify` and `add`: the cryptographic layers
 * (core `verifyBundle`: binding, registry, publisher, integrity), then the consumer's policy
 * over the signed attributes. The first failing layer is the answer.
 */

import { evaluatePolicy, verifyBundle, type Policy, type Verified, type VerifyFailure } from "../../../src/core/index.js";
import type { Result } from "../../../src/core/result.js";

export interface JudgeInput {
  name: string;
  version: string;
  /** Hex sha512 of the bytes that will be installed. */
  sha512: string;
  /** The provenance bundle as received (attacker-controlled JSON). */
  bundle: unknown;
  /** Fingerprints pinned for the package's namespace. */
  fingerprints: readonly string[];
  policy: Policy | undefined;
  /** Publisher key of the version this one replaces, for publisher continuity. */
  previousPublisher?: string | undefined;
  /** Publisher-key approvals given on the command line. */
  approvals?: { name: string; keyid: string }[];
}

const reviewsOf = (bundle: unknown): unknown[] => {
  const reviews = typeof bundle === "object" && bundle !== null ? (bundle as { reviews?: unknown }).reviews : undefined;
  return Array.isArray(reviews) ? reviews : [];
};

export async function judge(input: JudgeInput): Promise<Result<Verified, VerifyFailure>> {
  const verified = await verifyBundle({ name: input.name, version: input.version, artifact: { sha512: input.sha512 }, bundle: input.bundle, pinned: input.fingerprints });
  if (!verified.ok || !input.policy?.rules.length) return verified;
  const violations = await evaluatePolicy(input.policy, {
    verified: verified.value,
    reviews: reviewsOf(input.bundle),
    ...(input.previousPublisher ? { previousPublisher: input.previousPublisher } : {}),
    ...(input.approvals ? { approvals: input.approvals } : {}),
  });
  if (violations.length === 0) return verified;
  return {
    ok: false,
    error: {
      layer: "policy",
      code: "policy_rejected",
      rule: violations[0]!.rule,
      message: violations.map((v) => `rule ${v.index} (${v.rule}): ${v.reason}`).join("; "),
      name: input.name,
      version: input.version,
      namespace: verified.value.namespace,
    },
  };
}
