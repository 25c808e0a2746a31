/**
 * @module
 * Step 2 of project verification: find a provenance bundle for every package that must be
 * countersigned, and judge it. A URL only says where to look; the pinned keys decide.
 *
 * Each package has an ordered list of places to ask: the pinned registry's URL first, then the
 * registry the lockfile says it was installed from, then the registry its package manager is
 * configured with for that name. At each place the batch API is asked, and a place without it
 * (a plain mirror or proxy) is read through the `dist.countersign` of its full packuments
 * (registry-client.ts: inline bundles, or links followed to that same place and checked against
 * their digest; a link that cannot be followed is no bundle). The first bundle that verifies
 * wins. When none does:
 *
 * - a bundle that failed is the answer (preferring the one from where the package was
 *   installed, which names the registry that really served it);
 * - else, if a place could not be reached, the package is "unavailable" (exit 3: an outage is
 *   not an attack, and it is not a pass either);
 * - else no place has one: `binding not_countersigned`.
 *
 * Last, the transparency log (log/check.ts), per pinned registry: every verified bundle's
 * countersignature must be in the registry's log at its sequence number (its tlog-proof, or a
 * proof from the log's tiles), and the log must be consistent with the checkpoints seen before
 * (stored in the user's config directory). Where the pins require witnesses, inclusion counts
 * only in a checkpoint cosigned by their quorum. A package that fails there fails at layer
 * "log"; a log that cannot be read makes its registry's packages "unavailable" (exit 3), never
 * verified.
 *
 * Then the package's signed metadata (metadata.ts), per package name and registry key: the
 * statement served with its bundles must open under that pinned key, be unexpired, not roll back
 * what this machine accepted before, and list every verified version with its bytes and sequence
 * number; a failure is at layer "metadata" (a place that serves none: `metadata_missing`).
 */

import {
  followRotations,
  rootOf,
  newCosignatureVerifier,
  openRotation,
  type KeyChain,
  type KeyRotation,
  type NoteVerifier,
  type Policy,
  type Result,
  type Verified,
  type VerifyFailure,
  type WitnessPolicy,
} from "../../../src/core/index.js";
import { CliError, usageError } from "../errors.js";
import { registryBase } from "../http.js";
import { RegistryClient, specKey, type Spec } from "../registry-client.js";
import { bundleLogItem, checkLog, checkWitnessedOffline, registryOfBundle, type LogItem } from "../log/check.js";
import { LogReader } from "../log/reader.js";
import { checkpointStore, type CheckpointStore } from "../log/store.js";
import type { MetadataStore } from "../log/metadata-store.js";
import { historyKeys, identityChain, judgeAgainstChain } from "./registry-keys.js";
import { checkMetadata, recordServed, type MetadataReport, type ServedMetadata } from "./metadata.js";
import type { RegistryPin } from "./plan.js";

export interface ProvenanceRequest {
  spec: Spec;
  namespace: string;
  pin: RegistryPin;
  /** Hex sha512 of the bytes that will be installed; undefined: hash the tarball `tarballFrom` serves. */
  sha512: string | undefined;
  /** Where else to ask, in order, after the pinned URL (no token is sent to these). */
  locators: string[];
  /** For lockfiles whose checksum is not of the tarball: the registry the package manager downloads from. */
  tarballFrom?: string | undefined;
  /** Publisher key of the version this one replaces (previous receipt), for publisher continuity. */
  previousPublisher?: string | undefined;
}

/** Where the log proved a verified package: its index and the checkpoint (tree size) that includes it. */
export interface LogInclusionReport {
  index: number;
  checkpoint: number;
  via: "tlog-proof" | "tiles";
}

export type ProvenanceOutcome =
  | {
      status: "verified";
      verified: Verified;
      bundle: unknown;
      source: string;
      sha512: string;
      /** The registry's keys as the pins and its logged rotations make them (PROTOCOL §21); absent: the countersigning key alone. */
      chain?: KeyChain;
      log?: LogInclusionReport;
      metadata?: MetadataReport;
    }
  | { status: "failed"; failure: VerifyFailure }
  | { status: "unavailable"; message: string };

interface Pending {
  request: ProvenanceRequest;
  sha512: string;
  places: string[];
  failures: { failure: VerifyFailure; place: string }[];
  /** Places that could not answer, with why (an outage or an oversized answer). */
  unreachable: Map<string, string>;
}

export interface ProvenanceOptions {
  policy: Policy | undefined;
  /** Sent to the pinned registries only (READ_ACCESS=token). */
  token: string | undefined;
  /** Called each time a request settles (for the progress line). */
  onProgress?: (settled: number, total: number) => void;
  /** Where the last accepted checkpoints are kept (default: the user's config directory, log/store.ts). */
  checkpoints?: CheckpointStore;
  /** Where the accepted package metadata floors are kept (default: the same directory, log/metadata-store.ts). */
  metadata?: MetadataStore;
  /** The clock metadata expiry is judged by (default: now). */
  now?: Date;
}

