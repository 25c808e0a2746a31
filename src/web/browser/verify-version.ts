/**
 * @module
 * The package page's provenance chain, checked in the browser against one registry fingerprint:
 * identity, publisher, countersignature, log, artifact, files, ai, reviews, npm signature
 * (src/web/checks.ts). Pure logic over an injected `fetch` (no DOM), so tests drive it with real
 * signed objects and dom.ts only paints what it reports.
 *
 * Every read starts at once; each link is reported as soon as what it depends on is known, and
 * exactly once. It fails closed: a read that fails, anything that does not parse, or a link whose
 * premise did not verify is `failed` with the reason, never skipped or left pending. `absent` is
 * only ever "there is nothing to check" (no tlog-proof yet, no reviews, no npm signature).
 */

import { WELL_KNOWN_PATH } from "../../core/identity.js";
import { CHECKPOINT_PATH } from "../../core/log.js";
import type { Result } from "../../core/result.js";
import { CHAIN, type CheckId } from "../checks.js";
import { checkBundle, hashArtifact } from "./bundle-check.js";
import { checkFiles } from "./files-check.js";
import { getBytes, getJson, errorText, type Fetcher } from "./get.js";
import { checkIdentity, type TrustedIdentity } from "./identity-check.js";
import { checkLog } from "./log-check.js";
import { checkNpmSignature } from "./npm-check.js";
import { link, type LinkOutcome, type Report } from "./outcome.js";
import { checkReviews } from "./reviews-check.js";

export type { FileOutcome, LinkOutcome, Outcome, Report } from "./outcome.js";
export type { Fetcher } from "./get.js";

export interface VersionCheckInput {
  /** The page's origin: every path is read from it, and only from it. */
  origin: string;
  name: string;
  version: string;
  /** The registry fingerprint to check against (URL parameter, the user's pin, or the page's). */
  fingerprint: string;
  /** URL paths on `origin` (the section's data attributes). */
  paths: {
    bundle: string;
    artifact: string;
    reviews: string;
    /** npm's version document (`/<name>/<version>`); only for versions npm can install. */
    packumentVersion?: string | undefined;
    /** Defaults to /.well-known/countersign.json. */
    identity?: string | undefined;
  };
  fetch: Fetcher;
}

/** Runs every check, reporting each link (and each signed file) as it settles; resolves to the final link outcomes. */
export async function checkVersion(input: VersionCheckInput, report: Report): Promise<Record<CheckId, LinkOutcome>> {
  const { name, version, fingerprint, paths } = input;
  const source = { origin: input.origin, fetch: input.fetch };
  const settled = new Map<CheckId, LinkOutcome>();
  const settle = (outcome: LinkOutcome) => {
    if (settled.has(outcome.id)) return;
    settled.set(outcome.id, outcome);
    report(outcome);
  };
  /** A step that threw (none should) fails its links instead of leaving them pending. */
  const guard = async (ids: readonly CheckId[], step: () => Promise<void>) => {
    try {
      await step();
    } catch (err) {
      for (const id of ids) settle(link(id, "failed", `the check stopped with an error: ${errorText(err)}`));
    }
  };

  // Every read at once.
  const identityRead = getJson(source, paths.identity ?? WELL_KNOWN_PATH, "the registry identity document");
  const bundleRead = getJson(source, paths.bundle, "the bundle");
  const artifactRead = getBytes(source, paths.artifact, "the artifact").then(hashArtifact);
  const reviewsRead = getJson(source, paths.reviews, "the reviews");
  const packumentRead = paths.packumentVersion ? getJson(source, paths.packumentVersion, "the npm version document") : undefined;

  const identity: Promise<Result<TrustedIdentity>> = identityRead.then(async (fetched) => {
    const checked = await checkIdentity(fetched, fingerprint);
    settle(checked.outcome);
    return checked.identity;
  });
  const chain = Promise.all([bundleRead, artifactRead, identity]).then(async ([bundle, fetched, trusted]) => {
    const checked = await checkBundle({ name, version, fingerprint }, bundle, fetched, trusted);
    for (const outcome of checked.outcomes) settle(outcome);
    const { attributes } = checked;
    if (!attributes.ok) settle(link("ai", "failed", "not checked: the publisher's signature, which covers it, does not verify"));
    else if (!attributes.value.ai) settle(link("ai", "absent", "The publisher made no AI statement for this version."));
    else settle(link("ai", "verified", `The AI attribute (contribution: ${attributes.value.ai.contribution}) is covered by the publisher's signature, verified above.`));
    return { ...checked, fetched };
  });

  await Promise.all([
    guard(["identity"], () => identity.then(() => undefined)),
    guard(["publisher", "countersignature", "artifact", "ai"], () => chain.then(() => undefined)),
    guard(["log"], async () => {
      const [bundle, trusted, { signed }] = await Promise.all([bundleRead, identity, chain]);
      settle(await checkLog(bundle, trusted, signed, () => getBytes(source, CHECKPOINT_PATH, "the log's checkpoint")));
    }),
    guard(["files"], async () => {
      const { attributes, artifact, fetched } = await chain;
      const checked = await checkFiles(attributes, fetched, artifact);
      for (const file of checked.files) report(file);
      settle(checked.outcome);
    }),
    guard(["reviews"], async () => {
      const [fetched, artifact] = await Promise.all([reviewsRead, artifactRead]);
      settle(await checkReviews({ name, version }, fetched, artifact));
    }),
    guard(["npm-signature"], async () => {
      const [fetched, trusted, artifact] = await Promise.all([packumentRead, identity, artifactRead]);
      settle(await checkNpmSignature({ name, version }, fetched, trusted, artifact));
    }),
  ]);
  for (const id of CHAIN) if (!settled.has(id)) settle(link(id, "failed", "the check did not finish"));
  return Object.fromEntries(CHAIN.map((id) => [id, settled.get(id)!])) as Record<CheckId, LinkOutcome>;
}
