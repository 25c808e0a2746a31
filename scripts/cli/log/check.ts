/**
 * @module
 * The log check of verification, per registry: every verified bundle's countersignature is in
 * the registry's transparency log at its sequence number, and this client's view of that log is
 * one append-only history.
 *
 * For each bundle (already verified against a pinned key), entry = its countersignature's payload
 * bytes (`countersignatureEntry`), index = its `predicate.sequence`:
 *
 * - with a `tlogProof`: it parses strictly, its index is the sequence, its checkpoint opens under
 *   the registry's log key (each distinct checkpoint text once per run), and the inclusion proof
 *   leads from the entry's leaf hash to that checkpoint's root. Checkable offline.
 * - without one: the inclusion proof is computed from the log's tiles and verified against the
 *   head of the view below (the log's current checkpoint, or a larger one already proved
 *   consistent with it).
 *
 * Then the view (`advanceView`): the current checkpoint is fetched and opened; the largest of it,
 * the checkpoint stored by the last run and every checkpoint the bundles carry is the head, and
 * each of the others must be proved a prefix of the head (consistency proofs from the head's
 * tiles; equal sizes need equal roots). Only then is the head stored for the next run. Two
 * signed checkpoints that cannot both be true are a `split_view` naming both.
 *
 * Witnesses: where the pins require a quorum of witness cosignatures, inclusion counts only in a
 * checkpoint carrying it. A tlog-proof against a checkpoint without it is not refused: the entry
 * is proved again from the tiles of the largest cosigned checkpoint of the view; if none covers
 * it, `witness_quorum`.
 *
 * Outcomes: a bundle not provable is `not_in_log` (that package fails); a view that fails fails
 * every package of the registry (`split_view`, `bad_checkpoint`, `bad_tiles`); a log that cannot
 * be read makes every package "unavailable" (exit 3): never a pass.
 */

import {
  countersignatureEntry,
  fromBase64,
  fromUtf8,
  parseCheckpoint,
  parseNote,
  toBase64,
  type Checkpoint,
} from "../../../src/core/index.js";
import { CliError, EXIT } from "../errors.js";
import { leafHashSync } from "./fast.js";
import { checkpointStore, type CheckpointStore } from "./store.js";
import { describeCheckpoint, LogOutage, LogReader, LogRejection, type LogProblem, type SignedCheckpoint } from "./reader.js";

/** One verified object to find in the log: a bundle's countersignature, or a package metadata record. */
export interface LogItem {
  /** The entry bytes (undefined: there are none, `not_in_log`). */
  entry: Uint8Array | undefined;
  /** The entry's log index (a countersignature's `predicate.sequence`). */
  sequence: number;
  /** How messages name it (`name@version`). */
  label: string;
  /** The tlog-proof served with it, unchecked; undefined or null: prove it from the tiles. */
  tlogProof: unknown;
  /** What carries the proof, for messages ("the bundle", "the signed metadata"). */
  what: string;
}

/** The log item of a verified bundle (its countersignature is the pinned registry's). */
export function bundleLogItem(bundle: unknown, sequence: number, label: string): LogItem {
  const envelope = (bundle as { countersignature?: { payload?: unknown } } | null)?.countersignature;
  const entry = envelope ? countersignatureEntry(envelope as { payload: string }) : undefined;
  return { entry: entry?.ok ? entry.value : undefined, sequence, label, tlogProof: (bundle as { tlogProof?: unknown } | null)?.tlogProof, what: "the bundle" };
}

export type ItemOutcome =
  | { ok: true; index: number; checkpoint: Checkpoint; via: "tlog-proof" | "tiles"; /** Whether that checkpoint has the pinned witnesses' quorum. */ witnessed: boolean }
  | { ok: false; problem: LogProblem };

export interface LogCheckResult {
  /** Per item, in order; undefined for an item the failed view left unchecked. */
  items: (ItemOutcome | undefined)[];
  /** The view of the whole log failed: every item of this registry fails (or is unavailable) with it. */
  group?: { kind: "rejected"; problem: LogProblem } | { kind: "outage"; message: string };
  /** The checkpoint stored for the next run (the head of the verified view). */
  stored?: Checkpoint;
}

