import { describe, expect, it } from "vitest";
import { checkNamespace, checkPackageName, checkVersion, namespaceOf, purl } from "../../src/core/index.js";

describe("package names", () => {
  it.each([
    ["@acme/utils", "@acme"],
    ["acme-billing", "acme-billing"],
    ["a", "a"],
    ["@a1/b.c_d-e", "@a1"],
    ["0x", "0x"],
  ])("accepts %s (namespace %s)", (name, namespace) => {
    expect(checkPackageName(name)).toMatchObject({ ok: true, namespace });
    expect(namespaceOf(name)).toBe(namespace);
  });

  it.each([
    ["", "empty"],
    ["Acme", "lowercase"],
    ["@acme/Utils", "lowercase"],
    ["@acme/utils\u0430", "ASCII"],
    ["@асme/utils", "ASCII"],
    ["@acme/a/b", "name"],
    ["..", "name"],
    ["@acme/..", "name"],
    [".hidden", "name"],
    ["_private", "name"],
    ["-dash", "name"],
    ["a b", "ASCII"],
    ["a\nb", "ASCII"],
    ["a\u0000b", "ASCII"],
    ["a%2fb", "name"],
    ["node_modules", "reserved"],
    ["favicon.ico", "reserved"],
    ["@acme/", "name"],
    ["@/x", "name"],
    ["a".repeat(215), "214"],
    ["a~b", "name"],
  ])("rejects %j with a reason", (name, reason) => {
    const check = checkPackageName(name);
    expect(check.ok).toBe(false);
    expect(!check.ok && check.reason).toContain(reason);
  });

  it("accepts exactly 214 characters", () => {
    expect(checkPackageName("a".repeat(214)).ok).toBe(true);
  });

  it("namespaces are scopes or unscoped names", () => {
    for (const ok of ["@acme", "acme-tool"]) expect(checkNamespace(ok).ok).toBe(true);
    for (const bad of ["@", "@Acme", "@a/b", "", "acme/tool", "-x"]) expect(checkNamespace(bad).ok).toBe(false);
  });
});

describe("versions", () => {
  it.each(["1.0.0", "0.0.1", "1.2.3-beta.1", "10.20.30-rc.1.alpha"])("accepts %s", (v) => expect(checkVersion(v).ok).toBe(true));
  it.each(["1.0", "v1.0.0", "=1.0.0", " 1.0.0", "1.0.0+build", "01.0.0", "1.0.0-", "latest", "", "1.0.0-01"])("rejects %j", (v) => expect(checkVersion(v).ok).toBe(false));
});

it("subject names are npm purls", () => {
  expect(purl("@acme/utils", "1.2.3")).toBe("pkg:npm/%40acme/utils@1.2.3");
  expect(purl("left-pad", "1.0.0")).toBe("pkg:npm/left-pad@1.0.0");
});
