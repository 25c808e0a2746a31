/**
 * @module
 * The last step of provenance (after the log): each package's **signed metadata**
 * (core/package-metadata.ts, PROTOCOL §19). A countersignature proves which bytes are
 * `name@version`; only the registry's signed version list says which versions exist, so without
 * this step a mirror (or a registry) serving an older statement, a frozen one, or a version the
 * registry never listed would pass. Fail closed:
 *
 * - one check per package name and registry key, however many versions are locked, with the
 *   statement served where its bundles came from (the pinned registry's batch answer, else a
 *   mirror's full packument: the place nearest the front of the search order);
 * - it must open under the very key that countersigned the bundles (a pinned one), be
 *   unexpired, and not be older than (nor, at the same serial, differ from) the floor this
 *   machine stored (log/metadata-store.ts); a place that serves none is `metadata_missing`;
 * - every verified version must be listed with its sha512 and sequence number.
 *
 * A failure replaces the package's verified outcome with one at layer `metadata`. Where every
 * version of a package passed, the statement's serial becomes the new floor (higher wins).
 */

import { checkListed, currentKeys, openPackageMetadata, rootOf, type MetadataProblem, type SeenMetadata, type VerifyFailure } from "../../../src/core/index.js";
import { registryBase } from "../http.js";
import { metadataStore, type MetadataStore } from "../log/metadata-store.js";
import type { ProvenanceOutcome, ProvenanceRequest } from "./provenance.js";

/** Signed metadata envelopes as served, by place (registry base URL) and package name. */
export type ServedMetadata = Map<string, Map<string, unknown>>;

export interface MetadataCheckOptions {
  /** Where the accepted floors are kept (default: the state directory, log/metadata-store.ts). */
  metadata?: MetadataStore | undefined;
  /** The verifier's clock (default: now). */
  now?: Date | undefined;
}

/** What a verified package's metadata said, for the report. */
export interface MetadataReport {
  serial: number;
  expires: string;
  /** Where the statement was read. */
  from: string;
}

type Verified = Extract<ProvenanceOutcome, { status: "verified" }>;

/** Records what `place` served into `served`. */
export function recordServed(served: ServedMetadata, place: string, metadata: ReadonlyMap<string, unknown>): void {
  let at = served.get(place);
  if (!at) served.set(place, (at = new Map()));
  for (const [name, envelope] of metadata) if (!at.has(name)) at.set(name, envelope);
}

/** A metadata problem as the verification failure of one package version. */
export function metadataFailure(problem: MetadataProblem, where: { name: string; version: string; namespace: string }, from?: string): VerifyFailure {
  return {
    // A revoked publisher key is the publisher layer failing, as the registry's signed metadata reports it.
    layer: problem.code === "publisher_revoked" ? "publisher" : "metadata",
    code: problem.code,
    message: `${problem.message}${from ? ` (metadata from ${from})` : ""}`,
    name: where.name,
    version: where.version,
    namespace: where.namespace,
    ...(problem.expected === undefined ? {} : { expected: problem.expected }),
    ...(problem.actual === undefined ? {} : { actual: problem.actual }),
  };
}

