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

import {
  checkListed,
  currentKeys,
  fail,
  metadataRecordEntry,
  ok,
  openPackageMetadata,
  rootOf,
  type MetadataProblem,
  type OpenedMetadata,
  type Result,
  type SeenMetadata,
  type VerifyFailure,
} from "../../../src/core/index.js";
import { registryBase } from "../http.js";
import type { ServedPackageMetadata } from "../registry-client.js";
import type { LogItem } from "../log/check.js";
import { metadataStore, type MetadataStore } from "../log/metadata-store.js";
import type { CheckpointStore } from "../log/store.js";
import { checkLogs, type ProvenanceOutcome, type ProvenanceRequest } from "./provenance.js";

/** Signed metadata as served (with where it says its serial is in the log), by place (registry base URL) and package name. */
export type ServedMetadata = Map<string, Map<string, ServedPackageMetadata>>;

export interface MetadataCheckOptions {
  /** Where the accepted floors are kept (default: the state directory, log/metadata-store.ts). */
  metadata?: MetadataStore | undefined;
  /** The verifier's clock (default: now). */
  now?: Date | undefined;
  /** For the log check of the statements' records (provenance.ts checkLogs). */
  token?: string | undefined;
  checkpoints?: CheckpointStore | undefined;
  /** The log check of the records (default: checkLogs against each registry's log; the metadata unit tests inject its outcomes). */
  checkRecords?: typeof checkLogs;
}

/** What a verified package's metadata said, for the report. */
export interface MetadataReport {
  serial: number;
  expires: string;
  /** Where the statement was read. */
  from: string;
  /** The log index of the serial's record (PROTOCOL §19.1), once proved. */
  logIndex?: number;
}

type Verified = Extract<ProvenanceOutcome, { status: "verified" }>;

/** Records what `place` served into `served`. */
export function recordServed(served: ServedMetadata, place: string, metadata: ReadonlyMap<string, unknown>, logged: ReadonlyMap<string, unknown>): void {
  let at = served.get(place);
  if (!at) served.set(place, (at = new Map()));
  for (const [name, envelope] of metadata) if (!at.has(name)) at.set(name, { envelope, log: logged.get(name) });
}

/**
 * The log item of an opened statement's record (PROTOCOL §19.1): the entry recomputed from the
 * statement itself, at the index (and with the tlog-proof) the registry served beside it. A
 * statement served without a well-formed reference is `metadata_not_logged`.
 */