/** The registry key and origin a verified bundle's countersignature names (its signature verified under that key). */
export function registryOfBundle(bundle: unknown): { keyid: string; publicKey: Uint8Array; origin: string } | undefined {
  const envelope = (bundle as { countersignature?: { payload?: unknown } } | null)?.countersignature;
  const entry = envelope ? countersignatureEntry(envelope as { payload: string }) : undefined;
  if (!entry?.ok) return undefined;
  try {
    const registry = (JSON.parse(fromUtf8(entry.value)) as { predicate?: { registry?: { keyid?: unknown; publicKey?: unknown; origin?: unknown } } }).predicate?.registry;
    const publicKey = typeof registry?.publicKey === "string" ? fromBase64(registry.publicKey) : undefined;
    if (!publicKey || typeof registry?.keyid !== "string" || typeof registry.origin !== "string") return undefined;
    return { keyid: registry.keyid, publicKey, origin: registry.origin };
  } catch {
    return undefined;
  }
}

const notInLog = (message: string, extra: Partial<LogProblem> = {}): ItemOutcome => ({ ok: false, problem: { code: "not_in_log", message, ...extra } });

/** Checks one bundle's tlog-proof (no network): the proven checkpoint, or why not. */
export async function checkProof(reader: LogReader, item: LogItem, text: unknown, leaf: Uint8Array, seen: Map<string, { signed: SignedCheckpoint; name: string }>): Promise<ItemOutcome> {
  if (typeof text !== "string") return notInLog(`${item.what}'s tlogProof is not text`);
  // The common case, shared work: a checkpoint already opened this run, a proof the run's node cache settles.
  const quick = reader.proofParser.quickLines(text);
  const known = quick && quick.index === item.sequence ? reader.openedAlready(quick.checkpoint) : undefined;
  if (quick && known && quick.index < known.checkpoint.size && reader.provedTree(known).verifyLines(quick.lines, quick.index, leaf)) {
    if (!seen.has(known.text)) seen.set(known.text, { signed: known, name: `the checkpoint in the tlog-proof of ${item.label}` });
    return { ok: true, index: quick.index, checkpoint: known.checkpoint, via: "tlog-proof", witnessed: reader.witnessed(known) };
  }
  const proof = reader.proofParser.parse(text);
  if (!proof.ok) return notInLog(`${item.what}'s tlog-proof does not parse: ${proof.error}`);
  const { index } = proof.value;
  if (index !== item.sequence) {
    return notInLog(`${item.what}'s tlog-proof is for log index ${index}, but its entry is at index ${item.sequence}`, { expected: `index ${item.sequence}`, actual: `index ${index}` });
  }
  const opened = await reader.openCheckpoint(proof.value.checkpoint);
  if (!opened.ok) return { ok: false, problem: { ...opened.error, message: `${item.what}'s tlog-proof carries ${opened.error.message}` } };
  const { checkpoint } = opened.value;
  if (!seen.has(opened.value.text)) seen.set(opened.value.text, { signed: opened.value, name: `the checkpoint in the tlog-proof of ${item.label}` });
  if (index >= checkpoint.size) return notInLog(`${item.what}'s tlog-proof names index ${index}, beyond its checkpoint (${describeCheckpoint(checkpoint)})`);
  const included = await reader.provedTree(opened.value).verify(proof.value.proof, index, leaf);
  if (!included.ok) {
    return notInLog(`${item.what}'s tlog-proof does not prove its entry at log index ${index} of ${describeCheckpoint(checkpoint)} (a proof for another entry or index): ${included.error}`, {
      expected: `entry ${index} included in ${describeCheckpoint(checkpoint)}`,
      actual: "the proof leads to another root",
    });
  }
  return { ok: true, index, checkpoint, via: "tlog-proof", witnessed: reader.witnessed(opened.value) };
}

/**
 * Checks that every item is in the log `reader` reads and advances the stored view of it
 * (`fingerprint`: the registry key's, which names the store entry). Never throws for the log's
 * failures: they are in the result.
 */