/** Checks every verified outcome's package metadata; replaces those that fail (in place) and raises the floors of those that pass. */
export async function checkMetadata(requests: ProvenanceRequest[], outcomes: ProvenanceOutcome[], served: ServedMetadata, options: MetadataCheckOptions = {}): Promise<void> {
  // One statement per package and registry history: after a key rotation (PROTOCOL §21) versions
  // countersigned by the old key and the new are listed by one statement, which only a key not
  // rotated away may sign; floors are kept under the history's first key.
  const groups = new Map<string, { keyid: string; signers: string[]; name: string; indexes: number[] }>();
  outcomes.forEach((outcome, i) => {
    if (outcome?.status !== "verified") return;
    const signedBy = outcome.verified.registry.keyid;
    const keyid = outcome.chain ? rootOf(outcome.chain, signedBy) : signedBy;
    const signers = outcome.chain ? currentKeys(outcome.chain) : [signedBy];
    const name = requests[i]!.spec.name;
    const key = `${keyid}\0${name}`;
    const group = groups.get(key) ?? { keyid, signers, name, indexes: [] };
    group.indexes.push(i);
    groups.set(key, group);
  });
  if (groups.size === 0) return;
  const store = options.metadata ?? metadataStore();
  const now = options.now ?? new Date();
  const floors = new Map<string, Map<string, SeenMetadata>>();

  for (const group of groups.values()) {
    const place = sourceOf(requests, outcomes, group.indexes);
    const envelope = served.get(place)?.get(group.name);
    const opened = await openPackageMetadata(envelope, { name: group.name, pinned: group.signers, now, seen: store.read(group.keyid, group.name) });
    if (!opened.ok) {
      for (const i of group.indexes) outcomes[i] = { status: "failed", failure: metadataFailure(opened.error, whereOf(requests[i]!), place) };
      continue;
    }
    const { metadata, contentSha256 } = opened.value;
    let listedAll = true;
    for (const i of group.indexes) {
      const outcome = outcomes[i] as Verified;
      const problem = checkListed(metadata, { version: requests[i]!.spec.version, sha512: outcome.sha512, sequence: outcome.verified.sequence, publisherKeyid: outcome.verified.publisher.keyid });
      if (problem) {
        outcomes[i] = { status: "failed", failure: metadataFailure(problem, whereOf(requests[i]!), place) };
        listedAll = false;
      } else outcome.metadata = { serial: metadata.serial, expires: metadata.expires, from: place };
    }
    if (!listedAll) continue;
    let byKey = floors.get(group.keyid);
    if (!byKey) floors.set(group.keyid, (byKey = new Map()));
    byKey.set(group.name, { serial: metadata.serial, contentSha256 });
  }
  for (const [keyid, byName] of floors) store.raise(keyid, byName);
}

const whereOf = (request: ProvenanceRequest) => ({ name: request.spec.name, version: request.spec.version, namespace: request.namespace });

/**
 * The place whose statement speaks for a package: of the places its verified bundles came from,
 * the one nearest the front of the search order (the pinned URL first).
 */
function sourceOf(requests: ProvenanceRequest[], outcomes: ProvenanceOutcome[], indexes: number[]): string {
  let best: { place: string; rank: number } | undefined;
  for (const i of indexes) {
    const place = (outcomes[i] as Verified).source;
    const request = requests[i]!;
    const order = [registryBase(request.pin.url), ...request.locators.map((l) => registryBase(l))];
    const rank = order.indexOf(place) === -1 ? order.length : order.indexOf(place);
    if (!best || rank < best.rank) best = { place, rank };
  }
  return best!.place;
}

/**
 * One package version against the metadata one place served (`fetch`): opened under `keyid`,
 * checked against the floor, the version listed; on success the floor is raised.
 */
export async function checkOneVersion(
  envelope: unknown,
  what: {
    name: string;
    version: string;
    namespace: string;
    sha512: string;
    sequence: number;
    /** The key history's first key (names the floor), and the keys that may sign the metadata (default: that key). */
    keyid: string;
    signers?: string[];
    publisherKeyid: string;
    from: string;
  },
  options: MetadataCheckOptions = {},
): Promise<{ ok: true; report: MetadataReport } | { ok: false; failure: VerifyFailure }> {
  const store = options.metadata ?? metadataStore();
  const opened = await openPackageMetadata(envelope, { name: what.name, pinned: what.signers ?? [what.keyid], now: options.now ?? new Date(), seen: store.read(what.keyid, what.name) });
  if (!opened.ok) return { ok: false, failure: metadataFailure(opened.error, what, what.from) };
  const { metadata, contentSha256 } = opened.value;
  const problem = checkListed(metadata, { version: what.version, sha512: what.sha512, sequence: what.sequence, publisherKeyid: what.publisherKeyid });
  if (problem) return { ok: false, failure: metadataFailure(problem, what, what.from) };
  store.raise(what.keyid, new Map([[what.name, { serial: metadata.serial, contentSha256 }]]));
  return { ok: true, report: { serial: metadata.serial, expires: metadata.expires, from: what.from } };
}
