/**
 * @module
 * The reviews link: every review envelope the registry holds for the version, verified with
 * core's verifyReview against the digests of the bytes this browser downloaded. A review
 * authenticates itself (its signature verifies under the key it names) and says nothing about
 * whose review should count: the page pins no reviewer key, and the detail says so.
 */

import { isPlainObject } from "../../core/dsse.js";
import type { Result } from "../../core/result.js";
import { verifyReview } from "../../core/review.js";
import type { Artifact } from "./bundle-check.js";
import { link, type LinkOutcome } from "./outcome.js";

const UNPINNED = "Reviewer keys are not pinned by this page: each signature verifies under the key the review names; whose reviews count is your policy's call.";

export async function checkReviews(input: { name: string; version: string }, fetched: Result<unknown>, artifact: Result<Artifact>): Promise<LinkOutcome> {
  if (!fetched.ok) return link("reviews", "failed", fetched.error);
  const reviews = isPlainObject(fetched.value) ? fetched.value.reviews : undefined;
  if (!Array.isArray(reviews)) return link("reviews", "failed", 'the reviews answer is not {"reviews": [...]}');
  if (reviews.length === 0) return link("reviews", "absent", "No reviews are attached to this version.");
  if (!artifact.ok) return link("reviews", "failed", `not checked: reviews sign the artifact's digests, and ${artifact.error}`);
  const target = { name: input.name, version: input.version, digests: artifact.value.digests };
  const results = await Promise.all(reviews.map((envelope) => verifyReview(envelope, target)));
  const lines = results.map((r) => (r.ok ? `${r.value.verdict} by ${r.value.keyid} at ${r.value.reviewedAt}` : `does not verify: ${r.error}`));
  const bad = results.filter((r) => !r.ok).length;
  const listed = lines.map((line, i) => `${i + 1}. ${line}`).join("; ");
  if (bad) return link("reviews", "failed", `${bad} of ${results.length} review${results.length === 1 ? "" : "s"} do${bad === 1 ? "es" : ""} not verify for these bytes: ${listed}. ${UNPINNED}`);
  return link("reviews", "verified", `${results.length} review${results.length === 1 ? "" : "s"} of exactly these bytes (sha512 and sha256) of ${input.name}@${input.version}: ${listed}. ${UNPINNED}`);
}