export async function checkLog(reader: LogReader, fingerprint: string, store: CheckpointStore, items: readonly LogItem[]): Promise<LogCheckResult> {
  const outcomes: (ItemOutcome | undefined)[] = new Array(items.length);
  const leaves: Uint8Array[] = new Array(items.length);
  const fromTiles: number[] = [];
  const carried = new Map<string, { signed: SignedCheckpoint; name: string }>();

  // 1. Offline: entries, leaf hashes, tlog-proofs.
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    if (!item.entry) {
      outcomes[i] = notInLog(`${item.what} has no entry to find in the log`);
      continue;
    }
    leaves[i] = leafHashSync(item.entry);
    const text = item.tlogProof;
    if (text === undefined || text === null) {
      fromTiles.push(i);
      continue;
    }
    const outcome = await checkProof(reader, item, text, leaves[i]!, carried);
    // Proved in a checkpoint the pinned witnesses have not cosigned (enough): look for one they have.
    if (outcome.ok && !outcome.witnessed) fromTiles.push(i);
    else outcomes[i] = outcome;
  }

  // 2. Online: the consistent view, then inclusion from the tiles of a checkpoint in it.
  try {
    const { head, checkpoints } = await advanceView(reader, fingerprint, store, [...carried.values()]);
    const witnessed = checkpoints.filter((signed) => reader.witnessed(signed)).sort((a, b) => b.checkpoint.size - a.checkpoint.size);
    for (const i of fromTiles) {
      const index = items[i]!.sequence;
      const target = witnessed.find((signed) => signed.checkpoint.size > index);
      if (!target) {
        outcomes[i] =
          index < head.checkpoint.size
            ? {
                ok: false,
                problem: {
                  code: "witness_quorum",
                  message: `entry ${index} is in ${describeCheckpoint(head.checkpoint)}, but no checkpoint covering it carries cosignatures by ${reader.quorum} of the witnesses pinned for this registry (a witness may be down: retry later; a log that keeps its checkpoints from the witnesses is how a split view hides)`,
                  expected: `cosignatures by ${reader.quorum} pinned witnesses`,
                  actual: `${new Set(head.cosignatures.map((sig) => `${sig.name}+${sig.keyHash}`)).size} on the log's latest checkpoint`,
                },
              }
            : notInLog(`entry ${index} is not in the log's tree of size ${head.checkpoint.size} (${describeCheckpoint(head.checkpoint)}; a version published seconds ago may not be in a checkpoint yet: retry)`, {
                expected: `entry ${index} in the log`,
                actual: `the log's size is ${head.checkpoint.size}`,
              });
        continue;
      }
      const proved = await reader.proveInclusion(index, leaves[i]!, target.checkpoint);
      outcomes[i] = proved.ok
        ? { ok: true, index, checkpoint: target.checkpoint, via: "tiles", witnessed: true }
        : notInLog(`${proved.error} (${describeCheckpoint(target.checkpoint)})`, {
            expected: `entry ${index} in the log`,
            actual: "not provable from the log's tiles",
          });
    }
    return { items: outcomes, stored: head.checkpoint };
  } catch (err) {
    if (err instanceof LogRejection) return { items: outcomes, group: { kind: "rejected", problem: err.problem } };
    if (err instanceof LogOutage) return { items: outcomes, group: { kind: "outage", message: err.message } };
    throw err;
  }
}

/** The origin line of stored note text, without verifying anything (for the "other log" message). */
function originOf(text: string): string | undefined {
  const note = parseNote(text);
  if (!note.ok) return undefined;
  const checkpoint = parseCheckpoint(note.value.text);
  return checkpoint.ok ? checkpoint.value.origin : undefined;
}

/**
 * Advances the client's view of the log: the current checkpoint, the stored one and `others`
 * (checkpoints that opened under the log's key, e.g. from tlog-proofs) must all be prefixes of
 * the largest of them, which is then stored. Returns that head and every checkpoint of the view.
 * Throws LogRejection (split view, bad checkpoint, bad tiles) or LogOutage. Witness
 * cosignatures play no part here: any checkpoint the log signed is evidence.
 */
