/**
 * The pieces behind `countersign init`, `pin --rule` and verify's summary by namespace, without
 * processes (test/e2e/real-project.test.ts runs the commands on a real lockfile).
 */

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parsePins, resolvePin, type Pins } from "../../src/core/index.js";
import { namespacesInUse, planPins } from "../../scripts/cli/commands/init.js";
import { applyRules, parseRule, readPinsOrEmpty, writePins, type RegistryBinding } from "../../scripts/cli/commands/pin.js";
import { namespaceLines } from "../../scripts/cli/commands/verify.js";
import { CliError, EXIT } from "../../scripts/cli/errors.js";
import { byNamespace, type PackageReport } from "../../scripts/cli/verification/project.js";

const FP = "SHA256:bbXpuKG6zhzdmnxq256TlqzFBzRl2f6OOg722cYNbU8";
const empty = (): Pins => ({ version: 1, registries: {}, namespaces: {} });
const entry = (name: string, installedAs: string[] = [name]) => ({ name, installedAs });
const binding: RegistryBinding = { url: "https://npm.acme.dev", name: "team", namespaces: ["@acme", "acme-billing"], fingerprint: FP, unclaimed: [] };

const usageErrorOf = (run: () => unknown): CliError => {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(CliError);
    expect((err as CliError).exitCode).toBe(EXIT.usage);
    return err as CliError;
  }
  throw new Error("expected a usage error");
};

describe("init: namespaces in use", () => {
  it("counts every name an entry is installed as and its own name, once per entry", () => {
    const inUse = namespacesInUse([entry("@babel/core"), entry("@babel/parser"), entry("lodash"), entry("evil", ["@types/node"]), entry("@x/y", ["@x/y", "@x/z"])]);
    expect(Object.fromEntries(inUse)).toEqual({ "@babel": 2, lodash: 1, evil: 1, "@types": 1, "@x": 1 });
  });
});

describe("init: the pins it writes", () => {
  const inUse = namespacesInUse([entry("@babel/core"), entry("@jest/core"), entry("jest"), entry("JSONStream"), entry("@acme/utils"), entry("acme-billing")]);

  it("lists each scope and unscoped name in use as allow, and rejects any other", () => {
    const plan = planPins(empty(), inUse, { allowUnscoped: false });
    expect(plan.pins.namespaces).toEqual({ "@acme": "allow", "@babel": "allow", "@jest": "allow", JSONStream: "allow", "acme-billing": "allow", jest: "allow", "@*": "reject", "*": "reject" });
    expect(parsePins(plan.pins).ok).toBe(true);
    // The property: a namespace that is not in the lockfile today is rejected.
    const pins = parsePins(plan.pins);
    if (!pins.ok) throw new Error(pins.error);
    for (const name of ["@babel-core/x", "@acme-corp/utils", "lodahs", "jest2"]) expect(resolvePin(pins.value, name).rule).toEqual({ kind: "reject" });
    for (const name of ["@babel/anything-new", "jest", "JSONStream"]) expect(resolvePin(pins.value, name).rule).toEqual({ kind: "allow" });
  });

  it("binds the team's namespaces to its registry and never allow-lists them", () => {
    const plan = planPins(empty(), inUse, { binding, allowUnscoped: false });
    expect(plan.pins.registries).toEqual({ team: { url: "https://npm.acme.dev", fingerprints: [FP] } });
    expect(plan.pins.namespaces).toMatchObject({ "@acme": "team", "acme-billing": "team" });
    expect(Object.keys(plan.pins.namespaces).slice(0, 2)).toEqual(["@acme", "acme-billing"]);
    expect(plan.pinned).toEqual([
      { namespace: "@acme", registry: "team", entries: 1 },
      { namespace: "acme-billing", registry: "team", entries: 1 },
    ]);
    expect(plan.allowed.scopes.map((s) => s.namespace)).toEqual(["@babel", "@jest"]);
    expect(plan.allowed.unscoped.map((s) => s.namespace)).toEqual(["JSONStream", "jest"]);
  });

  it("--allow-unscoped: scopes listed, unscoped names allowed by '*' (except the team's own)", () => {
    const plan = planPins(empty(), inUse, { binding, allowUnscoped: true });
    expect(plan.pins.namespaces).toEqual({ "@acme": "team", "acme-billing": "team", "@babel": "allow", "@jest": "allow", "@*": "reject", "*": "allow" });
    expect(plan.allowed.unscoped).toEqual([]);
  });

  it("merging keeps the existing registries, pins, rules, receipts; tightens the wildcards", () => {
    const base: Pins = {
      version: 1,
      registries: { other: { url: "https://other.example", fingerprints: [FP] } },
      namespaces: { "@jest": "other", jest: "reject", "old-thing": "allow", "@*": "allow", "*": "allow" },
      receipts: { signers: [FP] },
    };
    const plan = planPins(base, inUse, { allowUnscoped: false });
    expect(plan.pins.namespaces).toEqual({ "@jest": "other", "@acme": "allow", "@babel": "allow", JSONStream: "allow", "acme-billing": "allow", jest: "reject", "old-thing": "allow", "@*": "reject", "*": "reject" });
    expect(plan.pins.registries).toEqual(base.registries);
    expect(plan.pins.receipts).toEqual(base.receipts);
    expect(plan.rejected).toEqual([{ namespace: "jest", entries: 1 }]);
    expect(plan.added).toEqual(["@acme", "@babel", "JSONStream", "acme-billing"]);
  });

  it("a wildcard pinned to a registry is kept, and the namespaces it covers are not allow-listed", () => {
    const base: Pins = { version: 1, registries: { team: { url: "https://npm.acme.dev", fingerprints: [FP] } }, namespaces: { "@*": "team", "*": "allow" } };
    const plan = planPins(base, inUse, { allowUnscoped: false });
    expect(plan.pins.namespaces).toEqual({ JSONStream: "allow", "acme-billing": "allow", jest: "allow", "@*": "team", "*": "reject" });
  });

  it("a name no rule can spell is reported, not written", () => {
    const plan = planPins(empty(), new Map([["bad name", 1]]), { allowUnscoped: false });
    expect(plan.unlistable).toEqual(["bad name"]);
    expect(parsePins(plan.pins).ok).toBe(true);
  });
});

