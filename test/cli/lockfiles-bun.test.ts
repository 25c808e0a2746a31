/**
 * bun.lock: the fixture written by real bun 1.4.5 (test/fixtures/lockfiles/generate.mjs), hand-made
 * entries for the default registry (""), aliases into pinned names and github: sources, and the
 * refusal of bun.lockb.
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixture, refusal, row, scratchLockfile, SRI } from "../helpers/lockfiles.js";
import { readBunLockfile, readLockfiles } from "../../scripts/cli/lockfiles/index.js";


function lockfile(packages: string, version = 1): string {
  return scratchLockfile("bun.lock", `{\n  "lockfileVersion": ${version},\n  "workspaces": { "": { "name": "app" }, },\n  "packages": {\n${packages}\n  },\n}\n`);
}

describe("bun.lock written by bun 1.4.5", () => {
  it("install paths, aliases, nesting, bundled copies and every source", () => {
    const entries = readLockfiles(fixture("bun"), []);
    expect(entries.map(row)).toEqual([
      "registry @acme/core = @acme/core@2.0.0 +integrity",
      "link @acme/linked = @acme/linked@1.0.0",
      "directory @acme/local-dir = @acme/local-dir@1.0.0",
      "registry @acme/pad = left-pad@1.3.0 +integrity",
      "registry @acme/utils = @acme/utils@1.1.0 +integrity",
      "workspace @acme/ws-a = @acme/ws-a@1.0.0",
      "git git-dep = git-dep@", // bun records no version for git, tarball and file: sources
      "registry has-bundled = has-bundled@1.0.0 +integrity",
      "registry left-pad = left-pad@1.3.0 +integrity",
      "tarball local-tgz = local-tgz@ +integrity",
      "registry my-utils = @acme/utils@1.0.0 +integrity",
      "registry pad-alias = left-pad@1.3.0 +integrity",
      "tarball remote-tgz = remote-tgz@ +integrity",
      "registry @acme/utils = @acme/utils@1.0.0 +integrity",
      "registry left-pad = left-pad@1.2.0 +integrity",
      "bundled left-pad = left-pad@1.2.0 +integrity",
    ]);
    const at = (key: string) => entries.find((e) => e.location === `packages[${JSON.stringify(key)}]`);
    // A non-default registry is written as the tarball URL; kept as written.
    expect(at("@acme/core/@acme/utils")).toMatchObject({ registry: "http://127.0.0.1:4873/acme/@acme/utils/-/utils-1.0.0.tgz", resolved: "http://127.0.0.1:4873/acme/@acme/utils/-/utils-1.0.0.tgz" });
    expect(at("local-tgz")?.resolved).toBe("./vendor/local-tgz-1.0.0.tgz");
    expect(at("@acme/local-dir")?.resolved).toBe("local/dir-dep");
    expect(at("git-dep")?.resolved).toMatch(/^git\+http:\/\/127\.0\.0\.1:4873\/git\/git-dep\.git#[0-9a-f]{40}$/);
    expect(entries.every((e) => e.manager === "bun" && e.lockfile === join(fixture("bun"), "bun.lock"))).toBe(true);
  });
});

describe("hand-made bun.lock entries", () => {
  it('keeps "" (the configured default registry) as written, and names aliases by their key', () => {
    const path = lockfile(`    "@acme/utils": ["evil@1.0.0", "", {}, "${SRI}"],\n    "a/@acme/deep": ["@acme/deep@2.0.0", "", { "dependencies": {} }, "${SRI}"],`);
    expect(readBunLockfile(path)).toEqual([
      { lockfile: path, manager: "bun", location: 'packages["@acme/utils"]', installedAs: ["@acme/utils"], name: "evil", integrityOfTarball: true, kind: "registry", version: "1.0.0", integrity: SRI, registry: "" },
      { lockfile: path, manager: "bun", location: 'packages["a/@acme/deep"]', installedAs: ["@acme/deep"], name: "@acme/deep", integrityOfTarball: true, kind: "registry", version: "2.0.0", integrity: SRI, registry: "" },
    ]);
  });

  it("github: and remote sources", () => {
    const path = lockfile(`    "gh": ["gh@github:o/gh#0123456", {}, "o-gh-0123456"],\n    "t": ["t@https://cdn.example/t-1.0.0.tgz", {}, "${SRI}"],\n    "f": ["f@file:vendor/f.tgz", {}],`, 0);
    expect(readBunLockfile(path).map((e) => `${e.installedAs[0]}:${e.kind}:${e.resolved}`)).toEqual(["gh:git:github:o/gh#0123456", "t:tarball:https://cdn.example/t-1.0.0.tgz", "f:tarball:vendor/f.tgz"]);
  });

  it.each([
    [`    "x": ["x@1.0.0"],`, 'packages["x"]: has no registry (second element)'],
    [`    "x": ["x@weird:thing", {}],`, 'packages["x"]: has a source this reader does not know: "weird:thing"'],
    [`    "x": [42],`, 'packages["x"]: does not start with a name@version id'],
    [`    "x/": ["x@1.0.0", "", {}, "${SRI}"],`, 'packages["x/"]: is not an install path ending in a package name'],
    [`    "x": "x@1.0.0",`, "lockfile.packages.x: expected array"],
  ])("refuses %s naming file and entry", (packages, message) => {
    const path = lockfile(packages);
    const error = refusal(() => readBunLockfile(path));
    expect(error).toContain(path);
    expect(error).toContain(message);
  });

  it.each([
    ['{ "lockfileVersion": 3, "packages": {} }', "lockfileVersion 3 is not supported"],
    ['{ "lockfileVersion": 1, "packages": { ', "is not valid JSONC"],
    ['{ "packages": {} }', "is not a bun lockfile"],
  ])("refuses the file %s", (text, message) => {
    const path = join(mkdtempSync(join(tmpdir(), "countersign-bun-")), "bun.lock");
    writeFileSync(path, text);
    expect(refusal(() => readBunLockfile(path))).toContain(message);
  });
});

it("refuses bun.lockb, saying how to get bun.lock", () => {
  const dir = mkdtempSync(join(tmpdir(), "countersign-bun-"));
  writeFileSync(join(dir, "bun.lockb"), Buffer.from("#!/usr/bin/env bun\nbun-lockfile-format-v0\n\u0000\u0001\u0002", "binary"));
  const error = refusal(() => readLockfiles(dir, []));
  expect(error).toContain(join(dir, "bun.lockb"));
  expect(error).toContain("bun's binary lockfile, which cannot be verified");
  expect(error).toContain("bun install --save-text-lockfile");
  expect(error).toContain("delete bun.lockb");
});
