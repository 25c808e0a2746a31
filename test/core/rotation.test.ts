/**
 * Registry key rotation (src/core/rotation.ts, PROTOCOL §21): a rotation opens only with both
 * keys' signatures, in order; any changed byte fails; the key chain follows rotations that touch
 * a pinned key in either direction and no other, refuses a forked history, and gives each key the
 * sequence numbers it may countersign; an identity document is opened through the chain.
 */
import { describe, expect, it } from "vitest";
import {
  countersignRefusal,
  createSigner,
  currentKeys,
  followRotations,
  generateKeyPair,
  openIdentityFollowing,
  openRotation,
  parseLogEntry,
  rootOf,
  signIdentity,
  signRotation,
  type Envelope,
  type KeyRotation,
} from "../../src/core/index.js";
import { fromBase64 } from "../../src/core/index.js";
import { expectAnyChangedByteFails } from "../helpers/tamper.js";

const ORIGIN = "https://npm.acme.dev";
const [k0, k1, k2, evil] = await Promise.all([0, 1, 2, 3].map(async () => createSigner(await generateKeyPair())));
const at = "2026-11-26T12:00:00.000Z";

async function opened(envelope: Envelope): Promise<KeyRotation> {
  const result = await openRotation(envelope);
  if (!result.ok) throw new Error(result.error);
  return result.value;
}

const r01 = await opened(await signRotation({ origin: ORIGIN, sequence: 10, at }, k0!, k1!));
const r12 = await opened(await signRotation({ origin: ORIGIN, sequence: 20, at }, k1!, k2!));

describe("key rotation statements", () => {
  it("open with both keys' signatures, old then new, and parse as a log entry at their index only", async () => {
    const envelope = await signRotation({ origin: ORIGIN, sequence: 10, at }, k0!, k1!);
    expect(envelope.signatures.map((s) => s.keyid)).toEqual([k0!.keyid, k1!.keyid]);
    expect(await openRotation(envelope)).toMatchObject({ ok: true, value: { from: { keyid: k0!.keyid }, to: { keyid: k1!.keyid }, sequence: 10 } });
    const payload = fromBase64(envelope.payload)!;
    expect(parseLogEntry(payload, 10)).toMatchObject({ ok: true, value: { kind: "rotation", rotation: { sequence: 10 } } });
    expect(parseLogEntry(payload, 11).ok).toBe(false);
  });

  it("refuses one signature, swapped or foreign signatures, and a rotation to the same key", async () => {
    const envelope = await signRotation({ origin: ORIGIN, sequence: 10, at }, k0!, k1!);
    const [old, next] = envelope.signatures as [Envelope["signatures"][0], Envelope["signatures"][0]];
    const cases: [string, unknown][] = [
      ["only the new key", { ...envelope, signatures: [next] }],
      ["only the old key", { ...envelope, signatures: [old] }],
      ["swapped order", { ...envelope, signatures: [next, old] }],
      ["the new key twice", { ...envelope, signatures: [next, next] }],
      ["a third signature", { ...envelope, signatures: [old, next, next] }],
      ["another payload type", { ...envelope, payloadType: "application/vnd.in-toto+json" }],
      ["an extra field", { ...envelope, note: "x" }],
    ];
    for (const [what, value] of cases) expect((await openRotation(value)).ok, what).toBe(false);
    // Signed by a stranger in place of the old key: the old key's signature does not verify.
    const forged = await signRotation({ origin: ORIGIN, sequence: 10, at }, evil!, k1!);
    expect((await openRotation({ ...envelope, signatures: [{ keyid: k0!.keyid, sig: forged.signatures[0]!.sig }, next] })).ok).toBe(false);
    expect((await openRotation(await signRotation({ origin: ORIGIN, sequence: 10, at }, k0!, k0!))).ok).toBe(false);
  });

  it("any changed payload or old-key signature byte fails", async () => {
    const envelope = await signRotation({ origin: ORIGIN, sequence: 10, at }, k0!, k1!);
    await expectAnyChangedByteFails(envelope, (changed) => openRotation({ ...changed, signatures: [changed.signatures[0]!, envelope.signatures[1]!] }));
  });
});

