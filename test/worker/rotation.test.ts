/**
 * Registry key rotation in the Worker's storage (PROTOCOL §21; the whole flow, with both keys
 * configured, is test/e2e/key-rotation.test.ts): a rotation is committed only from the key that
 * signs now, once, at the next sequence number; a countersignature by a key a committed rotation
 * retired is never committed; a registry whose configured key was rotated away refuses to sign,
 * naming the keys, instead of signing with it.
 */

import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createSigner, fromBase64, generateKeyPair, keyPairFromSeed, signRotation, type Signer } from "../../src/core/index.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import { newPublisher, type Publisher } from "../helpers/publisher.js";
import { admin, enrol, errorOf, ORIGIN, publishParts, SIGNING_KEY } from "./helpers.js";
import { signedParts } from "../helpers/publisher.js";
import { utf8 } from "../../src/core/index.js";

let registry: Signer;
let alice: Publisher;
let token: string;

beforeAll(async () => {
  registry = await createSigner(await keyPairFromSeed(fromBase64(SIGNING_KEY)!));
  alice = await newPublisher();
  token = await enrol("@rot", alice);
});

describe("key rotation in storage", () => {
  it("without REGISTRY_NEXT_SIGNING_KEY, admin rotate refuses and changes nothing", async () => {
    expect(await errorOf(await admin("POST", "/rotate"))).toMatchObject({ status: 400, code: "no_next_key" });
    expect(await d1MetaStore(env.DB).rotations()).toEqual([]);
  });

  it("commits a rotation only from the current key, once, at the next number; then refuses what the old key countersigns", async () => {
    const res = await publishParts("@rot/a", "1.0.0", await signedParts(alice, "@rot/a", "1.0.0", utf8("a")), token);
    expect(res.status).toBe(201);
    const published = (await res.json()) as { sequence: number };
    const meta = d1MetaStore(env.DB);
    const next = await createSigner(await generateKeyPair());
    const last = await meta.lastSequence();
    expect(last).toBe(published.sequence + 1); // the version, then its package's metadata record
    const rotation = (sequence: number, from = registry, to = next) => signRotation({ origin: ORIGIN, sequence, at: "2026-11-26T12:00:00.000Z" }, from, to);
    const row = async (sequence: number, from = registry, to = next) => ({ sequence, from: from.keyid, to: to.keyid, envelope: JSON.stringify(await rotation(sequence, from, to)), createdAt: "2026-11-26T12:00:00.000Z" });

    expect(await meta.commitRotation(await row(last))).toBe("sequence_taken");
    const stranger = await createSigner(await generateKeyPair());
    expect(await meta.commitRotation(await row(last + 1, next, stranger))).toBe("committed"); // no rotation yet: any key may be first
    // From here on the head is `stranger`: the registry's own key is no longer current.
    expect(await meta.commitRotation(await row(last + 2))).toBe("not_current");
    expect(await meta.commitRotation(await row(last + 2, next, registry))).toBe("not_current"); // `next` was rotated away already
    expect(await meta.rotations()).toMatchObject([{ sequence: last + 1, from: next.keyid, to: stranger.keyid }]);

    // A version countersigned by a retired key is never committed.
    const stored = (await meta.getVersion("@rot/a", "1.0.0"))!;
    const retiredBundle = JSON.stringify({ ...JSON.parse(stored.bundle), countersignature: { ...JSON.parse(stored.bundle).countersignature, signatures: [{ keyid: next.keyid, sig: "x" }] } });
    expect(await meta.commitVersion({ ...stored, version: "2.0.0", sequence: last + 2, bundle: retiredBundle }, null)).toBe("key_retired");
    expect(await meta.getVersion("@rot/a", "2.0.0")).toBeNull();
  });

  it("a registry whose configured key is not the head of its logged rotations refuses to sign, naming the keys", async () => {
    const res = await publishParts("@rot/a", "1.1.0", await signedParts(alice, "@rot/a", "1.1.0", utf8("a 1.1")), token);
    const error = await errorOf(res);
    expect(error).toMatchObject({ status: 500, code: "misconfigured" });
    expect(error.message).toContain(registry.keyid);
    expect(error.message).toContain("REGISTRY_SIGNING_KEY");
  });
});
