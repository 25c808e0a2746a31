import { describe, expect, it } from "vitest";
import { parsePins, resolvePin, type Pins } from "../../src/core/index.js";

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
  ])("rejects %s", (_label, value, mention) => {
    const result = parsePins(value);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.error).toContain(mention);
  });
});