export function metadataLogItem(opened: OpenedMetadata, log: unknown): Result<LogItem, MetadataProblem> {
  const { metadata, contentSha256 } = opened;
  const ref = log as { index?: unknown; tlogProof?: unknown } | null | undefined;
  const label = `the signed metadata of ${metadata.name} (serial ${metadata.serial})`;
  if (typeof ref !== "object" || ref === null || !Number.isSafeInteger(ref.index) || (ref.index as number) < 1 || (ref.tlogProof !== undefined && typeof ref.tlogProof !== "string")) {
    return fail({
      code: "metadata_not_logged",
      message: `${label} came without its place in the registry's transparency log (metadataLog): a view of the package no monitor can see`,
      expected: "metadataLog: { index, tlogProof? }",
      actual: JSON.stringify(log ?? null).slice(0, 80),
    });
  }
  const entry = metadataRecordEntry({ name: metadata.name, serial: metadata.serial, contentSha256 });
  return ok({ entry, sequence: ref.index as number, label, tlogProof: ref.tlogProof, what: "the signed metadata" });
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

/**
 * Checks every verified outcome's package metadata, then that each statement's record is in the
 * registry's log; replaces those that fail (in place) and raises the floors of those that pass.
 */
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
  const passed: { keyid: string; name: string; indexes: number[]; floor: SeenMetadata }[] = [];
  const records = new Map<number, LogItem>();

  for (const group of groups.values()) {
    const place = sourceOf(requests, outcomes, group.indexes);
    const statement = served.get(place)?.get(group.name);
    const opened = await openPackageMetadata(statement?.envelope, { name: group.name, pinned: group.signers, now, seen: store.read(group.keyid, group.name) });
    const record = opened.ok ? metadataLogItem(opened.value, statement?.log) : undefined;
    const problem = !opened.ok ? opened.error : !record!.ok ? record!.error : undefined;
    if (problem) {
      for (const i of group.indexes) outcomes[i] = { status: "failed", failure: metadataFailure(problem, whereOf(requests[i]!), place) };
      continue;
    }
    const { metadata, contentSha256 } = (opened as Extract<typeof opened, { ok: true }>).value;
    let listedAll = true;
    for (const i of group.indexes) {
      const outcome = outcomes[i] as Verified;
      const unlisted = checkListed(metadata, { version: requests[i]!.spec.version, sha512: outcome.sha512, sequence: outcome.verified.sequence, publisherKeyid: outcome.verified.publisher.keyid });
      if (unlisted) {
        outcomes[i] = { status: "failed", failure: metadataFailure(unlisted, whereOf(requests[i]!), place) };
        listedAll = false;
      } else {
        outcome.metadata = { serial: metadata.serial, expires: metadata.expires, from: place };
        records.set(i, (record as Extract<typeof record, { ok: true }>).value);
      }
    }
    if (listedAll) passed.push({ keyid: group.keyid, name: group.name, indexes: group.indexes, floor: { serial: metadata.serial, contentSha256 } });
  }

  // Each statement's record in the registry's log (the same log, view and stored checkpoint as its bundles').
  if (records.size > 0) await (options.checkRecords ?? checkLogs)(requests, outcomes, { token: options.token, ...(options.checkpoints ? { checkpoints: options.checkpoints } : {}) }, { itemOf: (i) => records.get(i), subject: (item) => `${item.label}: ` });
  for (const [i, record] of records) {
    const outcome = outcomes[i];
    if (outcome?.status === "verified" && outcome.metadata) outcome.metadata = { ...outcome.metadata, logIndex: record.sequence };
  }

  const floors = new Map<string, Map<string, SeenMetadata>>();
  for (const group of passed) {
    if (!group.indexes.every((i) => outcomes[i]?.status === "verified")) continue;
    let byKey = floors.get(group.keyid);
    if (!byKey) floors.set(group.keyid, (byKey = new Map()));
    byKey.set(group.name, group.floor);
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
 * checked against the floor, the version listed. On success: the statement's record for the
 * caller's log check, and `accept()`, which raises the floor once that check passed.
 */
export async function checkOneVersion(
  served: ServedPackageMetadata | undefined,
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
): Promise<{ ok: true; report: MetadataReport; record: LogItem; accept: () => void } | { ok: false; failure: VerifyFailure }> {
  const store = options.metadata ?? metadataStore();
  const opened = await openPackageMetadata(served?.envelope, { name: what.name, pinned: what.signers ?? [what.keyid], now: options.now ?? new Date(), seen: store.read(what.keyid, what.name) });
  if (!opened.ok) return { ok: false, failure: metadataFailure(opened.error, what, what.from) };
  const { metadata, contentSha256 } = opened.value;
  const problem = checkListed(metadata, { version: what.version, sha512: what.sha512, sequence: what.sequence, publisherKeyid: what.publisherKeyid });
  if (problem) return { ok: false, failure: metadataFailure(problem, what, what.from) };
  const record = metadataLogItem(opened.value, served?.log);
  if (!record.ok) return { ok: false, failure: metadataFailure(record.error, what, what.from) };
  return {
    ok: true,
    report: { serial: metadata.serial, expires: metadata.expires, from: what.from, logIndex: record.value.sequence },
    record: record.value,
    accept: () => store.raise(what.keyid, new Map([[what.name, { serial: metadata.serial, contentSha256 }]])),
  };
}
