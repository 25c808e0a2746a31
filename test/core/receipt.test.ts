/**
 * Who may sign a receipt (docs/PROTOCOL.md §17): the machine's own receipt key, or a key whose
 * fingerprint the pins list under `receipts.signers`; the receipt carries its signer's public key,
 * and a signer is trusted only through its fingerprint.
 */

import { describe, expect, it } from "vitest";
import { createSigner, generateKeyPair, openTrustedReceipt, parsePins, RECEIPT_TYPE, signReceipt, toBase64, utf8, type KeyPair, type Receipt } from "../../src/core/index.js";

const base = { type: RECEIPT_TYPE as typeof RECEIPT_TYPE, createdAt: "2026-11-24T00:00:00.000Z", lockfiles: [{ path: "package-lock.json", sha256: "a".repeat(64) }], namespaces: ["@acme"], packages: [] };
const signedBy = (key: KeyPair): Receipt => ({ ...base, signer: { keyid: key.keyid, publicKey: toBase64(key.publicKey) } });
const own = (key: KeyPair) => ({ keyid: key.keyid, publicKey: key.publicKey });

describe("receipt signers", () => {
  it("a receipt signed by a CI key opens on a machine that pins its fingerprint, and only there", async () => {
    const ci = await generateKeyPair();
    const machine = await generateKeyPair();
    const envelope = await signReceipt(signedBy(ci), await createSigner(ci));
    expect(await openTrustedReceipt(envelope, { own: own(machine), signers: [ci.keyid] })).toEqual({ ok: true, value: signedBy(ci) });
    expect(await openTrustedReceipt(envelope, { signers: [ci.keyid] })).toMatchObject({ ok: true });
    const unpinned = await openTrustedReceipt(envelope, { own: own(machine), signers: [] });
    expect(unpinned).toEqual({ ok: false, error: `receipt is signed by ${ci.keyid}, which is neither this machine's receipt key ${machine.keyid} nor a signer listed in countersign.json receipts.signers` });
  });

  it("the machine's own key needs no pin, and old receipts without a signer field open under it only", async () => {
    const machine = await generateKeyPair();
    const old = await signReceipt(base, await createSigner(machine));
    expect(await openTrustedReceipt(old, { own: own(machine), signers: [] })).toEqual({ ok: true, value: base });
    const pinnedOnly = await openTrustedReceipt(old, { signers: [machine.keyid] });
    expect(pinnedOnly).toEqual({ ok: false, error: `receipt is signed by ${machine.keyid} but does not carry the signer's public key` });
  });

  it("a pinned fingerprint cannot be paired with another key, a forged signature or a lying signer field", async () => {
    const ci = await generateKeyPair();
    const attacker = await generateKeyPair();
    // The attacker signs with their key but names the pinned keyid and carries their own public key.
    const forged = await signReceipt({ ...base, signer: { keyid: ci.keyid, publicKey: toBase64(attacker.publicKey) } }, { ...(await createSigner(attacker)), keyid: ci.keyid });
    expect(await openTrustedReceipt(forged, { signers: [ci.keyid] })).toEqual({ ok: false, error: `receipt: the signer public key it carries is not the key ${ci.keyid}` });
    // The right public key, the wrong signature.
    const genuine = await signReceipt(signedBy(ci), await createSigner(ci));
    const payload = toBase64(utf8(JSON.stringify({ ...signedBy(ci), namespaces: [] })));
    expect(await openTrustedReceipt({ ...genuine, payload }, { signers: [ci.keyid] })).toEqual({ ok: false, error: "receipt: signature does not verify" });
    // Signed by the machine's own key, but claiming to be the CI key's.
    const machine = await generateKeyPair();
    const lying = await signReceipt(signedBy(ci), await createSigner(machine));
    expect(await openTrustedReceipt(lying, { own: own(machine), signers: [] })).toEqual({ ok: false, error: "receipt: its signer field names another key than the one that signed it" });
  });

  it("pins may list receipt signers, as full fingerprints", async () => {
    const ci = await generateKeyPair();
    const pins = { version: 1, registries: {}, namespaces: {}, receipts: { signers: [ci.keyid] } };
    expect(parsePins(pins)).toMatchObject({ ok: true, value: { receipts: { signers: [ci.keyid] } } });
    expect(parsePins({ ...pins, receipts: { signers: [ci.keyid.slice(0, 20)] } }).ok).toBe(false);
    expect(parsePins({ ...pins, receipts: { signer: [ci.keyid] } }).ok).toBe(false);
  });
});
