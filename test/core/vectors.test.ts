/**
 * docs/PROTOCOL.md's test vectors: regenerated from fixed inputs and compared with the committed
 * docs/vectors.json, checked with an independent Ed25519 implementation (node:crypto), and
 * required to appear verbatim in the document.
 */

import { createPublicKey, verify as nodeVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromBase64, openIdentity, pae, verifyBundle, type Envelope } from "../../src/core/index.js";
import { ROOT } from "../helpers/paths.js";
import { computeVectors, type Vectors } from "../helpers/vectors.js";

const committed = JSON.parse(readFileSync(join(ROOT, "docs", "vectors.json"), "utf8")) as Vectors;
const protocol = readFileSync(join(ROOT, "docs", "PROTOCOL.md"), "utf8");

/** Verifies a DSSE envelope with Node's own Ed25519 (OpenSSL), not our code. */
function nodeVerifies(envelope: Envelope, publicKeyB64: string): boolean {
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKeyB64, "base64").toString("base64url") }, format: "jwk" });
  return nodeVerify(null, pae(envelope.payloadType, fromBase64(envelope.payload)!), key, Buffer.from(envelope.signatures[0]!.sig, "base64"));
}

describe("protocol test vectors", () => {
  it("are reproduced exactly by the code", async () => {
    expect(JSON.parse(JSON.stringify(await computeVectors()))).toEqual(committed);
  });

  it("verify with an independent Ed25519 implementation", () => {
    expect(nodeVerifies(committed.publishEnvelope, committed.keys.publisher.publicKey)).toBe(true);
    expect(nodeVerifies(committed.bundle.countersignature, committed.keys.registry.publicKey)).toBe(true);
    expect(nodeVerifies(committed.identity, committed.keys.registry.publicKey)).toBe(true);
  });

  it("the bundle verifies against the registry fingerprint, and the identity document against its pin", async () => {
    const result = await verifyBundle({ name: "@acme/hello", version: "1.0.0", artifact: { sha512: committed.artifact.sha512, sha256: committed.artifact.sha256, size: committed.artifact.size }, bundle: committed.bundle, pinned: [committed.keys.registry.fingerprint] });
    expect(result.ok).toBe(true);
    expect((await openIdentity(committed.identity, [committed.keys.registry.fingerprint])).ok).toBe(true);
  });

  it("appear verbatim in docs/PROTOCOL.md", () => {
    const expected = [
      committed.keys.publisher.fingerprint,
      committed.keys.registry.fingerprint,
      committed.keys.registry.ssh,
      committed.keys.registry.publicKey,
      committed.pae.hex,
      committed.artifact.sha512,
      committed.artifact.integrity,
      committed.publishStatement,
      committed.publishEnvelope.signatures[0]!.sig,
      committed.countersignStatement,
      committed.bundle.countersignature.signatures[0]!.sig,
      committed.identity.signatures[0]!.sig,
    ];
    for (const value of expected) expect(protocol, value.slice(0, 60)).toContain(value);
  });
});
