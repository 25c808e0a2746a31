import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  fromBase64,
  IN_TOTO_PAYLOAD_TYPE,
  signEnvelope,
  toBase64,
  utf8,
  verifyBundle,
  describeFailure,
  type Bundle,
  type Envelope,
  type Signer,
  type VerifyInput,
} from "../../src/core/index.js";
import { makeBundle, registryCountersign, signerFromSeedByte, type Made } from "../helpers/bundles.js";

let team: Signer; // the registry pinned for @acme
let rogue: Signer; // another registry
let alice: Signer; // publisher enrolled in @acme at the team registry
let mallory: Signer; // a publisher nobody enrolled
let made: Made;

const bytes = utf8("the real @acme/utils 1.2.3 tarball");

beforeAll(async () => {
  [team, rogue, alice, mallory] = await Promise.all([1, 2, 3, 4].map(signerFromSeedByte)) as [Signer, Signer, Signer, Signer];
  made = await makeBundle({ publisher: alice, registry: team, name: "@acme/utils", version: "1.2.3", bytes, sequence: 7 });
});

const clone = <T>(value: T): T => structuredClone(value);
const input = (overrides: Partial<VerifyInput> = {}): VerifyInput => ({
  name: "@acme/utils",
  version: "1.2.3",
  artifact: made.digests,
  bundle: made.bundle,
  pinned: [team.keyid],
  ...overrides,
});

async function rejection(overrides: Partial<VerifyInput>) {
  const result = await verifyBundle(input(overrides));
  if (result.ok) throw new Error("expected a rejection");
  return result.error;
}

describe("verifyBundle", () => {
  it("accepts the genuine artifact against the pinned registry", async () => {
    const result = await verifyBundle(input({ artifact: { ...made.digests, size: bytes.length } }));
    expect(result).toEqual({
      ok: true,
      value: {
        name: "@acme/utils",
        version: "1.2.3",
        namespace: "@acme",
        digests: made.digests,
        size: bytes.length,
        publisher: { keyid: alice.keyid, createdAt: "2026-11-24T11:00:00.000Z" },
        registry: { keyid: team.keyid, origin: "https://registry.test" },
        sequence: 7,
        publishedAt: "2026-11-24T12:00:00.000Z",
        attributes: {},
        approval: null,
      },
    });
  });

  it("accepts any of several pinned fingerprints (rotation)", async () => {
    expect((await verifyBundle(input({ pinned: [rogue.keyid, team.keyid] }))).ok).toBe(true);
  });
});

describe("binding layer", () => {
  it("rejects a namespace with no pin", async () => {
    expect(await rejection({ pinned: [] })).toMatchObject({ layer: "binding", code: "unpinned_namespace", namespace: "@acme" });
  });

  it("rejects a validly signed artifact countersigned by a registry not pinned for the namespace, naming both fingerprints", async () => {
    const rogueMade = await makeBundle({ publisher: mallory, registry: rogue, name: "@acme/utils", version: "1.2.3", bytes });
    const error = await rejection({ bundle: rogueMade.bundle });
    expect(error).toMatchObject({ layer: "binding", code: "untrusted_registry", namespace: "@acme", expected: team.keyid, actual: rogue.keyid });
    expect(describeFailure(error)).toContain("binding layer");
    expect(describeFailure(error)).toContain(team.keyid);
    expect(describeFailure(error)).toContain(rogue.keyid);
  });

  it("rejects the team's own publisher statement re-countersigned by a rogue registry", async () => {
    const rebundled = await registryCountersign(made.bundle.publisher, rogue);
    expect(await rejection({ bundle: rebundled })).toMatchObject({ layer: "binding", code: "untrusted_registry", actual: rogue.keyid });
  });
});