export async function advanceView(
  reader: LogReader,
  fingerprint: string,
  store: CheckpointStore,
  others: readonly { signed: SignedCheckpoint; name: string }[] = [],
): Promise<{ head: SignedCheckpoint; checkpoints: SignedCheckpoint[] }> {
  const latest = await reader.latest();
  const all: { signed: SignedCheckpoint; name: string }[] = [{ signed: latest, name: `the checkpoint ${reader.host} serves now` }];
  const storedText = store.read(fingerprint);
  const path = store.path(fingerprint);
  if (storedText !== undefined) {
    const storedOrigin = originOf(storedText);
    if (storedOrigin !== undefined && storedOrigin !== reader.origin) {
      throw new LogRejection({
        code: "split_view",
        message: `SPLIT VIEW / LOG REWRITTEN: the registry key ${fingerprint} signed checkpoints of two logs: ${storedOrigin} (stored at ${path}) and ${reader.origin} (${describeCheckpoint(latest.checkpoint)}). If the registry moved to a new origin on purpose, confirm it with its operators, then delete ${path}`,
        expected: `a checkpoint of ${storedOrigin}`,
        actual: `${describeCheckpoint(latest.checkpoint)}`,
      });
    }
    const opened = await reader.openCheckpoint(storedText);
    if (!opened.ok) {
      throw new LogRejection({ ...opened.error, message: `the checkpoint stored at ${path} is ${opened.error.message.replace(/^a checkpoint that/, "one that")}: someone changed the file; delete it only once you know why` });
    }
    all.push({ signed: opened.value, name: `the checkpoint stored at ${path} by an earlier run` });
  }
  all.push(...others);

  // The head: the largest tree; one of the same size with another root is a split view already.
  let head = all[0]!;
  for (const candidate of all) if (candidate.signed.checkpoint.size > head.signed.checkpoint.size) head = candidate;
  // One proof per distinct tree, all at once (their tiles are fetched together, each once). A
  // tree an earlier run proved a prefix of the stored checkpoint needs none: the stored one is
  // itself the head or proved a prefix of it here, and "prefix of" is transitive.
  const proven = storedText !== undefined && store.readProven ? store.readProven(fingerprint, storedText) : new Set<string>();
  const storedSize = storedText === undefined ? -1 : all[1]!.signed.checkpoint.size;
  const distinct = new Map<string, { signed: SignedCheckpoint; name: string }>();
  for (const candidate of all) {
    const key = rootKey(candidate.signed.checkpoint);
    if (key === rootKey(head.signed.checkpoint) || distinct.has(key)) continue;
    if (proven.has(key) && candidate.signed.checkpoint.size <= storedSize) continue;
    distinct.set(key, candidate);
  }
  const proofs = await Promise.allSettled([...distinct.values()].map((candidate) => reader.proveConsistent(candidate.signed, head.signed, { older: candidate.name, newer: head.name })));
  // A split view outranks the rest; then the log's other failures; then an outage.
  const failures = proofs.flatMap((p) => (p.status === "rejected" ? [p.reason as unknown] : []));
  const rank = (err: unknown) => (err instanceof LogRejection ? (err.problem.code === "split_view" ? 0 : 1) : err instanceof LogOutage ? 2 : 3);
  if (failures.length > 0) throw failures.sort((a, b) => rank(a) - rank(b))[0];
  if (storedText !== head.signed.text) store.write(fingerprint, head.signed.text);
  if (store.writeProven) {
    // Everything proved before (prefixes of the old stored checkpoint, itself a prefix of the head) and now.
    const now = [...proven, ...all.map((c) => rootKey(c.signed.checkpoint))].filter((key) => key !== rootKey(head.signed.checkpoint));
    const before = storedText === head.signed.text ? proven : undefined;
    if (!before || now.some((key) => !before.has(key))) store.writeProven(fingerprint, head.signed.text, now);
  }
  return { head: head.signed, checkpoints: all.map((c) => c.signed) };
}

const rootKey = (checkpoint: Checkpoint) => `${checkpoint.size} ${toBase64(checkpoint.rootHash)}`;

/** A log failure of one bundle as the CliError a command exits with (1; 3 for an outage), with the `log` layer failure in its detail. */
function failureError(problem: LogProblem, label: string, verified: { name: string; version: string; namespace: string }): CliError {
  const failure = { layer: "log" as const, code: problem.code, message: problem.message, name: verified.name, version: verified.version, namespace: verified.namespace, ...(problem.expected === undefined ? {} : { expected: problem.expected }), ...(problem.actual === undefined ? {} : { actual: problem.actual }) };
  return new CliError(`${label}: log layer rejected [${problem.code}]: ${problem.message}`, EXIT.rejected, { verified: false, failure });
}

/**
 * The online log check of one verified bundle (`fetch`): in the log of the registry at `base`,
 * and the view consistent with the stored checkpoint. Throws a CliError (exit 1, or 3 when the
 * log cannot be read); returns where it was proved.
 */
export async function checkBundleOnline(
  base: string,
  bundle: unknown,
  verified: { name: string; version: string; namespace: string; sequence: number; registry: { keyid: string; origin: string } },
  options: {
    token?: string | undefined;
    store?: CheckpointStore;
    /** After a key rotation (PROTOCOL §21): the registry's other keys, and the first key of its history (names the stored view). */
    otherKeys?: readonly { publicKey: Uint8Array; until?: number | undefined }[];
    history?: string;
    /** Another entry of the same log to prove with it (the record of the signed metadata listing the version). */
    also?: LogItem;
  } = {},
): Promise<Extract<ItemOutcome, { ok: true }>> {
  const label = `${verified.name}@${verified.version}`;
  const key = registryOfBundle(bundle);
  const until = options.otherKeys?.find((k) => key && equalBytesOf(k.publicKey, key.publicKey))?.until;
  const reader = key && (await LogReader.create({ base, registryOrigin: verified.registry.origin, publicKey: key.publicKey, publicKeyUntil: until, otherKeys: options.otherKeys, token: options.token }));
  if (!reader?.ok) throw failureError({ code: "bad_checkpoint", message: `no transparency log key for ${verified.registry.origin}` }, label, verified);
  const result = await checkLog(reader.value, options.history ?? verified.registry.keyid, options.store ?? checkpointStore(), [bundleLogItem(bundle, verified.sequence, label), ...(options.also ? [options.also] : [])]);
  const item = result.items[0];
  if (item && !item.ok) throw failureError(item.problem, label, verified);
  const also = result.items[1];
  if (options.also && also && !also.ok) throw failureError({ ...also.problem, message: `${options.also.label}: ${also.problem.message}` }, label, verified);
  if (result.group?.kind === "rejected") throw failureError(result.group.problem, label, verified);
  if (result.group?.kind === "outage") throw new CliError(`could not verify ${label}: ${result.group.message}`, EXIT.unavailable);
  if (!item?.ok) throw failureError({ code: "not_in_log", message: "the log check did not reach it" }, label, verified);
  return item;
}

