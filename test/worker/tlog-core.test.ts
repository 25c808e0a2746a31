/**
 * The transparency-log core runs where the log will: in workerd, with crypto.subtle hashing and
 * no native helpers registered. A tree built with the stored-hash layout, its C2SP tiles, and a
 * tlog-proof under a signed checkpoint verify there; a changed entry does not.
 */

import { describe, expect, it } from "vitest";
import {
  createSigner,
  ed25519NoteSigner,
  ed25519NoteVerifier,
  formatCheckpoint,
  formatTilePath,
  formatTlogProof,
  inclusionProof,
  leafHash,
  newTiles,
  signNote,
  storedHashes,
  treeHash,
  utf8,
  verifyTlogProof,
  type Hash,
  type HashReader,
} from "../../src/core/index.js";

describe("transparency-log core in workerd", () => {
  it("builds a 300-entry tree, names its tiles, and verifies a tlog-proof offline", async () => {
    const entries = Array.from({ length: 300 }, (_, i) => utf8(`entry ${i}`));
    const stored: Hash[] = [];
    const reader: HashReader = { readHashes: (indexes) => indexes.map((i) => stored[i]!) };
    for (let n = 0; n < entries.length; n++) {
      const appended = await storedHashes(n, await leafHash(entries[n]!), reader);
      if (!appended.ok) throw new Error(appended.error);
      stored.push(...appended.value);
    }
    expect(newTiles(0, 300).map(formatTilePath)).toEqual(["tile/0/000", "tile/0/001.p/44", "tile/1/000.p/1"]);

    const root = await treeHash(300, reader);
    const proof = await inclusionProof(300, 257, reader);
    if (!root.ok || !proof.ok) throw new Error("no root or proof");
    const signer = await createSigner(new Uint8Array(32).fill(5));
    const checkpoint = await signNote(formatCheckpoint({ origin: "registry.test/log", size: 300, rootHash: root.value, extensions: [] }), await ed25519NoteSigner("registry.test/log", signer));
    const verifier = await ed25519NoteVerifier("registry.test/log", signer.publicKey);
    if (!checkpoint.ok || !verifier.ok) throw new Error("no checkpoint");
    const text = formatTlogProof({ index: 257, proof: proof.value, checkpoint: checkpoint.value });
    const key = { origin: "registry.test/log", verifier: verifier.value };
    expect(await verifyTlogProof(text, entries[257]!, key)).toMatchObject({ ok: true, value: { index: 257 } });
    expect((await verifyTlogProof(text, entries[258]!, key)).ok).toBe(false);
  });
});
