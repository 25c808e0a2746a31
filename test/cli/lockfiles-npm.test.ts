/**
 * package-lock.json / npm-shrinkwrap.json: the fixtures written by real npm 11
 * (test/fixtures/lockfiles/generate.mjs), and hand-made attacks on what npm would install.
 */
import { copyFileSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixture, refusalOf, row, scratchLockfile, SRI } from "../helpers/lockfiles.js";
import { npmLockfileInUse, readLockfiles, readNpmLockfile } from "../../scripts/cli/lockfiles/index.js";


function lockfile(packages: Record<string, unknown>, extra: Record<string, unknown> = {}): string {
  return scratchLockfile("package-lock.json", JSON.stringify({ name: "app", lockfileVersion: 3, requires: true, packages: { "": { name: "app" }, ...packages }, ...extra }));
}

const NPM_FIXTURE_ROWS = [
  "registry @acme/core = @acme/core@2.0.0 +integrity",
  "registry @acme/utils = @acme/utils@1.0.0 +integrity",
  "link @acme/local-dir = @acme/local-dir@1.0.0",
  "registry @acme/pad = left-pad@1.3.0 +integrity",
  "registry @acme/utils = @acme/utils@1.1.0 +integrity",
  "workspace @acme/ws-a = @acme/ws-a@1.0.0",
  "git git-dep = git-dep@1.0.0",
  "registry has-bundled = has-bundled@1.0.0 +integrity",
  "bundled left-pad = left-pad@1.2.0",
  "registry left-pad = left-pad@1.3.0 +integrity",
  "tarball local-tgz = local-tgz@1.0.0 +integrity",
  "registry my-utils = @acme/utils@1.0.0 +integrity",
  "registry pad-alias = left-pad@1.3.0 +integrity",
  "tarball remote-tgz = remote-tgz@1.0.0 +integrity",
  "registry left-pad = left-pad@1.2.0 +integrity",
];