export async function findProvenance(requests: ProvenanceRequest[], options: ProvenanceOptions): Promise<ProvenanceOutcome[]> {
  const pinnedUrls = new Set(requests.map((r) => registryBase(r.pin.url)));
  const clients = new Map<string, RegistryClient>();
  const client = (url: string) => {
    let found = clients.get(url);
    if (!found) clients.set(url, (found = new RegistryClient(url, pinnedUrls.has(url) ? options.token : undefined)));
    return found;
  };

  const outcomes: ProvenanceOutcome[] = new Array(requests.length);
  let settled = 0;
  const record = (index: number, outcome: ProvenanceOutcome) => {
    outcomes[index] = outcome;
    options.onProgress?.(++settled, requests.length);
  };
  const pending = new Map<number, Pending>();
  const served: ServedMetadata = new Map();
  // Key rotations each place served (opened; one that does not open is left out and named if it mattered).
  const rotationsAt = new Map<string, { opened: KeyRotation[]; problems: string[] }>();
  const chains = new Map<string, Result<KeyChain>>();
  /** The registry's keys for a pin, from the pins and the rotations served by the pinned URL and `place`. */
  const chainFor = (pin: RegistryPin, place: string): Result<KeyChain> => {
    const key = `${JSON.stringify([pin.fingerprints, pin.retired ?? []])} ${place}`;
    let chain = chains.get(key);
    if (!chain) {
      const rotations = [...(rotationsAt.get(registryBase(pin.url))?.opened ?? []), ...(place === registryBase(pin.url) ? [] : (rotationsAt.get(place)?.opened ?? []))];
      chains.set(key, (chain = followRotations(pin, rotations)));
    }
    return chain;
  };

  // Bytes whose lockfile digest is not of the tarball: hash what the package manager downloads.
  await Promise.all(
    requests.map(async (request, index) => {
      let sha512 = request.sha512;
      if (sha512 === undefined) {
        const from = request.tarballFrom;
        if (!from) {
          record(index, { status: "unavailable", message: `could not verify ${specKey(request.spec)}: no registry is configured to download it from` });
          return;
        }
        try {
          sha512 = await client(registryBase(from)).tarballSha512(request.spec);
        } catch (err) {
          record(index, { status: "unavailable", message: `could not verify ${specKey(request.spec)}: ${(err as Error).message}` });
          return;
        }
        if (sha512 === undefined) {
          record(index, failedAt(request, "binding", "not_countersigned", `${registryBase(from)}, where it is installed from, does not serve ${specKey(request.spec)}`));
          return;
        }
      }
      const places = [...new Set([registryBase(request.pin.url), ...request.locators.map((l) => registryBase(l))])];
      pending.set(index, { request, sha512, places, failures: [], unreachable: new Map() });
    }),
  );

  // Ask place by place: round r asks every unresolved package's r-th place, batched per place.
  for (let round = 0; pending.size > 0; round++) {
    const asked = new Map<string, number[]>();
    for (const [index, item] of pending) {
      const place = item.places[round];
      if (place === undefined) {
        record(index, settle(item));
        pending.delete(index);
      } else asked.set(place, [...(asked.get(place) ?? []), index]);
    }
    await Promise.all(
      [...asked].map(async ([place, indexes]) => {
        const specs = indexes.map((i) => pending.get(i)!.request.spec);
        let bundles: Map<string, unknown>;
        try {
          const answer = await client(place).provenanceAnswer(specs);
          bundles = answer.bundles;
          recordServed(served, place, answer.metadata, answer.metadataLog);
          const opened = await Promise.all(answer.rotations.map((r) => openRotation(r)));
          rotationsAt.set(place, { opened: opened.flatMap((r) => (r.ok ? [r.value] : [])), problems: opened.flatMap((r) => (r.ok ? [] : [r.error])) });
        } catch (err) {
          if (!(err instanceof CliError)) throw err;
          for (const i of indexes) pending.get(i)!.unreachable.set(place, err.message);
          return;
        }
        await Promise.all(
          indexes.map(async (i) => {
            const item = pending.get(i)!;
            const bundle = bundles.get(specKey(item.request.spec));
            if (bundle === undefined) return;
            const { pin } = item.request;
            const chain = chainFor(pin, place);
            if (!chain.ok) {
              item.failures.push({ failure: failureOf(item.request, "binding", "registry_key_retired", `the registry's key rotations do not form one history: ${chain.error}`), place });
              return;
            }
            const result = await judgeAgainstChain(
              {
                name: item.request.spec.name,
                version: item.request.spec.version,
                sha512: item.sha512,
                bundle,
                fingerprints: [...chain.value.keys.keys()],
                policy: options.policy,
                previousPublisher: item.request.previousPublisher,
              },
              chain.value,
              rotationsAt.get(place)?.problems ?? [],
            );
            if (result.ok) {
              record(i, { status: "verified", verified: result.value, bundle, source: place, sha512: item.sha512, chain: chain.value });
              pending.delete(i);
            } else if (result.error.layer === "policy") {
              // The bytes verified; the consumer's rules decide, wherever the bundle came from.
              record(i, { status: "failed", failure: result.error });
              pending.delete(i);
            } else item.failures.push({ failure: result.error, place });
          }),
        );
      }),
    );
  }
  await checkLogs(requests, outcomes, options);
  await checkMetadata(requests, outcomes, served, options);
  return outcomes;
}

