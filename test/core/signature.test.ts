import * as ed from "@noble/ed25519";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bufferSource,
  checkPublicKey,
  concatBytes,
  createSigner,
  fromHex,
  keyPairFromSeed,
  sha256,
  statementSha256,
  toHex,
  useNativeCrypto,
  utf8,
  verifySignature,
  verifySignatureNoble,
  type NativeCrypto,
} from "../../src/core/index.js";
// Importing the CLI's module registers node:crypto; each suite below sets its own path explicitly.
import { nodeNativeCrypto } from "../../scripts/cli/native-ed25519.js";

const L = 2n ** 252n + 27742317777372353535851937790883648493n;
const P = 2n ** 255n - 19n;
const leToBig = (b: Uint8Array) => b.reduceRight((acc, byte) => (acc << 8n) | BigInt(byte), 0n);
const bigToLe = (n: bigint, len = 32) => Uint8Array.from({ length: len }, (_, i) => Number((n >> BigInt(8 * i)) & 0xffn));
const sha512 = async (...parts: Uint8Array[]) => new Uint8Array(await crypto.subtle.digest("SHA-512", bufferSource(concatBytes(...parts))));
const hex = (s: string) => fromHex(s)!;

// RFC 8032 §7.1, TESTS 1–3.
const RFC8032 = [
  {
    seed: "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    publicKey: "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    message: "",
    signature: "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
  },
  {
    seed: "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    publicKey: "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    message: "72",
    signature: "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
  },
  {
    seed: "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
    publicKey: "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
    message: "af82",
    signature: "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
  },
];

/** Both verifiers must give the same answer: the native fast path is an optimisation only. */
async function agree(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
  const [fast, noble] = await Promise.all([verifySignature(publicKey, message, signature), verifySignatureNoble(publicKey, message, signature)]);
  expect(fast).toBe(noble);
  return fast;
}

/** Wraps a native path to record what the core asks it: which keys, how many verifications. */
function observed(native: NativeCrypto) {
  const seen = { keys: [] as Uint8Array[], verifications: 0 };
  const wrapped: NativeCrypto = {
    ed25519(publicKey) {
      seen.keys.push(Uint8Array.from(publicKey));
      const verify = native.ed25519(publicKey);
      return (message, signature) => {
        seen.verifications++;
        return verify(message, signature);
      };
    },
    sha256Hex: (data) => native.sha256Hex(data),
  };
  return { seen, wrapped };
}

