/**
 * pnpm-lock.yaml: the fixtures written by real pnpm 12 (9.0) and pnpm 8 (6.0)
 * (test/fixtures/lockfiles/generate.mjs), and hand-made lockfiles for what the tools do not
 * write here (attacks, unknown resolutions, broken files).
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixture, refusal, row, scratchLockfile, SRI } from "../helpers/lockfiles.js";
import { readLockfiles, readPnpmLockfile } from "../../scripts/cli/lockfiles/index.js";


function lockfile(yaml: string): string {
  return scratchLockfile("pnpm-lock.yaml", yaml);
}

describe("pnpm-lock.yaml written by pnpm", () => {
  it("9.0 (pnpm 12): aliases from importers and snapshots, patches, links, workspaces, every source", () => {
    const entries = readLockfiles(fixture("pnpm"), []);
    expect(entries.map(row)).toEqual([
      "registry @acme/core = @acme/core@2.0.0 +integrity",
      "directory @acme/local-dir = @acme/local-dir@1.0.0",
      "registry @acme/utils,my-utils = @acme/utils@1.0.0 +integrity",
      "registry @acme/utils = @acme/utils@1.1.0 +integrity",
      "git git-dep = git-dep@1.0.0",
      "registry has-bundled = has-bundled@1.0.0 +integrity",
      "bundled left-pad = left-pad@",
      "registry left-pad = left-pad@1.2.0 +integrity",
      // patchedDependencies: the importer refers to it as 1.3.0(patch_hash=…); @acme/pad is an
      // importer alias, pad-alias a snapshot alias (inside @acme/core).
      "patch left-pad,@acme/pad,pad-alias = left-pad@1.3.0 +integrity",
      "tarball local-tgz = local-tgz@1.0.0 +integrity",
      "tarball remote-tgz = remote-tgz@1.0.0 +integrity",
      "link @acme/linked = @acme/linked@1.0.0",
      "workspace @acme/ws-a = @acme/ws-a@1.0.0",
    ]);
    const byLocation = new Map(entries.map((e) => [e.location, e]));
    expect(byLocation.get('packages["@acme/core@2.0.0"]')?.resolved).toBe("http://127.0.0.1:4873/acme/@acme/core/-/core-2.0.0.tgz");
    expect(byLocation.get('packages["@acme/local-dir@file:local/dir-dep"]')?.resolved).toBe("local/dir-dep");
    expect(byLocation.get('importers["."].dependencies["@acme/linked"]')?.resolved).toBe("local/linked");
    expect(entries.find((e) => e.kind === "git")?.resolved).toMatch(/^http:\/\/127\.0\.0\.1:4873\/git\/git-dep\.git#[0-9a-f]{40}$/);
    expect(entries.every((e) => e.manager === "pnpm" && e.lockfile === join(fixture("pnpm"), "pnpm-lock.yaml"))).toBe(true);
  });

  it("6.0 (pnpm 8): /name@version keys, aliases as /real@version, patch_hash in keys", () => {
    expect(readLockfiles(fixture("pnpm-v6"), []).map(row)).toEqual([
      "registry @acme/core = @acme/core@2.0.0 +integrity",
      "registry @acme/utils,my-utils = @acme/utils@1.0.0 +integrity",
      "registry @acme/utils = @acme/utils@1.1.0 +integrity",
      "registry has-bundled = has-bundled@1.0.0 +integrity",
      "bundled left-pad = left-pad@",
      "registry left-pad = left-pad@1.2.0 +integrity",
      "patch left-pad,@acme/pad,pad-alias = left-pad@1.3.0 +integrity",
      "tarball remote-tgz = remote-tgz@1.0.0", // pnpm 8 recorded no integrity for a remote tarball
      "directory @acme/local-dir = @acme/local-dir@1.0.0",
      "tarball local-tgz = local-tgz@1.0.0 +integrity",
      "link @acme/linked = @acme/linked@1.0.0",
      "workspace @acme/ws-a = @acme/ws-a@1.0.0",
    ]);
  });
});

describe("hand-made pnpm lockfiles", () => {
  it("an unscoped package aliased into a pinned name is installed as that name", () => {
    const path = lockfile(`lockfileVersion: '9.0'
importers:
  .:
    dependencies:
      '@acme/utils':
        specifier: npm:evil@1.0.0
        version: evil@1.0.0
packages:
  evil@1.0.0:
    resolution: {integrity: ${SRI}}
snapshots:
  evil@1.0.0:
    dependencies:
      '@acme/inner': evil@1.0.0
`);
    expect(readPnpmLockfile(path)).toEqual([
      { lockfile: path, manager: "pnpm", location: 'packages["evil@1.0.0"]', installedAs: ["evil", "@acme/utils", "@acme/inner"], kind: "registry", name: "evil", version: "1.0.0", integrity: SRI, integrityOfTarball: true },
    ]);
  });

  it("6.0 without importers reads the root dependencies; peer suffixes are separate keys", () => {
    const path = lockfile(`lockfileVersion: '6.0'
dependencies:
  '@acme/ui':
    specifier: ^2.0.0
    version: 2.0.0(react@18.2.0)
  react:
    specifier: 18.2.0
    version: 18.2.0
packages:
  /@acme/ui@2.0.0(react@18.2.0):
    resolution: {integrity: ${SRI}}
    dependencies:
      react: 18.2.0
  /react@18.2.0:
    resolution: {integrity: ${SRI}}
`);
    expect(readPnpmLockfile(path).map(row)).toEqual(["registry @acme/ui = @acme/ui@2.0.0 +integrity", "registry react = react@18.2.0 +integrity"]);
  });

  it("patchedDependencies by name or range, git hosted tarballs, and links outside the project", () => {
    const path = lockfile(`lockfileVersion: '9.0'
patchedDependencies:
  left-pad: abc
  '@acme/x@^1': def
importers:
  .:
    dependencies:
      left-pad: {specifier: 1.3.0, version: 1.3.0}
      '@acme/x': {specifier: ^1.0.0, version: 1.2.0}
      '@acme/gh': {specifier: github:o/gh, version: https://codeload.github.com/o/gh/tar.gz/0123456}
      '@acme/evil': {specifier: link:../evil, version: link:../evil}
packages:
  left-pad@1.3.0: {resolution: {integrity: ${SRI}}}
  '@acme/x@1.2.0': {resolution: {integrity: ${SRI}}}
  '@acme/gh@https://codeload.github.com/o/gh/tar.gz/0123456': {resolution: {tarball: https://codeload.github.com/o/gh/tar.gz/0123456}, version: 1.0.0}
snapshots:
  left-pad@1.3.0: {}
  '@acme/x@1.2.0': {}
  '@acme/gh@https://codeload.github.com/o/gh/tar.gz/0123456': {}
`);
    expect(readPnpmLockfile(path).map((e) => `${e.installedAs.join(",")}:${e.kind}:${e.resolved ?? ""}`)).toEqual([
      "left-pad:patch:",
      "@acme/x:patch:",
      "@acme/gh:git:https://codeload.github.com/o/gh/tar.gz/0123456",
      "@acme/evil:link:../evil",
    ]);
  });

  it.each([
    [
      "a reference to a package that is not there",
      `lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies:\n      '@acme/utils': {specifier: 1.0.0, version: 1.0.0}\npackages: {}\n`,
      `importers["."].dependencies["@acme/utils"]: refers to "1.0.0", which has no entry in packages`,
    ],
    [
      "an unknown resolution type",
      `lockfileVersion: '9.0'\npackages:\n  node@runtime:22.0.0:\n    resolution: {type: variations, variants: []}\n`,
      `packages["node@runtime:22.0.0"]: has a resolution type this reader does not know: "variations"`,
    ],
    ["a resolution with nothing in it", `lockfileVersion: '9.0'\npackages:\n  x@1.0.0:\n    resolution: {}\n`, `packages["x@1.0.0"]: has a resolution this reader does not know`],
    ["an unreadable key", `lockfileVersion: '9.0'\npackages:\n  nonsense:\n    resolution: {integrity: ${SRI}}\n`, `packages["nonsense"]: is not a name@version key`],
    ["a snapshot without a package", `lockfileVersion: '9.0'\npackages: {}\nsnapshots:\n  x@1.0.0: {}\n`, `snapshots["x@1.0.0"]: has no entry in packages`],
    ["a registry package without integrity", `lockfileVersion: '9.0'\npackages:\n  x@1.0.0:\n    version: 1.0.0\n`, "lockfile.packages.x@1.0.0.resolution: expected object"],
    ["lockfileVersion 5.4", "lockfileVersion: 5.4\npackages: {}\n", "lockfileVersion 5.4 is not supported"],
    ["broken YAML", "lockfileVersion: '9.0'\npackages: [\n", "is not valid YAML"],
    ["not a mapping", "just text\n", "is not a pnpm lockfile"],
  ])("refuses %s in one line naming file and entry", (_, yaml, message) => {
    const path = lockfile(yaml);
    const error = refusal(() => readPnpmLockfile(path));
    expect(error).toContain(path);
    expect(error).toContain(message);
  });

  it("an importer's link: to another importer is a workspace, resolved from the importer's folder", () => {
    const path = lockfile(`lockfileVersion: '9.0'
importers:
  .: {}
  apps/web:
    dependencies:
      '@acme/lib': {specifier: 'workspace:*', version: link:../../packages/lib}
  packages/lib: {}
`);
    mkdirSync(join(path, "../packages/lib"), { recursive: true });
    writeFileSync(join(path, "../packages/lib/package.json"), JSON.stringify({ name: "@acme/lib", version: "3.0.0" }));
    expect(readPnpmLockfile(path).map(row)).toEqual(["workspace @acme/lib = @acme/lib@3.0.0"]);
  });
});