/** The cosignature verifiers of a pinned witness policy; a key that does not parse is a usage error (the pins file is wrong). */
export async function witnessVerifiers(policy: WitnessPolicy | undefined): Promise<NoteVerifier[]> {
  const verifiers: NoteVerifier[] = [];
  for (const vkey of policy?.keys ?? []) {
    const verifier = await newCosignatureVerifier(vkey);
    if (!verifier.ok) throw usageError(`countersign.json: witness key ${vkey.slice(0, 120)}: ${verifier.error}`);
    verifiers.push(verifier.value);
  }
  return verifiers;
}

/**
 * The log check of every verified outcome, one log per pinned registry URL and registry key:
 * a failure replaces the outcome (layer "log"), an unreadable log makes it unavailable.
 */
export async function checkLogs(
  requests: ProvenanceRequest[],
  outcomes: ProvenanceOutcome[],
  options: Pick<ProvenanceOptions, "token" | "checkpoints">,
  /**
   * What to find in the log for each verified outcome (default: its bundle's countersignature);
   * undefined: nothing for that one. `subject` prefixes its failures' messages.
   */
  find: { itemOf: (i: number, outcome: Extract<ProvenanceOutcome, { status: "verified" }>) => LogItem | undefined; subject?: (item: LogItem) => string } = {
    itemOf: (i, outcome) => bundleLogItem(outcome.bundle, outcome.verified.sequence, specKey(requests[i]!.spec)),
  },
): Promise<void> {
  // One log per history of keys: a registry that rotated its key keeps one log (PROTOCOL §21),
  // named on this machine by the first key of that history.
  const groups = new Map<string, { base: string; keyid: string; origin: string; witnesses: WitnessPolicy | undefined; chain: KeyChain | undefined; pin: RegistryPin; indexes: number[] }>();
  const itemAt = new Map<number, LogItem>();
  outcomes.forEach((outcome, i) => {
    if (outcome?.status !== "verified") return;
    const item = find.itemOf(i, outcome);
    if (!item) return;
    itemAt.set(i, item);
    const { pin } = requests[i]!;
    const base = registryBase(pin.url);
    const { origin } = outcome.verified.registry;
    const keyid = outcome.chain ? rootOf(outcome.chain, outcome.verified.registry.keyid) : outcome.verified.registry.keyid;
    const key = `${base} ${keyid} ${origin} ${JSON.stringify(pin.witnesses ?? null)}`;
    const group = groups.get(key) ?? { base, keyid, origin, witnesses: pin.witnesses, chain: outcome.chain, pin, indexes: [] };
    group.indexes.push(i);
    groups.set(key, group);
  });
  const store = options.checkpoints ?? checkpointStore();
  const logFailure = (i: number, problem: { code: VerifyFailure["code"]; message: string; expected?: string; actual?: string }): ProvenanceOutcome => {
    const request = requests[i]!;
    const { expected, actual } = problem;
    const item = itemAt.get(i);
    return {
      status: "failed",
      failure: {
        layer: "log",
        code: problem.code,
        message: `${item && find.subject ? find.subject(item) : ""}${problem.message}`,
        name: request.spec.name,
        version: request.spec.version,
        namespace: request.namespace,
        ...(expected === undefined ? {} : { expected }),
        ...(actual === undefined ? {} : { actual }),
      },
    };
  };
  await Promise.all(
    [...groups.values()].map(async (group) => {
      const first = outcomes[group.indexes[0]!] as Extract<ProvenanceOutcome, { status: "verified" }>;
      const key = registryOfBundle(first.bundle);
      const logKeys = historyKeys(group.chain, group.indexes.map((i) => (outcomes[i] as Extract<ProvenanceOutcome, { status: "verified" }>).bundle));
      // After a rotation the log's checkpoints are signed by the current key, whose public key
      // neither the pins nor old bundles carry: the registry's identity document has it, opened
      // under the pins (fetched only in that case).
      if (group.pin.retired?.length && !group.chain?.rotations.length) logKeys.push(...((await identityChain(group.pin.fingerprints, [group.base, registryBase(group.origin)]))?.keys ?? []));
      const witnesses = await witnessVerifiers(group.witnesses);
      const quorum = group.witnesses?.quorum ?? 0;
      const items: LogItem[] = group.indexes.map((i) => itemAt.get(i)!);
      // The log authenticates itself (every hash read is proved against a checkpoint signed by the
      // pinned key), so it may be read from anywhere: the pinned URL, else the origin the
      // countersignature names (a plain mirror passes npm's requests only). The token goes to the
      // pinned URL only.
      const bases = [...new Set([group.base, registryBase(group.origin)])];
      let result: Awaited<ReturnType<typeof checkLog>> | undefined;
      let reader: LogReader | undefined;
      for (const base of bases) {
        const made =
          key &&
          (await LogReader.create({
            base,
            registryOrigin: group.origin,
            publicKey: key.publicKey,
            publicKeyUntil: group.chain?.keys.get(key.keyid)?.until,
            otherKeys: logKeys,
            token: base === group.base ? options.token : undefined,
            witnesses,
            quorum,
          }));
        if (!made?.ok) {
          for (const i of group.indexes) outcomes[i] = logFailure(i, { code: "bad_checkpoint", message: `no transparency log key for ${group.origin}${made ? `: ${made.error}` : ""}` });
          return;
        }
        reader = made.value;
        result = await checkLog(reader, group.keyid, store, items);
        if (result.group?.kind !== "outage") break;
      }
      // No log reachable: with a witness quorum pinned, a tlog-proof whose checkpoint the quorum
      // cosigned is enough (the witnesses checked that checkpoint extends the log they saw: the
      // split-view defence this client cannot run itself right now); without one, unavailable.
      if (result?.group?.kind === "outage" && quorum > 0 && reader) {
        const offline = await checkWitnessedOffline(reader, items);
        if (offline) result = { items: offline };
      }
      if (!result) return;
      group.indexes.forEach((i, k) => {
        const item = result.items[k];
        const outcome = outcomes[i] as Extract<ProvenanceOutcome, { status: "verified" }>;
        if (item && !item.ok) outcomes[i] = logFailure(i, item.problem);
        else if (result.group?.kind === "rejected") outcomes[i] = logFailure(i, result.group.problem);
        else if (result.group?.kind === "outage") outcomes[i] = { status: "unavailable", message: `could not verify ${specKey(requests[i]!.spec)}: ${result.group.message}` };
        else if (item?.ok) outcome.log ??= { index: item.index, checkpoint: item.checkpoint.size, via: item.via };
        else outcomes[i] = logFailure(i, { code: "not_in_log", message: "the log check did not reach this package" });
      });
    }),
  );
}

