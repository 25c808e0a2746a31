import { describe, expect, it } from "vitest";
import { checkPinNamespace, isLegacyUnscopedName, parsePins, resolvePin, type Pins } from "../../src/core/index.js";

const FP = "SHA256:bbXpuKG6zhzdmnxq256TlqzFBzRl2f6OOg722cYNbU8";
const pins: Pins = {
  version: 1,
  registries: { team: { url: "https://npm.acme.dev", fingerprints: [FP] } },
  namespaces: { "@acme": "team", "acme-billing": "team", "@public": "allow", "*": "allow" },
};

describe("pins", () => {
  it("resolves exact namespaces first, then the wildcards, else rejects", () => {
    expect(resolvePin(pins, "@acme/utils")).toEqual({ namespace: "@acme", matched: "@acme", rule: { kind: "registry", registry: "team", url: "https://npm.acme.dev", fingerprints: [FP] } });
    expect(resolvePin(pins, "acme-billing").rule.kind).toBe("registry");
    expect(resolvePin(pins, "left-pad")).toEqual({ namespace: "left-pad", matched: "*", rule: { kind: "allow" } });
    expect(resolvePin(pins, "@public/x").rule).toEqual({ kind: "allow" });
    // No "@*" rule: a scope nobody pinned is rejected, never trusted by omission.
    expect(resolvePin(pins, "@evil/x")).toEqual({ namespace: "@evil", matched: null, rule: { kind: "reject" } });
  });

  it("accepts the documented example", () => {
    expect(parsePins(pins)).toEqual({ ok: true, value: pins });
  });

  it.each([
    ["a version other than 1", { ...pins, version: 2 }, "version"],
    ["an unknown top-level field", { ...pins, trustEverything: true }, "trustEverything"],
    ["a truncated fingerprint", { ...pins, registries: { team: { url: "https://x", fingerprints: [FP.slice(0, 20)] } } }, "fingerprint"],
    ["no fingerprints", { ...pins, registries: { team: { url: "https://x", fingerprints: [] } } }, "fingerprints"],
    ["a non-http URL", { ...pins, registries: { team: { url: "ftp://x", fingerprints: [FP] } } }, "url"],
    ["a namespace naming an unknown registry", { ...pins, namespaces: { "@acme": "tema" } }, 'registry "tema"'],
    ["a malformed namespace", { ...pins, namespaces: { "@Acme": "team" } }, "@Acme"],
    ["a bad registry name", { ...pins, registries: { "Team!": { url: "https://x", fingerprints: [FP] } } }, "registries"],
    // `until` must be positive: the bound is exclusive, and the message says so.
    ["a retired key valid until 0", { ...pins, registries: { team: { url: "https://x", fingerprints: [FP], retired: [{ fingerprint: FP, until: 0 }] } } }, "registries.team.retired.0.until: too small (more than 0)"],
    ["a retired key valid until a fraction", { ...pins, registries: { team: { url: "https://x", fingerprints: [FP], retired: [{ fingerprint: FP, until: 1.5 }] } } }, "registries.team.retired.0.until"],
  ])("rejects %s", (_label, value, mention) => {
    const result = parsePins(value);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain(mention);
  });

  it("looks up own rules only: a package named after an Object.prototype member is not pinned by it", () => {
    // `"constructor" in {}` is true: resolvePin once found Object's constructor as a "registry".
    for (const name of ["constructor", "hasownproperty", "tostring", "valueof"]) {
      expect(resolvePin(pins, name)).toEqual({ namespace: name, matched: "*", rule: { kind: "allow" } });
      expect(resolvePin({ ...pins, namespaces: { "@acme": "team" } }, name)).toEqual({ namespace: name, matched: null, rule: { kind: "reject" } });
    }
    expect(parsePins({ ...pins, namespaces: { "@acme": "constructor" } }).ok).toBe(false);
    expect(resolvePin({ ...pins, namespaces: { constructor: "allow", "*": "reject" } }, "constructor").rule).toEqual({ kind: "allow" });
  });

  it("allow/reject rules may name any namespace, also a legacy unscoped name; a registry pin may not", () => {
    const rules = { "@babel": "allow", lodash: "allow", JSONStream: "allow", "@babel-core": "reject", "@*": "reject", "*": "reject" };
    expect(parsePins({ ...pins, namespaces: rules }).ok).toBe(true);
    expect(resolvePin({ ...pins, namespaces: rules }, "JSONStream").rule).toEqual({ kind: "allow" });
    expect(resolvePin({ ...pins, namespaces: rules }, "jsonstream").rule).toEqual({ kind: "reject" }); // exact names only
    expect(parsePins({ ...pins, namespaces: { JSONStream: "team" } }).ok).toBe(false);
    expect(checkPinNamespace("JSONStream", "allow")).toEqual({ ok: true });
    expect(checkPinNamespace("JSONStream", "team").ok).toBe(false);
    expect(checkPinNamespace("@Babel", "allow").ok).toBe(false);
    expect(checkPinNamespace("@*", "team")).toEqual({ ok: true });
    for (const bad of ["", "a b", "@babel/core", ".x", "_x", "node_modules", "x".repeat(215)]) expect(isLegacyUnscopedName(bad)).toBe(false);
  });

  describe("witness policy (a registry's log checkpoints need a quorum of cosignatures)", () => {
    const W1 = "witness.example/w1+aa4a09d1+BOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";
    const W2 = "witness.example/w2+0b1c2d3e+BOpKbGPinFIKvvVQexMuxfmVR3auvr57kkIe6mkURtIs";
    const withWitnesses = (witnesses: unknown) => ({ ...pins, registries: { team: { url: "https://npm.acme.dev", fingerprints: [FP], witnesses } } });

    it("is kept on the registry pin and carried by its rule", () => {
      const parsed = parsePins(withWitnesses({ quorum: 1, keys: [W1, W2] }));
      if (!parsed.ok) throw new Error(parsed.error);
      expect(resolvePin(parsed.value, "@acme/x").rule).toMatchObject({ kind: "registry", witnesses: { quorum: 1, keys: [W1, W2] } });
    });

    it.each([
      ["a quorum above the number of keys", { quorum: 3, keys: [W1, W2] }, "quorum"],
      ["a quorum of 0", { quorum: 0, keys: [W1] }, "quorum"],
      ["no keys", { quorum: 1, keys: [] }, "keys"],
      ["a key listed twice", { quorum: 1, keys: [W1, W1] }, "twice"],
      ["a log (Ed25519, 0x01) key instead of a cosignature key", { quorum: 1, keys: ["example.com/log+9be5d3c6+AYqI4910CfGV/VLbLTy6XXLKZwm/HZQSG/N0iAG0D29c"] }, "cosignature key"],
      ["an unknown field", { quorum: 1, keys: [W1], any: true }, "any"],
    ])("refuses %s", (_what, witnesses, mention) => {
      const parsed = parsePins(withWitnesses(witnesses));
      expect(parsed.ok).toBe(false);
      if (!parsed.ok) expect(parsed.error).toContain(mention);
    });
  });
});
