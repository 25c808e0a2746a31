/**
 * The sequencer's rounds (src/worker/log/sequencer.ts) over in-memory stores, with faults injected
 * at every write: the published log is checked at every size against an independent RFC 6962
 * implementation, a failure anywhere leaves the published log as it was, and the next round
 * produces exactly the log a fault-free run produces.
 */

import { describe, expect, it } from "vitest";
import {
  createSigner,
  formatEntriesPath,
  formatTilePath,
  keyPairFromSeed,
  leafHash,
  logOrigin,
  logSigner,
  logVerifier,
  newEntryBundles,
  openCheckpoint,
  parseEntryBundle,
  parseLogEntry,
  storedHashCount,
  tileHashReader,
  tilesForSize,
  toBase64,
  treeHash,
  utf8,
  verifyTlogProof,
  type Hash,
  type NoteVerifier,
} from "../../src/core/index.js";
import { referenceLeaf, referenceRoot } from "./reference-merkle.js";
import { LogStoreMismatch, runRound, type CommittedEntry, type SequencerDeps, type TreeState, type TreeStore } from "../../src/worker/log/sequencer.js";

const ORIGIN = "https://registry.example";

/** A countersignature-shaped payload for sequence i (the sequencer only needs its bytes). */
const payload = (i: number) =>
  utf8(JSON.stringify({ predicateType: "https://countersign.dev/attestation/countersign/v1", subject: [{ digest: { sha512: "ab".repeat(64) } }], predicate: { name: `@t/p${i}`, version: "1.0.0", namespace: "@t", publishedAt: "2026-11-26T00:00:00.000Z", publisher: { keyid: "SHA256:p" }, registry: { keyid: "SHA256:r" }, sequence: i } }));

class MemoryTree implements TreeStore {
  hashes: Hash[] = [];
  s: TreeState = { size: 0, published: 0, proved: 0, checkpoint: null };
  state = () => ({ ...this.s });
  readHashes(indexes: readonly number[]) {
    return indexes.map((i) => {
      const h = this.hashes[i];
      if (!h) throw new Error(`missing stored hash ${i}`);
      return h;
    });
  }
  append(size: number, hashes: readonly Hash[]) {
    expect(size).toBe(this.s.size);
    expect(this.hashes.length).toBe(storedHashCount(size));
    this.hashes.push(...hashes);
    this.s.size++;
  }
  published(size: number, checkpoint: string) {
    this.s = { ...this.s, published: size, checkpoint };
  }
  proved(size: number) {
    this.s = { ...this.s, proved: size };
  }
}

interface World {
  deps: SequencerDeps;
  tree: MemoryTree;
  versions: Map<number, string>;
  files: Map<string, Uint8Array | string>;
  proofs: Map<number, string>;
  fail: { put?: (path: string, n: number) => boolean; saveProofs?: boolean; entries?: boolean };
  puts: number;
  verifier: NoteVerifier;
}

async function world(): Promise<World> {
  const key = await keyPairFromSeed(new Uint8Array(32).fill(9));
  const signer = await createSigner(key);
  const verifier = await logVerifier(ORIGIN, key.publicKey);
  if (!verifier.ok) throw new Error(verifier.error);
  const w = { tree: new MemoryTree(), versions: new Map(), files: new Map(), proofs: new Map(), fail: {}, puts: 0, verifier: verifier.value } as Omit<World, "deps">;
  const deps: SequencerDeps = {
    tree: w.tree,
    entries: {
      async entries(from, limit) {
        if (w.fail.entries) throw new Error("injected: D1 read");
        return [...w.versions.keys()]
          .filter((i) => i >= from)
          .sort((a, b) => a - b)
          .slice(0, limit)
          .map((index): CommittedEntry => ({ index, payload: w.versions.get(index)! }));
      },
      async saveProofs(proofs) {
        if (w.fail.saveProofs) throw new Error("injected: D1 batch");
        for (const p of proofs) if (w.versions.has(p.index)) w.proofs.set(p.index, p.proof);
      },
    },
    files: {
      async put(path, body) {
        const n = w.puts++;
        if (w.fail.put?.(path, n)) throw new Error(`injected: R2 put ${path}`);
        w.files.set(path, typeof body === "string" ? body : body.slice());
      },
    },
    signer: await logSigner(ORIGIN, signer),
    origin: logOrigin(ORIGIN),
    registry: { origin: ORIGIN, keyid: key.keyid },
  };
  return Object.assign(w, { deps }) as World;
}