describe("registry layer", () => {
  it("rejects a countersignature whose signature does not verify", async () => {
    const bundle = clone(made.bundle);
    const sig = fromBase64(bundle.countersignature.signatures[0]!.sig)!;
    sig[0]! ^= 0x80;
    bundle.countersignature.signatures[0]!.sig = toBase64(sig);
    expect(await rejection({ bundle })).toMatchObject({ layer: "registry", code: "bad_countersignature" });
  });

  it("rejects a countersignature replayed onto another name or version", async () => {
    expect(await rejection({ name: "@acme/other" })).toMatchObject({ layer: "registry", code: "countersignature_mismatch", expected: "@acme/other@1.2.3", actual: "@acme/utils@1.2.3" });
    expect(await rejection({ version: "1.2.4" })).toMatchObject({ layer: "registry", code: "countersignature_mismatch" });
  });

  it("rejects a countersignature moved onto another statement by the same enrolled publisher", async () => {
    const other = await makeBundle({ publisher: alice, registry: team, name: "@acme/utils", version: "1.2.3", bytes: utf8("different bytes, same name") });
    const bundle: Bundle = { ...made.bundle, publisher: other.bundle.publisher };
    expect(await rejection({ bundle, artifact: other.digests })).toMatchObject({ layer: "registry", code: "countersignature_mismatch" });
  });

  it("rejects malformed bundles precisely", async () => {
    for (const bundle of [null, {}, "bundle", { ...made.bundle, countersignature: { ...made.bundle.countersignature, signatures: [] } }]) {
      expect(await rejection({ bundle })).toMatchObject({ layer: "registry", code: "malformed_countersignature" });
    }
  });
});

describe("publisher layer", () => {
  it("rejects a publisher statement re-signed by a key the registry did not enrol", async () => {
    const forged = await signEnvelope(IN_TOTO_PAYLOAD_TYPE, fromBase64(made.bundle.publisher.payload)!, mallory);
    const error = await rejection({ bundle: { ...made.bundle, publisher: forged } });
    expect(error).toMatchObject({ layer: "publisher", code: "publisher_key_mismatch", expected: alice.keyid, actual: mallory.keyid, namespace: "@acme" });
  });

  it("rejects a publisher signature that does not verify", async () => {
    const bundle = clone(made.bundle);
    const sig = fromBase64(bundle.publisher.signatures[0]!.sig)!;
    sig[40]! ^= 1;
    bundle.publisher.signatures[0]!.sig = toBase64(sig);
    expect(await rejection({ bundle })).toMatchObject({ layer: "publisher", code: "bad_publisher_signature" });
  });

  it("rejects a missing publisher envelope", async () => {
    const { publisher: _dropped, ...rest } = made.bundle;
    expect(await rejection({ bundle: rest })).toMatchObject({ layer: "publisher", code: "malformed_publisher_statement" });
  });
});

describe("integrity layer", () => {
  it("rejects bytes changed after countersigning", async () => {
    const tampered = await makeBundle({ publisher: alice, registry: team, name: "@acme/utils", version: "1.2.3", bytes: utf8("tampered") });
    expect(await rejection({ artifact: tampered.digests })).toMatchObject({ layer: "integrity", code: "digest_mismatch", expected: `sha512:${made.digests.sha512}`, actual: `sha512:${tampered.digests.sha512}` });
  });

  it("rejects a lockfile sha512 that differs, and a wrong size", async () => {
    expect(await rejection({ artifact: { sha512: "0".repeat(128) } })).toMatchObject({ layer: "integrity" });
    expect(await rejection({ artifact: { ...made.digests, size: bytes.length + 1 } })).toMatchObject({ layer: "integrity", code: "size_mismatch" });
  });
});

describe("any changed byte fails verification", () => {
  type Part = "publisherPayload" | "publisherSig" | "counterPayload" | "counterSig" | "sha512";

  function mutate(bundle: Bundle, digests: Made["digests"], part: Part, index: number, xor: number): { bundle: Bundle; sha512: string } {
    const next = clone(bundle);
    const flip = (bytes: Uint8Array) => {
      bytes[index % bytes.length]! ^= xor;
      return bytes;
    };
    const envelopeOf = (p: Part): Envelope => (p.startsWith("publisher") ? next.publisher : next.countersignature);
    if (part === "sha512") {
      const hex = digests.sha512.split("");
      const i = index % hex.length;
      hex[i] = ((parseInt(hex[i]!, 16) ^ (xor & 15 || 1)) & 15).toString(16);
      return { bundle: next, sha512: hex.join("") };
    }
    const envelope = envelopeOf(part);
    if (part.endsWith("Payload")) envelope.payload = toBase64(flip(fromBase64(envelope.payload)!));
    else envelope.signatures[0]!.sig = toBase64(flip(fromBase64(envelope.signatures[0]!.sig)!));
    return { bundle: next, sha512: digests.sha512 };
  }

  it("property: one byte changed anywhere signed → rejected", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Part>("publisherPayload", "publisherSig", "counterPayload", "counterSig", "sha512"),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        async (part, index, xor) => {
          const { bundle, sha512 } = mutate(made.bundle, made.digests, part, index, xor);
          const result = await verifyBundle(input({ bundle, artifact: { sha512 } }));
          expect(result.ok).toBe(false);
        },
      ),
      { numRuns: 400 },
    );
  });
});