describe("the key chain", () => {
  it("follows rotations forward from a pinned key and gives each key its sequence numbers", () => {
    const chain = followRotations({ fingerprints: [k0!.keyid] }, [r12, r01]);
    if (!chain.ok) throw new Error(chain.error);
    expect([...chain.value.keys.keys()].sort()).toEqual([k0!.keyid, k1!.keyid, k2!.keyid].sort());
    expect(chain.value.rotations.map((r) => r.sequence)).toEqual([10, 20]);
    expect(currentKeys(chain.value)).toEqual([k2!.keyid]);
    expect(chain.value.root).toBe(k0!.keyid);
    expect(rootOf(chain.value, k2!.keyid)).toBe(k0!.keyid);
    expect(countersignRefusal(chain.value, k0!.keyid, 9)).toBeUndefined();
    expect(countersignRefusal(chain.value, k0!.keyid, 10)).toContain("rotated out at log index 10");
    expect(countersignRefusal(chain.value, k1!.keyid, 10)).toContain("became the registry's key at log index 10");
    expect(countersignRefusal(chain.value, k1!.keyid, 15)).toBeUndefined();
    expect(countersignRefusal(chain.value, k1!.keyid, 21)).toContain("rotated out at log index 20");
    expect(countersignRefusal(chain.value, k2!.keyid, 21)).toBeUndefined();
    expect(countersignRefusal(chain.value, evil!.keyid, 21)).toContain("not a key of this registry");
  });

  it("follows backward from a pinned new key, so versions by the old key before the rotation verify", () => {
    const chain = followRotations({ fingerprints: [k1!.keyid] }, [r01]);
    if (!chain.ok) throw new Error(chain.error);
    expect(countersignRefusal(chain.value, k0!.keyid, 5)).toBeUndefined();
    expect(countersignRefusal(chain.value, k0!.keyid, 11)).toBeDefined();
    expect(currentKeys(chain.value)).toEqual([k1!.keyid]);
  });

  it("pins' retired keys count below their rotation only; rotations not touching the pins are ignored", async () => {
    const chain = followRotations({ fingerprints: [k1!.keyid], retired: [{ fingerprint: k0!.keyid, until: 10 }] }, []);
    if (!chain.ok) throw new Error(chain.error);
    expect(countersignRefusal(chain.value, k0!.keyid, 9)).toBeUndefined();
    expect(countersignRefusal(chain.value, k0!.keyid, 10)).toBeDefined();
    const stranger = await opened(await signRotation({ origin: ORIGIN, sequence: 30, at }, evil!, k2!));
    const unrelated = followRotations({ fingerprints: [k0!.keyid] }, [stranger]);
    expect(unrelated.ok && [...unrelated.value.keys.keys()]).toEqual([k0!.keyid]);
  });

  it("refuses a forked history: two rotations away from one key, or to one key", async () => {
    const fork = await opened(await signRotation({ origin: ORIGIN, sequence: 15, at }, k0!, evil!));
    expect(followRotations({ fingerprints: [k0!.keyid] }, [r01, fork])).toMatchObject({ ok: false, error: expect.stringContaining("forks") });
    const into = await opened(await signRotation({ origin: ORIGIN, sequence: 25, at }, evil!, k1!));
    expect(followRotations({ fingerprints: [k1!.keyid] }, [r01, into])).toMatchObject({ ok: false, error: expect.stringContaining("forks") });
  });
});

describe("a rotation that declares the old key compromised", () => {
  it("voids the old key's countersignatures from compromisedSince on, keeps its checkpoints up to the rotation", async () => {
    const rotation = await opened(await signRotation({ origin: ORIGIN, sequence: 10, at, compromisedSince: 7 }, k0!, k1!));
    const chain = followRotations({ fingerprints: [k0!.keyid] }, [rotation]);
    if (!chain.ok) throw new Error(chain.error);
    expect(countersignRefusal(chain.value, k0!.keyid, 6)).toBeUndefined();
    expect(countersignRefusal(chain.value, k0!.keyid, 7)).toContain("declared compromised from log index 7");
    expect(chain.value.keys.get(k0!.keyid)).toMatchObject({ until: 10, compromisedSince: 7 });
    // Pins that kept it say the same offline.
    const pinned = followRotations({ fingerprints: [k1!.keyid], retired: [{ fingerprint: k0!.keyid, until: 10, compromisedSince: 7 }] }, []);
    expect(pinned.ok && countersignRefusal(pinned.value, k0!.keyid, 8)).toContain("compromised");
  });

  it("refuses compromisedSince at or after the rotation itself", async () => {
    for (const since of [10, 11]) expect((await openRotation(await signRotation({ origin: ORIGIN, sequence: 10, at, compromisedSince: since }, k0!, k1!))).ok, String(since)).toBe(false);
  });
});

describe("identity documents across a rotation", () => {
  it("open for a consumer pinned to the old key when signed by the new key and listing the rotation; not without it", async () => {
    const rotation = await signRotation({ origin: ORIGIN, sequence: 10, at }, k0!, k1!);
    const document = await signIdentity({ name: "acme", origin: ORIGIN, namespaces: ["@acme"], retired: [{ keyid: k0!.keyid, publicKey: r01.from.publicKey, until: 10 }], rotations: [rotation] }, k1!);
    const followed = await openIdentityFollowing(document, { fingerprints: [k0!.keyid] });
    expect(followed).toMatchObject({ ok: true, value: { keyid: k1!.keyid } });
    const without = await signIdentity({ name: "acme", origin: ORIGIN, namespaces: ["@acme"] }, k1!);
    expect((await openIdentityFollowing(without, { fingerprints: [k0!.keyid] })).ok).toBe(false);
    // The retired key cannot sign the document any more, even for a consumer who pinned it.
    const byOld = await signIdentity({ name: "acme", origin: ORIGIN, namespaces: ["@acme"], rotations: [rotation] }, k0!);
    expect((await openIdentityFollowing(byOld, { fingerprints: [k0!.keyid] })).ok).toBe(false);
  });
});