describe("pin --rule and --remove", () => {
  it.each([
    ["@babel=allow", "@babel", "allow"],
    ["lodash=reject", "lodash", "reject"],
    ["JSONStream=allow", "JSONStream", "allow"],
    ["@*=reject", "@*", "reject"],
    ["*=allow", "*", "allow"],
  ])("parses %s", (rule, namespace, action) => {
    expect(parseRule(rule)).toEqual({ namespace, action });
  });

  it.each(["@babel", "@babel=maybe", "=allow", "@Babel=allow", "@babel/core=allow", "a b=allow", "@=allow"])("refuses %s", (rule) => {
    usageErrorOf(() => parseRule(rule));
  });

  it("replaces or removes a registry pin only with --force", () => {
    const pins: Pins = { version: 1, registries: { team: { url: "https://npm.acme.dev", fingerprints: [FP] } }, namespaces: { "@acme": "team", "@babel": "reject" } };
    expect(usageErrorOf(() => applyRules(pins, [{ namespace: "@acme", action: "allow" }], [], false, "countersign.json")).message).toContain('@acme is pinned to registry "team"');
    usageErrorOf(() => applyRules(pins, [], ["@acme"], false, "countersign.json"));
    usageErrorOf(() => applyRules(pins, [], ["@nothing"], true, "countersign.json"));
    expect(pins.namespaces["@acme"]).toBe("team");
    expect(applyRules(pins, [{ namespace: "@babel", action: "allow" }], [], false, "countersign.json")).toEqual([{ namespace: "@babel", action: "allow", previous: "reject" }]);
    expect(applyRules(pins, [{ namespace: "@acme", action: "reject" }], [], true, "countersign.json")).toEqual([{ namespace: "@acme", action: "reject", previous: "team" }]);
    expect(applyRules(pins, [], ["@babel"], false, "countersign.json")).toEqual([{ namespace: "@babel", action: null, previous: "allow" }]);
    expect(pins.namespaces).toEqual({ "@acme": "reject" });
  });
});

describe("writing the pins file", () => {
  it("keeps the policy and receipts exactly as the file had them", () => {
    const path = join(mkdtempSync(join(tmpdir(), "countersign-pins-")), "countersign.json");
    const policy = { rules: [{ rule: "require-file-digests", namespaces: ["@acme"] }, { rule: "publisher-continuity" }] };
    writeFileSync(path, JSON.stringify({ version: 1, registries: {}, namespaces: { "@*": "reject" }, policy, receipts: { signers: [FP] } }));
    const pins = readPinsOrEmpty(path);
    applyRules(pins, [parseRule("@babel=allow")], [], false, path);
    writePins(path, pins);
    expect(JSON.parse(readFileSync(path, "utf8"))).toEqual({ version: 1, registries: {}, namespaces: { "@*": "reject", "@babel": "allow" }, policy, receipts: { signers: [FP] } });
  });
});

describe("verify: the summary by namespace", () => {
  const pins: Pins = {
    version: 1,
    registries: { team: { url: "https://npm.acme.dev", fingerprints: [FP] } },
    namespaces: { "@acme": "team", "@babel": "allow", jest: "allow", "@*": "reject", "*": "allow" },
  };
  const report = (name: string, status: PackageReport["status"], namespace = name.startsWith("@") ? name.split("/")[0]! : name): PackageReport => ({
    name,
    version: "1.0.0",
    namespace,
    status,
    lockfile: "/p/package-lock.json",
    location: `node_modules/${name}`,
    installedAs: [name],
    kind: "registry",
  });
  const packages = [
    report("@babel/core", "unverified"),
    report("@babel/parser", "unverified"),
    report("@acme/utils", "verified"),
    report("@acme/lib", "failed"),
    report("@babel-core/x", "failed"),
    report("jest", "unverified"),
    report("left-pad", "unverified"),
    report("is-odd", "unverified"),
  ];

  it("counts by namespace, pinned first, with the rule that decided", () => {
    const namespaces = byNamespace(pins, packages);
    expect(namespaces.map((n) => n.namespace)).toEqual(["@acme", "@babel", "@babel-core", "is-odd", "jest", "left-pad"]);
    expect(namespaces[0]).toEqual({ namespace: "@acme", rule: "registry", matched: "@acme", registry: "team", total: 2, verified: 1, unverified: 0, failed: 1, unavailable: 0 });
    expect(namespaces[2]).toMatchObject({ namespace: "@babel-core", rule: "reject", matched: "@*", failed: 1 });
  });

  it("one line per scope, unscoped names folded by the rule that allowed them", () => {
    expect(namespaceLines(byNamespace(pins, packages))).toEqual([
      "  @acme → team: 1 verified, 1 failed",
      "  @babel: 2 allowed (unverified)",
      '  @babel-core: 1 rejected (rule "@*": "reject")',
      '  unscoped (2 names, allowed by rule "*"): 2 allowed (unverified)',
      "  unscoped (1 name, allowed by name): 1 allowed (unverified)",
    ]);
  });
});