/**
 * With the log unreachable and a witness quorum pinned: every item's tlog-proof checked offline
 * (`checkProof`, no network) in a checkpoint the quorum cosigned. Undefined unless all pass: the
 * witnesses then vouch for that checkpoint's consistency, which this client cannot check now.
 */
export async function checkWitnessedOffline(reader: LogReader, items: readonly LogItem[]): Promise<ItemOutcome[] | undefined> {
  if (reader.quorum === 0) return undefined;
  const out: ItemOutcome[] = [];
  for (const item of items) {
    const text = item.tlogProof;
    if (!item.entry || typeof text !== "string") return undefined;
    const outcome = await checkProof(reader, item, text, leafHashSync(item.entry), new Map());
    if (!outcome.ok || !outcome.witnessed) return undefined;
    out.push(outcome);
  }
  return out;
}

/** What `verify-artifact` (offline) could check of the log. */
export type OfflineLogCheck = { checked: false; reason: string } | { checked: true; index: number; checkpoint: Checkpoint; stored: "same tree" | "not compared" };

/**
 * The offline log check of one verified bundle (`verify-artifact`): its tlog-proof, if it has
 * one, against the registry's key (no network); and, if this machine stored a checkpoint of the
 * same size, equal roots (a split view is visible offline only then). Consistency with another
 * size needs the log's tiles: online only. Throws a CliError (exit 1) for a proof that fails.
 */
export async function checkBundleOffline(
  bundle: unknown,
  verified: { name: string; version: string; namespace: string; sequence: number; registry: { keyid: string; origin: string } },
  options: { store?: CheckpointStore } = {},
): Promise<OfflineLogCheck> {
  const label = `${verified.name}@${verified.version}`;
  const text = (bundle as { tlogProof?: unknown } | null)?.tlogProof;
  if (text === undefined || text === null) return { checked: false, reason: "the bundle has no tlogProof" };
  const key = registryOfBundle(bundle);
  const entry = key && countersignatureEntry((bundle as { countersignature: { payload: string } }).countersignature);
  const reader = key && (await LogReader.create({ base: verified.registry.origin, registryOrigin: verified.registry.origin, publicKey: key.publicKey }));
  if (!reader?.ok || !entry?.ok) throw failureError({ code: "not_in_log", message: "the countersignature has no entry to find in the log" }, label, verified);
  const outcome = await checkProof(reader.value, bundleLogItem(bundle, verified.sequence, label), text, leafHashSync(entry.value), new Map());
  if (!outcome.ok) throw failureError(outcome.problem, label, verified);
  const store = options.store ?? checkpointStore();
  const storedText = store.read(verified.registry.keyid);
  const stored = storedText === undefined ? undefined : await reader.value.openCheckpoint(storedText);
  if (stored?.ok && stored.value.checkpoint.size === outcome.checkpoint.size) {
    if (toBase64(stored.value.checkpoint.rootHash) !== toBase64(outcome.checkpoint.rootHash)) {
      throw failureError(
        {
          code: "split_view",
          message: `SPLIT VIEW / LOG REWRITTEN: the checkpoint in the bundle's tlog-proof (${describeCheckpoint(outcome.checkpoint)}) and the one stored at ${store.path(verified.registry.keyid)} (${describeCheckpoint(stored.value.checkpoint)}) are both signed by the registry's key but are two different trees of the same size`,
          expected: describeCheckpoint(stored.value.checkpoint),
          actual: describeCheckpoint(outcome.checkpoint),
        },
        label,
        verified,
      );
    }
    return { checked: true, index: outcome.index, checkpoint: outcome.checkpoint, stored: "same tree" };
  }
  return { checked: true, index: outcome.index, checkpoint: outcome.checkpoint, stored: "not compared" };
}

const equalBytesOf = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

