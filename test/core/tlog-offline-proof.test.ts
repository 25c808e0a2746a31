/**
 * The log part of an offline bundle, over both halves of the core (note/ and tlog/): a tlog-proof
 * for one entry of a real tree, under a checkpoint signed by the log and cosigned by a witness,
 * verifies with `verifyTlogProof`; any changed byte of the proof, another entry, another origin,
 * another log key, or an index past the tree does not.
 */

import { describe, expect, it } from "vitest";
import {
  cosignatureSigner,
  cosignatureVerifier,
  createSigner,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatCheckpoint,
  formatTlogProof,
  inclusionProof,
  leafHash,
  signNote,
  storedHashes,
  treeHash,
  utf8,
  verifyTlogProof,
  type Hash,
  type HashReader,
  type NoteVerifier,
} from "../../src/core/index.js";

const ORIGIN = "registry.example/log";
const entries = Array.from({ length: 13 }, (_, i) => utf8(`countersignature ${i}`));

function ok<T>(r: { ok: true; value: T } | { ok: false; error: unknown }): T {
  if (!r.ok) throw new Error(`unexpected failure: ${JSON.stringify(r.error)}`);
  return r.value;
}

async function buildLog() {
  const stored: Hash[] = [];
  const reader: HashReader = { readHashes: (indexes) => indexes.map((i) => stored[i]!) };
  for (let n = 0; n < entries.length; n++) stored.push(...ok(await storedHashes(n, await leafHash(entries[n]!), reader)));
  const size = entries.length;
  const logSigner = await createSigner(new Uint8Array(32).fill(3));
  const witnessSigner = await createSigner(new Uint8Array(32).fill(9));
  const checkpoint = ok(
    await signNote(formatCheckpoint({ origin: ORIGIN, size, rootHash: ok(await treeHash(size, reader)), extensions: [] }), await ed25519NoteSigner(ORIGIN, logSigner), await cosignatureSigner("witness.example/w", witnessSigner, () => 1_790_000_000)),
  );
  const verifier = ok(await ed25519NoteVerifier(ORIGIN, logSigner.publicKey)) as NoteVerifier;
  const witness = ok(await cosignatureVerifier("witness.example/w", witnessSigner.publicKey)) as NoteVerifier;
  const proofFor = async (index: number) => formatTlogProof({ index, proof: ok(await inclusionProof(size, index, reader)), checkpoint });
  return { size, verifier, witness, proofFor };
}

describe("verifyTlogProof: one artifact shows its entry is in the log", async () => {
  const log = await buildLog();

  it("every entry verifies at its own index, with the witness's cosignature", async () => {
    for (let index = 0; index < log.size; index++) {
      const result = await verifyTlogProof(await log.proofFor(index), entries[index]!, { origin: ORIGIN, verifier: log.verifier, witnesses: [log.witness] });
      const value = ok(result);
      expect(value.index).toBe(index);
      expect(value.checkpoint.size).toBe(log.size);
      expect(value.cosignatures.map((s) => s.name)).toEqual(["witness.example/w"]);
    }
  });

  it("another entry, another origin, another log key or a forged index fails with the reason", async () => {
    const proof = await log.proofFor(5);
    const key = { origin: ORIGIN, verifier: log.verifier };
    expect(await verifyTlogProof(proof, entries[6]!, key)).toMatchObject({ ok: false, error: expect.stringContaining("not at index 5") });
    expect(await verifyTlogProof(proof, entries[5]!, { ...key, origin: "rogue.example/log" })).toMatchObject({ ok: false, error: expect.stringContaining("origin") });
    const rogue = ok(await ed25519NoteVerifier(ORIGIN, (await createSigner(new Uint8Array(32).fill(4))).publicKey)) as NoteVerifier;
    expect((await verifyTlogProof(proof, entries[5]!, { ...key, verifier: rogue })).ok).toBe(false);
    expect(await verifyTlogProof(proof.replace("index 5\n", `index ${log.size}\n`), entries[5]!, key)).toMatchObject({ ok: false, error: expect.stringContaining("not below") });
    expect((await verifyTlogProof(proof.replace("index 5\n", "index 4\n"), entries[5]!, key)).ok).toBe(false);
  });

  it("any changed byte of the proof text fails; in the witness's line, the cosignature is lost", async () => {
    const text = await log.proofFor(7);
    const proof = utf8(text);
    const witnessLine = text.indexOf("\u2014 witness.example/w");
    const witnessStart = utf8(text.slice(0, witnessLine)).length;
    const key = { origin: ORIGIN, verifier: log.verifier, witnesses: [log.witness] };
    for (let at = 0; at < proof.length; at++) {
      const changed = Uint8Array.from(proof);
      changed[at]! ^= 0x01;
      const result = await verifyTlogProof(changed, entries[7]!, key);
      // A signature line by a key nobody named is ignored (signed-note): the witness's quorum, not
      // this check, is what notices a cosignature that stopped verifying.
      if (result.ok) expect(at >= witnessStart && result.value.cosignatures.length === 0, `byte ${at}`).toBe(true);
      else expect(result.error, `byte ${at}`).toMatch(/^tlog-proof/);
    }
  });
});