// Every agreement test runs through each native path the core can take: WebCrypto (workerd, and
// Node without a registration) and node:crypto (the CLI, scripts/cli/native-ed25519.ts).
describe.each([
  { path: "WebCrypto", native: undefined },
  { path: "node:crypto", native: nodeNativeCrypto },
])("Ed25519 through $path", ({ path, native }) => {
  const observation = native ? observed(native) : undefined;
  beforeAll(() => useNativeCrypto(observation?.wrapped));
  afterAll(() => {
    useNativeCrypto(undefined);
    if (!observation) return;
    // The rule of signature.ts: the native verifier is consulted, and only about vetted keys.
    expect(observation.seen.verifications, path).toBeGreaterThan(0);
    for (const key of observation.seen.keys) expect(checkPublicKey(key), toHex(key)).toBeUndefined();
  });

  describe("RFC 8032 vectors", () => {
    it.each(RFC8032)("derives, signs (natively) and verifies test vector %#", async (v) => {
      const pair = await keyPairFromSeed(hex(v.seed));
      expect(toHex(pair.publicKey)).toBe(v.publicKey);
      const signature = await (await createSigner(pair)).sign(hex(v.message));
      expect(toHex(signature)).toBe(v.signature);
      expect(toHex(await ed.signAsync(hex(v.message), pair.seed))).toBe(v.signature);
      expect(await agree(pair.publicKey, hex(v.message), signature)).toBe(true);
    });

    it.each(RFC8032)("rejects test vector %# with any other message", async (v) => {
      expect(await agree(hex(v.publicKey), utf8("another message"), hex(v.signature))).toBe(false);
    });
  });

  describe("strict verification: the native path accepts and rejects exactly what noble (zip215: false) does", () => {
    const v = RFC8032[1]!;
    const publicKey = hex(v.publicKey);
    const message = hex(v.message);
    const signature = hex(v.signature);

    it("rejects S + L (non-canonical S, accepted by lenient verifiers)", async () => {
      const s = leToBig(signature.subarray(32));
      const malleated = concatBytes(signature.subarray(0, 32), bigToLe(s + L));
      expect(await agree(publicKey, message, malleated)).toBe(false);
    });

    it("rejects S ≥ 2^253 and S = L exactly", async () => {
      expect(await agree(publicKey, message, concatBytes(signature.subarray(0, 32), bigToLe(L)))).toBe(false);
      expect(await agree(publicKey, message, concatBytes(signature.subarray(0, 32), bigToLe(2n ** 255n - 1n)))).toBe(false);
    });

    it("rejects non-canonical encodings of R that satisfy the equation once decoded", async () => {
      // R = identity, S = k·a with k = H(R‖A‖M): [S]B = R + [k]A holds for the decoded R, so only
      // the encoding decides. y = p + 1 and "x = 0 with the sign bit set" both decode to (0, 1).
      const e = await ed.utils.getExtendedPublicKeyAsync(hex(v.seed));
      for (const R of [bigToLe(P + 1n), bigToLe(1n | (1n << 255n))]) {
        const k = leToBig(await sha512(R, e.pointBytes, message)) % L;
        const crafted = concatBytes(R, bigToLe((k * e.scalar) % L));
        expect(await agree(e.pointBytes, message, crafted)).toBe(false);
      }
    });

    it("rejects the small-order key with the trivial signature (R = identity, S = 0) that verifies everything leniently", async () => {
      const identity = bigToLe(1n);
      const trivial = concatBytes(identity, new Uint8Array(32));
      expect(await agree(identity, utf8("any message at all"), trivial)).toBe(false);
    });

    it("rejects every small-order key, with the trivial signature and with a real one", async () => {
      // The eight points of order dividing 8, canonically encoded (noble's edge cases).
      const smallOrder = [
        "0100000000000000000000000000000000000000000000000000000000000000",
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
        "0000000000000000000000000000000000000000000000000000000000000080",
        "0000000000000000000000000000000000000000000000000000000000000000",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
        "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
        "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
      ];
      for (const key of smallOrder.map(hex)) {
        expect(checkPublicKey(key), toHex(key)).toBeDefined();
        expect(await agree(key, message, concatBytes(bigToLe(1n), new Uint8Array(32)))).toBe(false);
        expect(await agree(key, message, signature)).toBe(false);
      }
    });

    it("rejects a non-canonical public key encoding (y ≥ p)", async () => {
      const nonCanonical = bigToLe(P + 1n); // encodes y = 1 non-canonically
      expect(await agree(nonCanonical, message, signature)).toBe(false);
    });

    it("rejects keys with a torsion component even with an otherwise valid signature", async () => {
      const e = await ed.utils.getExtendedPublicKeyAsync(hex(v.seed));
      const order2 = ed.Point.fromBytes(bigToLe(2n ** 255n - 20n), false); // (0, -1)
      const torsioned = e.point.add(order2).toBytes();
      const sig = await ed.signAsync(message, hex(v.seed));
      expect(await agree(torsioned, message, sig)).toBe(false);
    });

    it("agrees with noble on a signature whose R carries torsion (cofactored accept, cofactorless reject)", async () => {
      // R' = rB + T with T of order 2, S = r + H(R'‖A‖M)·a: noble's cofactored equation accepts it,
      // OpenSSL's cofactorless check does not; the fast path must defer to noble and accept.
      const e = await ed.utils.getExtendedPublicKeyAsync(hex(v.seed));
      const order2 = ed.Point.fromBytes(bigToLe(2n ** 255n - 20n), false);
      const r = 123456789n;
      const R = ed.Point.BASE.multiply(r).add(order2).toBytes();
      const k = leToBig(await sha512(R, e.pointBytes, message)) % L;
      const S = (r + k * e.scalar) % L;
      const crafted = concatBytes(R, bigToLe(S));
      expect(await agree(e.pointBytes, message, crafted)).toBe(await ed.verifyAsync(crafted, message, e.pointBytes, { zip215: false }));
    });

    it("property: after any bit flip in key, message or signature, both verifiers give the same answer", async () => {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 64 }), fc.nat(), fc.constantFrom("key", "message", "signature", "none"), async (seed, msg, bit, where) => {
          const pair = await keyPairFromSeed(seed);
          const sig = await (await createSigner(pair)).sign(msg);
          const parts = { key: Uint8Array.from(pair.publicKey), message: Uint8Array.from(msg), signature: Uint8Array.from(sig) };
          if (where !== "none" && parts[where].length > 0) parts[where][(bit >> 3) % parts[where].length]! ^= 1 << (bit & 7);
          const ok = await agree(parts.key, parts.message, parts.signature);
          if (where === "none" || (where === "message" && msg.length === 0)) expect(ok).toBe(true);
          else expect(ok).toBe(false);
        }),
        { numRuns: 300 },
      );
    });

    it("rejects wrong lengths without throwing", async () => {
      expect(await verifySignature(new Uint8Array(31), message, signature)).toBe(false);
      expect(await verifySignature(publicKey, message, signature.subarray(1))).toBe(false);
    });
  });
});

describe("node:crypto on its own (the CLI's native verifier)", () => {
  const verify = (publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array) => {
    try {
      return nodeNativeCrypto.ed25519(publicKey)(message, signature);
    } catch {
      return false; // the core treats a throw as "not valid" and asks noble
    }
  };

  it("property: for a vetted key, a node:crypto 'valid' is always a noble strict 'valid' (the only answer the core trusts)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 64 }), fc.array(fc.nat(), { maxLength: 3 }), fc.constantFrom("message", "signature", "none"), async (seed, msg, bits, where) => {
        const pair = await keyPairFromSeed(seed);
        const parts = { message: Uint8Array.from(msg), signature: await ed.signAsync(msg, seed) };
        if (where !== "none" && parts[where].length > 0) for (const bit of bits) parts[where][(bit >> 3) % parts[where].length]! ^= 1 << (bit & 7);
        const noble = await ed.verifyAsync(parts.signature, parts.message, pair.publicKey, { zip215: false });
        if (verify(pair.publicKey, parts.message, parts.signature)) expect(noble).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it("property: its SHA-256 equals WebCrypto's, and the core uses it for statement digests", async () => {
    useNativeCrypto(nodeNativeCrypto);
    try {
      await fc.assert(
        fc.asyncProperty(fc.uint8Array({ maxLength: 4096 }), async (data) => {
          const expected = toHex(await sha256(data));
          expect(nodeNativeCrypto.sha256Hex(data)).toBe(expected);
          expect(statementSha256(data)).toBe(expected); // synchronous: the native digest answered
        }),
        { numRuns: 100 },
      );
    } finally {
      useNativeCrypto(undefined);
    }
  });

  it("a native digest of the wrong form is ignored, and the portable one used", async () => {
    useNativeCrypto({ ed25519: nodeNativeCrypto.ed25519, sha256Hex: () => "not a digest" });
    try {
      expect(await statementSha256(utf8("abc"))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    } finally {
      useNativeCrypto(undefined);
    }
  });
});
