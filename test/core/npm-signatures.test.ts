/**
 * npm registry signatures (src/core/npm-signatures.ts) checked against npm's own rules: the keyid
 * of registry.npmjs.org's published keys, and signatures verified exactly as pacote verifies them
 * (node:crypto `createVerify("SHA256")`, the key wrapped in PEM armour as npm wraps it).
 */

import { createVerify, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { createNpmSigner, derFromP1363, generateNpmSigningKey, npmKeyid, npmKeySshLine, npmSignatureMessage, p1363FromDer, verifyNpmSignature } from "../../src/core/index.js";

// https://registry.npmjs.org/-/npm/v1/keys (the same list pnpm 12 mirrors in get-pnpm/lib/npmSigningKeys.js).
const NPMJS_KEYS = [
  { keyid: "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U", key: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY6Ya7W++7aUPzvMTrezH6Ycx3c+HOKYCcNGybJZSCJq/fd7Qa8uuAKtdIkUQtQiEKERhAmE5lMMJhP8OkDOa2g==" },
  { keyid: "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", key: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==" },
];

/** pacote/lib/registry.js, verbatim in substance. */
function npmVerifies(key: string, sig: string, message: string): boolean {
  const verifier = createVerify("SHA256");
  verifier.write(message);
  verifier.end();
  return verifier.verify(`-----BEGIN PUBLIC KEY-----\n${key}\n-----END PUBLIC KEY-----`, sig, "base64");
}

const INTEGRITY = "sha512-z4PhNX7vuL3xVChQ1m2AB9Yg5AULVxXcg/SpIdNs6c5H0NE8XYXysP+DGNKHfuwvY7kxvUdBeoGlODJ6+SfaPg==";

describe("npm registry signatures", () => {
  it("keyids are the OpenSSH SHA-256 fingerprint, as npm's registry names its own keys", async () => {
    for (const { keyid, key } of NPMJS_KEYS) expect(await npmKeyid(Buffer.from(key, "base64"))).toBe(keyid);
    expect(npmKeySshLine(Buffer.from(NPMJS_KEYS[0]!.key, "base64"))).toMatch(/^ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABB/);
  });

  it("the vector of docs/PROTOCOL.md §11 (the worker tests' key, vitest.config.ts): keyid, and a signature both verifiers accept", async () => {
    const vector = {
      key: "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAENMAeo1HqDmsgUOBub/05WQ7Xuc/KSHzaDlGqWFhViHbUcIjBDqNy7wPM8n+mRCynxnVTMqMi8L2MyjjceVvtkg==",
      keyid: "SHA256:ARlBvVQP2hn3G1IkztCoXnylSlmvba+OqYCrUIGyQc0",
      sig: "MEUCIQCCblgtaHEj06SDmtBYsTl6HtqEH2fE6aV4TTWBb6rSTAIgUSsQRIDX/e8INZk4bAHBbZ5IOjwKqjprbE1X/QW5hUk=",
    };
    expect(await npmKeyid(Buffer.from(vector.key, "base64"))).toBe(vector.keyid);
    expect(npmVerifies(vector.key, vector.sig, `@acme/hello@1.0.0:${INTEGRITY}`)).toBe(true);
    expect(await verifyNpmSignature(vector.key, { keyid: vector.keyid, sig: vector.sig }, "@acme/hello", "1.0.0", INTEGRITY)).toBe(true);
    const { TEST_NPM_SIGNING_KEY } = await import("../../vitest.config.js");
    expect((await createNpmSigner(TEST_NPM_SIGNING_KEY)).registryKey).toEqual({ expires: null, keyid: vector.keyid, keytype: "ecdsa-sha2-nistp256", scheme: "ecdsa-sha2-nistp256", key: vector.key });
  });

  it("signs name@version:integrity so that npm's own check (node:crypto, DER) accepts it, and nothing else", async () => {
    const { secret, keyid, key } = await generateNpmSigningKey();
    const signer = await createNpmSigner(secret);
    expect(signer.keyid).toBe(keyid);
    expect(signer.key).toBe(key);
    expect(signer.registryKey).toEqual({ expires: null, keyid, keytype: "ecdsa-sha2-nistp256", scheme: "ecdsa-sha2-nistp256", key });
    for (let i = 0; i < 20; i++) {
      const signature = await signer.sign("@acme/hello", `1.0.${i}`, INTEGRITY);
      expect(signature.keyid).toBe(keyid);
      expect(npmVerifies(key, signature.sig, `@acme/hello@1.0.${i}:${INTEGRITY}`)).toBe(true);
      expect(await verifyNpmSignature(key, signature, "@acme/hello", `1.0.${i}`, INTEGRITY)).toBe(true);
      expect(npmVerifies(key, signature.sig, `@acme/hello@1.0.${i + 1}:${INTEGRITY}`)).toBe(false);
      expect(await verifyNpmSignature(key, signature, "@acme/evil", `1.0.${i}`, INTEGRITY)).toBe(false);
    }
    const other = await generateNpmSigningKey();
    const signature = await signer.sign("left-pad", "1.3.0", INTEGRITY);
    expect(npmVerifies(other.key, signature.sig, npmSignatureMessage("left-pad", "1.3.0", INTEGRITY))).toBe(false);
  });

  it("DER and P1363 convert both ways, minimal encodings only", () => {
    const cases = [new Uint8Array(64).fill(0x7f), new Uint8Array(64).fill(0x80), Uint8Array.from({ length: 64 }, (_, i) => (i < 3 || (i >= 32 && i < 34) ? 0 : i))];
    for (const raw of cases) {
      const der = derFromP1363(raw);
      expect(p1363FromDer(der)).toEqual(raw);
    }
    expect(derFromP1363(new Uint8Array(64).fill(0x80))[3]).toBe(33); // a leading 0x00 keeps r positive
    expect(p1363FromDer(Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01))).toEqual(Uint8Array.from({ length: 64 }, (_, i) => (i === 63 ? 1 : 0)));
    expect(p1363FromDer(Uint8Array.of(0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01))).toBeUndefined(); // non-minimal
    expect(p1363FromDer(Uint8Array.of(0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01))).toBeUndefined(); // negative
  });

  it("node's own ECDSA keys (PKCS#8 from node:crypto) are accepted too, and anything else is refused without echoing it", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
    const signer = await createNpmSigner(privateKey.export({ format: "der", type: "pkcs8" }).toString("base64"));
    expect(signer.key).toBe(publicKey.export({ format: "der", type: "spki" }).toString("base64"));
    const p384 = generateKeyPairSync("ec", { namedCurve: "P-384" }).privateKey.export({ format: "der", type: "pkcs8" }).toString("base64");
    for (const bad of ["", "not base64!", "c2hvcnQ=", p384, Buffer.alloc(138, 1).toString("base64")]) {
      const error = await createNpmSigner(bad).then(() => null, (e: Error) => e);
      expect(error).toBeInstanceOf(RangeError);
      if (bad) expect(error!.message).not.toContain(bad);
    }
  });
});
