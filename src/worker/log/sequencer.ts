/**
 * @module
 * The log's single writer (issue 10, PROTOCOL §18): turns committed countersignatures into a
 * C2SP tlog-tiles log. Storage comes in through three small interfaces, so the Durable Object
 * (durable.ts) runs it on its SQLite storage, D1 and R2, and tests run it with faults injected.
 *
 *     D1 (the commit point)     versions, each with its countersignature: entry i = sequence i
 *       ↓ integrate             read committed entries past the tree, append their hashes
 *     tree store (DO SQLite)    every stored hash, the tree size, what is published and proved
 *       ↓ publish               tiles and entry bundles, then the signed checkpoint (with the
 *                               cosignatures of the witnesses that gave one), to R2
 *       ↓ prove                 each new version's bundle gets its tlog-proof (D1)
 *
 * D1 is the only source of entries, so no leaf exists without its committed version, and every
 * committed version is integrated by the next round, whoever triggers it (a publish, the cron,
 * a read of a missing checkpoint). Each step is idempotent and recorded after it succeeds: a
 * failure anywhere leaves the published log as it was, and the next round redoes what is missing.
 */

import {
  countersignatureEntry,
  equalBytes,
  formatCheckpoint,
  formatEntriesPath,
  formatEntryBundle,
  formatTilePath,
  formatTlogProof,
  gapEntry,
  genesisEntry,
  inclusionProof,
  leafHash,
  newEntryBundles,
  newTiles,
  noteErrorText,
  readTileData,
  signNote,
  storedHashes,
  storedHashIndex,
  TILE_WIDTH,
  treeHash,
  type Hash,
  type HashReader,
  type NoteSigner,
  utf8,
} from "../../core/index.js";
import { collectCosignatures, type WitnessDeps } from "./witnesses.js";

export interface TreeState {
  /** Entries whose hashes are stored. */
  size: number;
  /** Size of the last checkpoint written (its tiles were written before it). */
  published: number;
  /** Entries below this have their tlog-proof in their bundle (or are not versions). */
  proved: number;
  /** The last checkpoint written, signed note text. */
  checkpoint: string | null;
}

/** The sequencer's own durable state: stored hashes by index, and the sizes above. */
export interface TreeStore extends HashReader {
  state(): TreeState;
  /** Stores the hashes of entry `size` (storedHashes order) and grows the tree by one, atomically. */
  append(size: number, hashes: readonly Hash[]): void;
  published(size: number, checkpoint: string): void;
  proved(size: number): void;
}

export interface CommittedEntry {
  index: number;
  /** The countersignature's payload, base64, as in its envelope; null if the row has none. */
  payload: string | null;
  /** Or the entry itself, as text (a package metadata record, migrations/0012). */
  text?: string;
}

/** Where entries come from and proofs go: D1's versions. */
export interface EntrySource {
  /** Committed versions with sequence ≥ from, in sequence order, at most `limit`. */
  entries(from: number, limit: number): Promise<CommittedEntry[]>;
  /** Writes each version's tlog-proof into its stored bundle. */
  saveProofs(proofs: readonly { index: number; proof: string }[]): Promise<void>;
}

/** Where the log is published: tiles, entry bundles and the checkpoint, by their C2SP path. */
export interface LogFiles {
  put(path: string, body: Uint8Array | string): Promise<void>;
}

export interface SequencerDeps {
  tree: TreeStore;
  entries: EntrySource;
  files: LogFiles;
  /** Signs checkpoints with the registry key under the log's name (core logSigner). */
  signer: NoteSigner;
  /** The checkpoint origin line (core logOrigin). */
  origin: string;
  /** The registry's origin and key fingerprint, for entry 0. */
  registry: { origin: string; keyid: string };
  /** Witnesses asked to cosign each checkpoint before it is published (witnesses.ts). */
  witnesses?: WitnessDeps;
}

/** Entries read per round (each at most ~2 KB): a round stays well inside a request's limits. */
export const ENTRIES_PER_ROUND = 1024;
/** Proof updates per D1 batch, and per round at most this many batches. */
const PROOFS_PER_BATCH = 100;
const PROOF_BATCHES_PER_ROUND = 10;

export class LogStoreMismatch extends Error {
  override name = "LogStoreMismatch";
}

/**
 * One round: integrate what D1 has committed past the tree (up to ENTRIES_PER_ROUND), publish
 * tiles and a checkpoint for the new size, write proofs into bundles. Returns the state after.
 */