const commit = (w: World, i: number) => w.versions.set(i, toBase64(payload(i)));

/** Everything a client could check of the published log: checkpoint, root from tiles, entry bundles, every proof. */
async function checkPublished(w: World, entries: Uint8Array[]) {
  const text = w.files.get("checkpoint") as string;
  const opened = await openCheckpoint(text, logOrigin(ORIGIN), w.verifier);
  if (!opened.ok) throw new Error(JSON.stringify(opened.error));
  const size = opened.value.checkpoint.size;
  expect(size).toBe(entries.length);
  const reference = await referenceRoot(await Promise.all(entries.map(referenceLeaf)));
  expect([...opened.value.checkpoint.rootHash]).toEqual([...reference]);
  const fromTiles = await treeHash(size, tileHashReader(size, { readTiles: (tiles) => tiles.map((t) => w.files.get(formatTilePath(t)) as Uint8Array) }));
  expect(fromTiles.ok && [...fromTiles.value]).toEqual([...reference]);
  for (const t of tilesForSize(size)) expect(w.files.has(formatTilePath(t))).toBe(true);
  for (const b of newEntryBundles(0, size)) {
    const members = parseEntryBundle(w.files.get(formatEntriesPath(b)) as Uint8Array, b.width);
    if (!members.ok) throw new Error(members.error);
    members.value.forEach((m, i) => expect([...m]).toEqual([...entries[b.index * 256 + i]!]));
  }
  return { size, text };
}

const expectedEntries = (w: World, size: number) => {
  const out: Uint8Array[] = [utf8(JSON.stringify({ type: "https://countersign.dev/log/genesis/v1", origin: ORIGIN, keyid: w.deps.registry.keyid }))];
  for (let i = 1; i < size; i++) out.push(w.versions.has(i) ? payload(i) : utf8(JSON.stringify({ type: "https://countersign.dev/log/gap/v1", index: i })));
  return out;
};

