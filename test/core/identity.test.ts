/** The identity document across versions: a newer registry's extra fields do not lock older clients out. */
import { describe, expect, it } from "vitest";
import { createSigner, generateKeyPair, IDENTITY_PAYLOAD_TYPE, IDENTITY_TYPE, openIdentity, signEnvelope, utf8 } from "../../src/core/index.js";

describe("identity document", () => {
  it("ignores top-level fields it does not know, still checks every field it knows", async () => {
    const pair = await generateKeyPair();
    const signer = await createSigner(pair);
    const base = {
      type: IDENTITY_TYPE,
      name: "future",
      origin: "https://npm.example.com",
      keys: [{ keyid: pair.keyid, algorithm: "ed25519", publicKey: Buffer.from(pair.publicKey).toString("base64"), status: "active" }],
      namespaces: ["@acme"],
      issuedAt: "2026-11-26T00:00:00.000Z",
    };
    const future = await signEnvelope(IDENTITY_PAYLOAD_TYPE, utf8(JSON.stringify({ ...base, mirrors: [{ anything: 1 }] })), signer);
    const opened = await openIdentity(future, [pair.keyid]);
    expect(opened.ok && opened.value.document).toEqual(base);
    // A known field is still strict: a log entry with an unknown member is refused.
    const bad = await signEnvelope(IDENTITY_PAYLOAD_TYPE, utf8(JSON.stringify({ ...base, log: { url: "u", origin: "o", key: "k", extra: true } })), signer);
    expect((await openIdentity(bad, [pair.keyid])).ok).toBe(false);
  });
});
