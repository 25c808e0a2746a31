/**
 * The witness's one job: never cosign two views of a log. A fork of the size it cosigned, a
 * bigger tree that does not extend it, or a proof that does not verify are refused (409 for the
 * same size with another root, 422 otherwise, as c2sp.org/tlog-witness says), and the stored
 * checkpoint stays what it was; the honest log then goes on as if nothing happened.
 */

import { describe, expect, it } from "vitest";
import { EMPTY_ROOT, formatCheckpoint, signNote, toBase64, type Hash } from "../../src/core/index.js";
import { addBody, checkpointNote, growBody, logOf, logSigner, MemoryLog, post, REGISTRY_ORIGIN, stored } from "./helpers.js";

async function expectRefused(body: string, status: number, origin = REGISTRY_ORIGIN) {
  const before = await stored(origin);
  const response = await post(body);
  const text = await response.text();
  expect({ status: response.status, text }).toMatchObject({ status });
  expect(response.headers.get("content-type")).toBe("text/plain; charset=utf-8");
  expect(await stored(origin)).toEqual(before);
  return text;
}

describe("inconsistent checkpoints", () => {
  it("refuses forks and non-extensions with the stored state unchanged, then lets the honest log go on", async () => {
    const honest = await logOf(400);
    // Shares entries 0..2 with the honest log, then differs: a split view from index 3 on.
    const fork = await new MemoryLog().grow(3).then((log) => log.grow(397, "fork"));
    expect((await post(await growBody(REGISTRY_ORIGIN, honest, 0, 5))).status).toBe(200);

    // Same size, another root: the spec's 409, but not text/x.tlog.size (no old size can fix it).
    const sameSize = await expectRefused(addBody(5, [], await checkpointNote(REGISTRY_ORIGIN, fork, 5)), 409);
    expect(sameSize).toBe("checkpoint has the size of the latest cosigned one (5) but a different root hash\n");

    // A larger forked tree, with its own (valid for it) proof, or with the honest log's proof.
    expect(await expectRefused(await growBody(REGISTRY_ORIGIN, fork, 5, 300), 422)).toMatch(/^consistency proof does not verify: /);
    await expectRefused(addBody(5, await honest.proof(5, 300), await checkpointNote(REGISTRY_ORIGIN, fork, 300)), 422);
    // The honest checkpoint with the fork's proof.
    await expectRefused(addBody(5, await fork.proof(5, 300), await checkpointNote(REGISTRY_ORIGIN, honest, 300)), 422);

    // The honest log moves on.
    expect((await post(await growBody(REGISTRY_ORIGIN, honest, 5, 300))).status).toBe(200);
    expect(await stored(REGISTRY_ORIGIN)).toEqual({ size: 300, root: toBase64(await honest.root(300)) });

    // A larger tree that does not extend 300: shares 299 entries, then differs.
    const late = await new MemoryLog().grow(299).then((log) => log.grow(101, "late"));
    await expectRefused(await growBody(REGISTRY_ORIGIN, late, 300, 400), 422);
    await expectRefused(addBody(300, await honest.proof(300, 400), await checkpointNote(REGISTRY_ORIGIN, late, 400)), 422);
    await expectRefused(addBody(300, [], await checkpointNote(REGISTRY_ORIGIN, fork, 300)), 409);

    // The right checkpoint with a damaged proof: a flipped bit, a line short, a line too many, reordered.
    const proof = await honest.proof(300, 400);
    const note = await checkpointNote(REGISTRY_ORIGIN, honest, 400);
    const flipped = proof.map((hash, i) => (i === 1 ? Uint8Array.from(hash, (b, j) => (j === 0 ? b ^ 1 : b)) : hash));
    const broken: Hash[][] = [flipped, proof.slice(1), proof.slice(0, -1), [...proof, proof[0]!], [...proof].reverse(), []];
    for (const bad of broken) await expectRefused(addBody(300, bad, note), 422);
    // A proof where none belongs: same size.
    await expectRefused(addBody(300, [proof[0]!], await checkpointNote(REGISTRY_ORIGIN, honest, 300)), 422);

    expect(await stored(REGISTRY_ORIGIN)).toEqual({ size: 300, root: toBase64(await honest.root(300)) });
    expect((await post(addBody(300, proof, note))).status).toBe(200);
    expect(await stored(REGISTRY_ORIGIN)).toEqual({ size: 400, root: toBase64(await honest.root(400)) });
  });

  it("from a log never cosigned: no proof may be sent, and size 0 must be the empty tree", async () => {
    const tree = await logOf(3);
    await expectRefused(addBody(0, [await tree.root(1)], await checkpointNote("a.test/log", tree)), 422, "a.test/log");
    const bogusEmpty = await signNote(formatCheckpoint({ origin: "a.test/log", size: 0, rootHash: await tree.root(3), extensions: [] }), await logSigner("a.test/log"));
    if (!bogusEmpty.ok) throw new Error("signing failed");
    // Old size 0 = checkpoint size 0, and the root is not SHA-256(""): a second root for size 0.
    await expectRefused(addBody(0, [], bogusEmpty.value), 409, "a.test/log");
    expect(await stored("a.test/log")).toBeUndefined();
    const empty = await signNote(formatCheckpoint({ origin: "a.test/log", size: 0, rootHash: EMPTY_ROOT, extensions: [] }), await logSigner("a.test/log"));
    if (!empty.ok) throw new Error("signing failed");
    expect((await post(addBody(0, [], empty.value))).status).toBe(200);
    expect((await post(await growBody("a.test/log", tree, 0))).status).toBe(200);
  });
});