describe("sequencer rounds", () => {
  it("grows one entry at a time to 300, checked at every size; every bundle's proof verifies", async () => {
    const w = await world();
    await runRound(w.deps);
    await checkPublished(w, expectedEntries(w, 1));
    for (let i = 1; i < 300; i++) {
      commit(w, i);
      const state = await runRound(w.deps);
      expect(state).toMatchObject({ size: i + 1, published: i + 1, proved: i + 1 });
      await checkPublished(w, expectedEntries(w, i + 1));
    }
    for (let i = 1; i < 300; i++) {
      const proved = await verifyTlogProof(w.proofs.get(i)!, payload(i), { origin: logOrigin(ORIGIN), verifier: w.verifier });
      expect(proved.ok && proved.value.index, `proof of ${i}`).toBe(i);
    }
  }, 60_000);

  it("a burst of 2,500 committed entries is integrated in rounds of at most 1,024, proofs following", async () => {
    const w = await world();
    for (let i = 1; i <= 2500; i++) commit(w, i);
    const sizes: number[] = [];
    for (let round = 0; round < 6; round++) sizes.push((await runRound(w.deps)).published);
    expect(sizes.slice(0, 3)).toEqual([1025, 2049, 2501]);
    await checkPublished(w, expectedEntries(w, 2501));
    expect(w.proofs.size).toBe(2500);
  });

  it("a hole below a committed number (a database from before gap-free numbering) is a gap entry", async () => {
    const w = await world();
    for (const i of [1, 2, 5, 6]) commit(w, i);
    await runRound(w.deps);
    const { size } = await checkPublished(w, expectedEntries(w, 7));
    const bundle = parseEntryBundle(w.files.get("tile/entries/000.p/7") as Uint8Array, size);
    expect(bundle.ok && bundle.value.map((e, i) => { const p = parseLogEntry(e, i); return p.ok ? p.value.kind : p.error; })).toEqual(["genesis", "countersignature", "countersignature", "gap", "gap", "countersignature", "countersignature"]);
    expect([...w.proofs.keys()].sort()).toEqual([1, 2, 5, 6]);
  });

  it("a failed write at any point leaves the published log unchanged; the next round produces the fault-free log", async () => {
    // The fault-free result for entries 1..300 published after 1..250 were.
    const clean = await world();
    for (let i = 1; i <= 250; i++) commit(clean, i);
    await runRound(clean.deps);
    for (let i = 251; i <= 300; i++) commit(clean, i);
    await runRound(clean.deps);
    const cleanCheckpoint = clean.files.get("checkpoint") as string;

    // Count the puts of the second round, then fail each one in turn.
    let failAt = 0;
    for (; ; failAt++) {
      const w = await world();
      for (let i = 1; i <= 250; i++) commit(w, i);
      await runRound(w.deps);
      const before = w.files.get("checkpoint");
      for (let i = 251; i <= 300; i++) commit(w, i);
      const first = w.puts;
      if (failAt >= clean.puts - first) break; // every put of the round has failed once
      w.fail.put = (_path, n) => n === first + failAt;
      await expect(runRound(w.deps)).rejects.toThrow(/injected/);
      expect(w.files.get("checkpoint"), `put ${failAt}`).toBe(before);
      expect(w.tree.state().published).toBe(251);
      w.fail.put = undefined;
      await runRound(w.deps);
      expect(w.files.get("checkpoint")).toBe(cleanCheckpoint);
      await checkPublished(w, expectedEntries(w, 301));
      expect(w.proofs.size).toBe(300);
    }
    // tile/0/000, tile/0/001.p/45, tile/1/000.p/1, two entry bundles and the checkpoint.
    expect(failAt).toBe(6);
  });

  it("failing to write proofs keeps the checkpoint; proofs are written by a later round (backfill)", async () => {
    const w = await world();
    for (let i = 1; i <= 20; i++) commit(w, i);
    w.fail.saveProofs = true;
    await expect(runRound(w.deps)).rejects.toThrow(/injected/);
    expect(w.tree.state()).toMatchObject({ published: 21, proved: 0 });
    expect(w.proofs.size).toBe(0);
    w.fail.saveProofs = false;
    expect(await runRound(w.deps)).toMatchObject({ published: 21, proved: 21 });
    expect(w.proofs.size).toBe(20);
  });

  it("a failing D1 read publishes nothing; entries committed meanwhile are all taken next time", async () => {
    const w = await world();
    commit(w, 1);
    await runRound(w.deps);
    commit(w, 2);
    w.fail.entries = true;
    await expect(runRound(w.deps)).rejects.toThrow(/injected/);
    expect(w.tree.state().published).toBe(2);
    w.fail.entries = false;
    commit(w, 3);
    expect((await runRound(w.deps)).published).toBe(4);
    await checkPublished(w, expectedEntries(w, 4));
  });

  it("an integrated entry that changed in the versions table stops the log (no checkpoint over other bytes)", async () => {
    const w = await world();
    for (let i = 1; i <= 3; i++) commit(w, i);
    await runRound(w.deps);
    const before = w.files.get("checkpoint");
    w.versions.set(2, toBase64(utf8("rewritten history")));
    commit(w, 4);
    await expect(runRound(w.deps)).rejects.toThrow(LogStoreMismatch);
    expect(w.files.get("checkpoint")).toBe(before);
  });

  it("leaf hashes are of the exact payload bytes", async () => {
    const w = await world();
    commit(w, 1);
    await runRound(w.deps);
    expect([...w.tree.hashes[1]!]).toEqual([...(await leafHash(payload(1)))]);
  });
});