describe("package-lock.json written by npm 11", () => {
  it.each([
    ["npm", "package-lock.json"],
    ["npm-v2", "package-lock.json"],
    ["npm-shrinkwrap", "npm-shrinkwrap.json"],
  ])("%s: every installed path, under the name it is installed as", (dir, file) => {
    const entries = readLockfiles(fixture(dir), []);
    expect(entries.map(row)).toEqual(NPM_FIXTURE_ROWS);
    expect(new Set(entries.map((e) => e.lockfile))).toEqual(new Set([join(fixture(dir), file)]));
    expect(entries.every((e) => e.manager === "npm" && e.integrityOfTarball)).toBe(true);
  });

  it("keeps locations, resolved URLs and integrity as written", () => {
    const entries = readNpmLockfile(join(fixture("npm"), "package-lock.json"));
    const at = (location: string) => entries.find((e) => e.location === `packages[${JSON.stringify(location)}]`);
    expect(at("node_modules/@acme/core/node_modules/@acme/utils")).toEqual({
      lockfile: join(fixture("npm"), "package-lock.json"),
      manager: "npm",
      location: 'packages["node_modules/@acme/core/node_modules/@acme/utils"]',
      installedAs: ["@acme/utils"],
      kind: "registry",
      name: "@acme/utils",
      version: "1.0.0",
      integrity: "sha512-s8asvon47AtE5NpihbRPd481p6YkpQVh0ytUiUTVrC/GWaThULZ2jkgWEK1jLqCH5f6LXkft8oyvNWPUr9p3vQ==",
      integrityOfTarball: true,
      resolved: "http://127.0.0.1:4873/acme/@acme/utils/-/utils-1.0.0.tgz",
    });
    expect(at("node_modules/@acme/local-dir")?.resolved).toBe("local/dir-dep");
    expect(at("node_modules/git-dep")?.resolved).toMatch(/^git\+http:\/\/127\.0\.0\.1:4873\/git\/git-dep\.git#[0-9a-f]{40}$/);
    expect(at("node_modules/local-tgz")?.resolved).toBe("file:vendor/local-tgz-1.0.0.tgz");
    expect(at("packages/ws-a")).toBeUndefined(); // a folder, reported through its link
  });
});

describe("attacks on package-lock.json", () => {
  it("an unscoped package placed at a pinned path is installed as the pinned name", () => {
    const path = lockfile({
      "node_modules/@acme/utils": { name: "some-unscoped-name", version: "1.0.0", resolved: "https://rogue.example/some-unscoped-name/-/some-unscoped-name-1.0.0.tgz", integrity: SRI },
    });
    expect(readNpmLockfile(path)).toEqual([
      { lockfile: path, manager: "npm", location: 'packages["node_modules/@acme/utils"]', installedAs: ["@acme/utils"], kind: "registry", name: "some-unscoped-name", version: "1.0.0", integrity: SRI, integrityOfTarball: true, resolved: "https://rogue.example/some-unscoped-name/-/some-unscoped-name-1.0.0.tgz" },
    ]);
  });

  it("a link at a pinned path is reported (not skipped), filled in from its target folder", () => {
    const path = lockfile({
      "../evil": { name: "evil", version: "6.6.6" },
      "node_modules/@acme/utils": { resolved: "../evil", link: true },
      "node_modules/@acme/bare-link": { resolved: "../elsewhere", link: true },
    });
    expect(readNpmLockfile(path).map((e) => [e.kind, e.installedAs, e.name, e.version, e.resolved])).toEqual([
      ["link", ["@acme/utils"], "evil", "6.6.6", "../evil"],
      ["link", ["@acme/bare-link"], "@acme/bare-link", "", "../elsewhere"],
    ]);
  });

  it("nested and workspace-nested paths are installed as their last package segment(s)", () => {
    const path = lockfile({
      "node_modules/a/node_modules/@acme/utils": { version: "1.0.0", integrity: SRI },
      "node_modules/a/node_modules/b/node_modules/plain": { version: "1.0.0", integrity: SRI },
      "packages/foo/node_modules/@acme/x": { version: "1.0.0", integrity: SRI },
    });
    expect(readNpmLockfile(path).map((e) => e.installedAs[0])).toEqual(["@acme/utils", "plain", "@acme/x"]);
  });

  it("bundled entries, workspace links, git, file: and URL sources get their kinds", () => {
    const path = lockfile(
      {
        "packages/foo": { name: "@acme/foo", version: "0.1.0" },
        "node_modules/@acme/foo": { resolved: "packages/foo", link: true },
        "node_modules/host": { version: "1.0.0", integrity: SRI, dependencies: { tgz: "https://cdn.example/tgz-1.0.0.tgz" } },
        "node_modules/host/node_modules/inside": { version: "1.0.0", inBundle: true },
        "node_modules/gh": { version: "1.0.0", resolved: "git+ssh://git@github.com/o/gh.git#0123456789abcdef0123456789abcdef01234567" },
        "node_modules/copied": { version: "1.0.0", resolved: "file:vendor/copied" },
        "node_modules/tgz": { version: "1.0.0", resolved: "https://cdn.example/tgz-1.0.0.tgz", integrity: SRI },
        "node_modules/unresolved": { version: "1.0.0", integrity: SRI },
      },
      {},
    );
    writeFileSync(join(path, "../package.json"), JSON.stringify({ name: "app", workspaces: ["packages/*"] }));
    expect(readNpmLockfile(path).map((e) => `${e.installedAs[0]}:${e.kind}`)).toEqual([
      "@acme/foo:workspace",
      "host:registry",
      "inside:bundled",
      "gh:git",
      "copied:directory",
      "tgz:tarball",
      "unresolved:registry",
    ]);
  });

  it.each([
    [{ "node_modules/x": { version: "1.0.0", resolved: "ftp://host/x.tgz" } }, 'packages["node_modules/x"]: has a resolved source this reader does not know'],
    [{ "node_modules/x": { link: true } }, 'packages["node_modules/x"]: is a link without a target'],
    [{ "node_modules/x": {} }, 'packages["node_modules/x"]: has no version'],
    [{ "node_modules/": { version: "1.0.0" } }, 'packages["node_modules/"]: is not a node_modules/<package name> path'],
    [{ "node_modules/x": { version: 1 } }, "lockfile.packages.node_modules/x.version: expected string"],
  ])("refuses an entry it does not understand, naming file and entry (%j)", (packages, message) => {
    const path = lockfile(packages);
    const error = refusalOf(() => readNpmLockfile(path));
    expect(error.message).toContain(path);
    expect(error.message).toContain(message);
  });

  it.each([
    ['{"lockfileVersion": 1, "dependencies": {}}', "lockfileVersion 1 (written by npm 6 or older) is not supported: re-lock with npm 7 or later"],
    ["{not json", "is not valid JSON"],
    ['{"lockfileVersion": 3}', "lockfile.packages: expected record"],
    ['{"lockfileVersion": 4, "packages": {}}', "lockfileVersion 4 is not supported"],
    ["[]", "lockfileVersion (none) is not supported"],
  ])("refuses the file %s in one line", (text, message) => {
    const path = join(mkdtempSync(join(tmpdir(), "countersign-npm-")), "package-lock.json");
    writeFileSync(path, text);
    expect(refusalOf(() => readNpmLockfile(path)).message).toContain(message);
  });
});

describe("npm-shrinkwrap.json and package-lock.json together", () => {
  it("reads both, and says npm installs from npm-shrinkwrap.json", () => {
    const dir = mkdtempSync(join(tmpdir(), "countersign-npm-"));
    copyFileSync(join(fixture("npm"), "package-lock.json"), join(dir, "package-lock.json"));
    expect(npmLockfileInUse(dir)).toBe(join(dir, "package-lock.json"));
    copyFileSync(join(fixture("npm-shrinkwrap"), "npm-shrinkwrap.json"), join(dir, "npm-shrinkwrap.json"));
    expect(npmLockfileInUse(dir)).toBe(join(dir, "npm-shrinkwrap.json"));
    const entries = readLockfiles(dir, []);
    expect(new Set(entries.map((e) => e.lockfile))).toEqual(new Set([join(dir, "npm-shrinkwrap.json"), join(dir, "package-lock.json")]));
    expect(entries).toHaveLength(2 * NPM_FIXTURE_ROWS.length);
  });
});