const failureOf = (request: ProvenanceRequest, layer: VerifyFailure["layer"], code: VerifyFailure["code"], message: string): VerifyFailure => ({
  layer,
  code,
  message,
  name: request.spec.name,
  version: request.spec.version,
  namespace: request.namespace,
});

function failedAt(request: ProvenanceRequest, layer: VerifyFailure["layer"], code: VerifyFailure["code"], message: string, extra: Partial<VerifyFailure> = {}): ProvenanceOutcome {
  return { status: "failed", failure: { ...failureOf(request, layer, code, message), ...extra } };
}

function settle(item: Pending): ProvenanceOutcome {
  const { request } = item;
  const pinned = item.places[0]!;
  // Prefer what the registry that served the package says over the pinned registry's bundle.
  const failure = item.failures.find((f) => f.place !== pinned) ?? item.failures[0];
  if (failure) {
    const from = failure.place === pinned ? "" : ` (bundle from ${failure.place})`;
    return { status: "failed", failure: { ...failure.failure, message: `${failure.failure.message}${from}` } };
  }
  if (item.unreachable.size > 0) {
    return { status: "unavailable", message: `could not verify ${specKey(request.spec)}: ${[...item.unreachable.values()].join("; ")}` };
  }
  const pinnedPlace = `${request.pin.registry} (${pinned})`;
  const where = item.places.length > 1 ? `neither ${pinnedPlace} nor ${item.places.slice(1).join(", ")} (where it is installed from) has a countersignature for it` : `${pinnedPlace} has no countersignature for it`;
  return failedAt(request, "binding", "not_countersigned", `no registry pinned for ${request.namespace} countersigned ${specKey(request.spec)}: ${where}`, {
    expected: request.pin.fingerprints.join(" "),
    actual: "none",
  });
}
