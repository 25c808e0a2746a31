import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkPublicKey, fingerprint, fromBase64, fromHex, isFingerprint, keyPairFromSeed, parsePublicKey, shortFingerprint, sshPublicKeyLine, toBase64 } from "../../src/core/index.js";

// `ssh-keygen -l -E sha256 -f key.pub` on the OpenSSH line of RFC 8032 test key 1 prints this.
const RFC8032_KEY1 = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")!;
const RFC8032_KEY1_SSH = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAINdamAGCsQq31Uv+08lkBzoO4XLz2qYjJa8CGmj3B1Ea";
const RFC8032_KEY1_FINGERPRINT = "SHA256:bbXpuKG6zhzdmnxq256TlqzFBzRl2f6OOg722cYNbU8";

describe("fingerprints", () => {
  it("are OpenSSH's SHA256 fingerprint of the key (checked with ssh-keygen)", async () => {
    expect(sshPublicKeyLine(RFC8032_KEY1)).toBe(RFC8032_KEY1_SSH);
    expect(await fingerprint(RFC8032_KEY1)).toBe(RFC8032_KEY1_FINGERPRINT);
  });

  it("are full length and prefixed; the short form is for display only", async () => {
    const fp = await fingerprint(RFC8032_KEY1);
    expect(fp).toHaveLength(50);
    expect(isFingerprint(fp)).toBe(true);
    expect(isFingerprint(shortFingerprint(fp))).toBe(false);
    for (const bad of ["", "sha256:bbXpuKG6zhzdmnxq256TlqzFBzRl2f6OOg722cYNbU8", fp.slice(0, -1), `${fp}=`, fp.replace("SHA256:", "SHA512:"), ` ${fp}`]) {
      expect(isFingerprint(bad), bad).toBe(false);
    }
  });

  it("differ for every single-bit change of the key", async () => {
    const fp = await fingerprint(RFC8032_KEY1);
    for (let bit = 0; bit < 256; bit += 7) {
      const changed = Uint8Array.from(RFC8032_KEY1);
      changed[bit >> 3]! ^= 1 << (bit & 7);
      expect(await fingerprint(changed)).not.toBe(fp);
    }
  });
});

describe("public key acceptance", () => {
  it("accepts honestly generated keys", async () => {
    const pair = await keyPairFromSeed(new Uint8Array(32).fill(7));
    expect(checkPublicKey(pair.publicKey)).toBeUndefined();
    expect(parsePublicKey(toBase64(pair.publicKey))).toEqual({ key: pair.publicKey });
  });

  it.each([
    ["wrong length", new Uint8Array(31), "length"],
    ["the identity point", Uint8Array.of(1, ...new Uint8Array(31)), "small-order"],
    ["y ≥ p (non-canonical)", Uint8Array.of(0xee, ...new Uint8Array(30).fill(0xff), 0x7f), "encoding"],
    ["not on the curve", Uint8Array.of(2, ...new Uint8Array(31)), "encoding"],
    ["a torsion component", fromBase64("lZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZk=")!, "torsion"],
  ])("rejects %s", (_label, key, problem) => {
    expect(checkPublicKey(key)).toBe(problem);
  });

  it("rejects non-canonical base64 of a good key", async () => {
    const pair = await keyPairFromSeed(new Uint8Array(32).fill(7));
    const b64 = toBase64(pair.publicKey);
    expect(parsePublicKey(b64.replace("=", ""))).toEqual({ problem: "encoding" });
    expect(parsePublicKey(` ${b64}`)).toEqual({ problem: "encoding" });
  });
});

describe("key derivation", () => {
  it("the native (WebCrypto) public key of a seed is noble's, for any seed", async () => {
    const { getPublicKeyAsync } = await import("@noble/ed25519");
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), async (seed) => {
        expect(toBase64((await keyPairFromSeed(seed)).publicKey)).toBe(toBase64(await getPublicKeyAsync(seed)));
      }),
      { numRuns: 200 },
    );
  });
});