export async function runRound(deps: SequencerDeps): Promise<TreeState> {
  const { tree } = deps;
  const before = tree.state();
  // The partial level-0 tile's entries are re-read: its entry bundle is rewritten wider.
  const bundleStart = Math.floor(before.published / TILE_WIDTH) * TILE_WIDTH;
  const from = Math.min(bundleStart, before.size);
  const entries = await readEntries(deps, from, before.size - from + ENTRIES_PER_ROUND);
  // Entries already in the tree must hash to what it stores: D1 and the log never disagree silently.
  for (let index = from; index < before.size; index++) {
    const entry = entries.get(index);
    const [stored] = await tree.readHashes([storedHashIndex(0, index)]);
    if (!entry || !stored || !equalBytes(await leafHash(entry), stored)) {
      throw new LogStoreMismatch(`log entry ${index} no longer matches its stored hash: the versions table and the log disagree`);
    }
  }
  let size = before.size;
  while (entries.has(size)) {
    const hashes = await storedHashes(size, await leafHash(entries.get(size)!), tree);
    if (!hashes.ok) throw new Error(`log: ${hashes.error}`);
    tree.append(size, hashes.value);
    size++;
  }
  if (size > before.published || before.checkpoint === null) await publish(deps, before.published, size, entries);
  await prove(deps);
  return tree.state();
}

/** Entries [from, from + limit) that D1 has committed, by index: 0 is genesis; a hole below a committed number is a gap entry. */
async function readEntries(deps: SequencerDeps, from: number, limit: number): Promise<Map<number, Uint8Array>> {
  const out = new Map<number, Uint8Array>();
  if (from === 0) out.set(0, genesisEntry(deps.registry.origin, deps.registry.keyid));
  const rows = await deps.entries.entries(Math.max(from, 1), limit);
  let expected = Math.max(from, 1);
  for (const row of rows) {
    if (!Number.isSafeInteger(row.index) || row.index < expected) throw new Error(`log: versions returned sequence ${row.index} out of order`);
    // Committed numbers only grow (storage/d1.ts), so a number below a committed one that no
    // version holds never will: a database from before gap-free numbering.
    for (; expected < row.index; expected++) out.set(expected, gapEntry(expected));
    const entry = row.text !== undefined ? { ok: true as const, value: utf8(row.text) } : row.payload === null ? null : countersignatureEntry({ payload: row.payload });
    if (!entry?.ok) throw new Error(`log: the version with sequence ${row.index} has no countersignature payload`);
    out.set(row.index, entry.value);
    expected = row.index + 1;
  }
  return out;
}

async function publish(deps: SequencerDeps, oldSize: number, size: number, entries: Map<number, Uint8Array>): Promise<void> {
  const { tree, files } = deps;
  const writes: Promise<void>[] = [];
  for (const tile of newTiles(oldSize, size)) {
    const data = await readTileData(tile, tree);
    if (!data.ok) throw new Error(`log: ${data.error}`);
    writes.push(files.put(formatTilePath(tile), data.value));
  }
  for (const bundle of newEntryBundles(oldSize, size)) {
    const first = bundle.index * TILE_WIDTH;
    const members: Uint8Array[] = [];
    for (let i = first; i < first + bundle.width; i++) members.push(entries.get(i)!);
    const bytes = formatEntryBundle(members);
    if (!bytes.ok) throw new Error(`log: entry bundle ${formatEntriesPath(bundle)}: ${bytes.error}`);
    writes.push(files.put(formatEntriesPath(bundle), bytes.value));
  }
  // The checkpoint goes out only once every tile it implies is readable.
  await Promise.all(writes);
  const root = await treeHash(size, tree);
  if (!root.ok) throw new Error(`log: ${root.error}`);
  const signed = await signNote(formatCheckpoint({ origin: deps.origin, size, rootHash: root.value, extensions: [] }), deps.signer);
  if (!signed.ok) throw new Error(`log: signing the checkpoint: ${noteErrorText(signed.error)}`);
  const cosignatures = deps.witnesses?.witnesses.length ? await collectCosignatures(deps.witnesses, signed.value, size, tree) : [];
  const checkpoint = signed.value + cosignatures.join("");
  await files.put("checkpoint", checkpoint);
  tree.published(size, checkpoint);
}

/** Writes tlog-proofs against the published checkpoint into the bundles that have none yet. */
async function prove(deps: SequencerDeps): Promise<void> {
  const { tree } = deps;
  const state = tree.state();
  if (state.checkpoint === null) return;
  const end = Math.min(state.published, Math.max(state.proved, 1) + PROOFS_PER_BATCH * PROOF_BATCHES_PER_ROUND);
  for (let lo = Math.max(state.proved, 1); lo < end; lo += PROOFS_PER_BATCH) {
    const hi = Math.min(end, lo + PROOFS_PER_BATCH);
    const proofs: { index: number; proof: string }[] = [];
    for (let index = lo; index < hi; index++) proofs.push({ index, proof: await tlogProof(tree, state.published, state.checkpoint, index) });
    await deps.entries.saveProofs(proofs);
    tree.proved(hi);
  }
  if (end === state.published && state.proved < end) tree.proved(end);
}

/** The C2SP tlog-proof of entry `index` in the published tree. */
export async function tlogProof(reader: HashReader, size: number, checkpoint: string, index: number): Promise<string> {
  const path = await inclusionProof(size, index, reader);
  if (!path.ok) throw new Error(`log: inclusion proof of ${index} in ${size}: ${path.error}`);
  return formatTlogProof({ index, proof: path.value, checkpoint });
}
