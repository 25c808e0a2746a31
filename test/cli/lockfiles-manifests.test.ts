/**
 * The package.json cross-check: non-registry dependencies and overrides a lockfile leaves out
 * are reported from the manifests, once, under the name they are installed as.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CliError } from "../../scripts/cli/errors.js";
import { manifestEntries, readLockfiles, type LockEntry } from "../../scripts/cli/lockfiles/index.js";
import { overriddenName } from "../../scripts/cli/lockfiles/manifests.js";
import { expandWorkspaces, globToRegExp, isWorkspacePath, workspacePatternsOf } from "../../scripts/cli/lockfiles/workspaces.js";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/lockfiles/${name}`, import.meta.url));
const summary = (e: LockEntry) => `${e.kind} ${e.installedAs.join(",")} = ${e.name} from ${e.resolved} at ${e.location}`;

function project(files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(tmpdir(), "countersign-manifests-"));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), typeof content === "string" ? content : JSON.stringify(content));
  }
  return dir;
}

describe("the package.json cross-check", () => {
  it("reports a yarn 1 link: dependency that yarn.lock leaves out", () => {
    const dir = mkdtempSync(join(tmpdir(), "countersign-manifests-"));
    cpSync(fixture("yarn-classic"), dir, { recursive: true });
    const lock = readFileSync(join(dir, "yarn.lock"), "utf8");
    writeFileSync(join(dir, "yarn.lock"), lock.replace(/"@acme\/linked@link:[^\n]*\n(?: {2}[^\n]*\n)*\n/, ""));
    const fromManifests = readLockfiles(dir, []).filter((e) => e.lockfile.endsWith("package.json"));
    expect(fromManifests.map(summary)).toEqual([
      "link @acme/linked = @acme/linked from link:./local/linked at package.json dependencies.@acme/linked",
      'workspace @acme/ws-a = @acme/ws-a from packages/ws-a at package.json workspaces "packages/ws-a"',
    ]);
    expect(fromManifests[0]).toMatchObject({ lockfile: join(dir, "package.json"), manager: "yarn-classic", version: "1.0.0", integrityOfTarball: false });
  });

  it("adds nothing the real tools' lockfiles already report", () => {
    for (const name of ["npm", "pnpm", "yarn-berry", "bun"]) {
      expect(readLockfiles(fixture(name), []).filter((e) => e.lockfile.endsWith("package.json"))).toEqual([]);
    }
  });

  it("npm: file: directories (links for npm) and nested overrides with non-registry targets", () => {
    const dir = project({
      "package.json": {
        name: "app",
        dependencies: { "@acme/x": "file:../x", "left-pad": "^1.0.0", tarred: "https://cdn.example/tarred-1.0.0.tgz", gh: "o/gh#main" },
        overrides: { "@acme/core": { "@acme/utils": "file:../evil", ".": "2.0.0" }, "left-pad@1": "https://cdn.example/left-pad.tgz", foo: "$foo" },
      },
      "package-lock.json": { lockfileVersion: 3, packages: { "": { name: "app" } } },
    });
    expect(readLockfiles(dir, []).map(summary)).toEqual([
      "link @acme/x = @acme/x from file:../x at package.json dependencies.@acme/x",
      "tarball tarred = tarred from https://cdn.example/tarred-1.0.0.tgz at package.json dependencies.tarred",
      "git gh = gh from o/gh#main at package.json dependencies.gh",
      "link @acme/utils = @acme/utils from file:../evil at package.json overrides.@acme/core.@acme/utils",
      "tarball left-pad = left-pad from https://cdn.example/left-pad.tgz at package.json overrides.left-pad@1",
    ]);
  });

  it("pnpm: workspaces from pnpm-workspace.yaml, pnpm.overrides, resolutions and workspace overrides", () => {
    const dir = project({
      "package.json": { name: "app", pnpm: { overrides: { "a>@acme/b": "link:../b" } }, resolutions: { "@acme/r": "file:../r" } },
      "pnpm-workspace.yaml": "packages:\n  - apps/*\noverrides:\n  '@acme/c@1': file:../c.tgz\n",
      "apps/web/package.json": { name: "web", dependencies: { "@acme/d": "link:../../d", "@acme/w": "workspace:*" } },
      "pnpm-lock.yaml": "lockfileVersion: '9.0'\nimporters:\n  .: {}\n",
    });
    expect(readLockfiles(dir, []).map(summary)).toEqual([
      "link @acme/d = @acme/d from link:../../d at apps/web/package.json dependencies.@acme/d",
      "workspace @acme/w = @acme/w from workspace:* at apps/web/package.json dependencies.@acme/w",
      "link @acme/b = @acme/b from link:../b at package.json pnpm.overrides.a>@acme/b",
      "directory @acme/r = @acme/r from file:../r at package.json resolutions.@acme/r",
      "tarball @acme/c = @acme/c from file:../c.tgz at pnpm-workspace.yaml overrides.@acme/c@1",
    ]);
    expect(readLockfiles(dir, []).at(-1)?.lockfile).toBe(join(dir, "pnpm-workspace.yaml"));
  });

  it("yarn berry resolutions and bun overrides", () => {
    const berry = project({ "package.json": { name: "app", resolutions: { "**/@acme/d": "portal:../d", "x@npm:1/@acme/e": "patch:@acme/e@npm%3A1.0.0#./p.patch" } }, "yarn.lock": "__metadata:\n  version: 8\n" });
    expect(readLockfiles(berry, []).map(summary)).toEqual([
      "link @acme/d = @acme/d from portal:../d at package.json resolutions.**/@acme/d",
      "patch @acme/e = @acme/e from patch:@acme/e@npm%3A1.0.0#./p.patch at package.json resolutions.x@npm:1/@acme/e",
    ]);
    const bun = project({ "package.json": { name: "app", overrides: { "@acme/e": "github:o/e" } }, "bun.lock": '{ "lockfileVersion": 1, "packages": {} }' });
    expect(readLockfiles(bun, []).map(summary)).toEqual(["git @acme/e = @acme/e from github:o/e at package.json overrides.@acme/e"]);
  });

  it("deduplicates against the lockfile by installed name and kind of source", () => {
    const lockEntry: LockEntry = { lockfile: "x", manager: "pnpm", location: "x", installedAs: ["@acme/linked"], kind: "workspace", name: "@acme/linked", version: "1.0.0", integrityOfTarball: true };
    const dir = project({ "package.json": { name: "app", dependencies: { "@acme/linked": "link:./l", "@acme/other": "link:./o", tgz: "file:./t.tgz" } } });
    expect(manifestEntries(dir, "pnpm", [lockEntry]).map((e) => e.installedAs[0])).toEqual(["@acme/other", "tgz"]);
    expect(manifestEntries(dir, "pnpm", [{ ...lockEntry, installedAs: ["tgz"], kind: "registry" }]).map((e) => e.installedAs[0])).toEqual(["@acme/linked", "@acme/other", "tgz"]);
  });

  it("refuses a broken package.json in one line", () => {
    const dir = project({ "package.json": "{ nope", "package-lock.json": { lockfileVersion: 3, packages: {} } });
    expect(() => readLockfiles(dir, [])).toThrow(CliError);
    expect(() => readLockfiles(dir, [])).toThrow(`${join(dir, "package.json")}: is not valid JSON`);
    const odd = project({ "package.json": { dependencies: { x: 1 } }, "package-lock.json": { lockfileVersion: 3, packages: {} } });
    expect(() => readLockfiles(odd, [])).toThrow("package.json.dependencies.x: expected string");
  });
});

it.each([
  ["left-pad", "left-pad"],
  ["left-pad@^1.0.0", "left-pad"],
  ["@acme/x@1", "@acme/x"],
  ["a>@acme/b@2", "@acme/b"],
  ["a@1>b", "b"],
  ["**/@acme/d", "@acme/d"],
  ["parent/child", "child"],
  ["x@npm:1/@acme/e", "@acme/e"],
  ["", undefined],
])("the overridden name of %j is %j", (selector, name) => {
  expect(overriddenName(selector)).toBe(name);
});

describe("workspace patterns", () => {
  it("match folder paths with *, ** and !negation", () => {
    expect(globToRegExp("packages/*").test("packages/a")).toBe(true);
    expect(globToRegExp("packages/*").test("packages/a/b")).toBe(false);
    expect(globToRegExp("./apps/**").test("apps/a/b")).toBe(true);
    expect(globToRegExp("apps/**/web").test("apps/web")).toBe(true);
    expect(globToRegExp("pkg-?").test("pkg-a")).toBe(true);
    expect(isWorkspacePath("packages/private", ["packages/*", "!packages/private"])).toBe(false);
    expect(isWorkspacePath("./packages/a/", ["packages/*"])).toBe(true);
    expect(isWorkspacePath("../evil", ["packages/*"])).toBe(false);
  });

  it("expand on disk to folders holding a package.json, skipping node_modules", () => {
    const dir = project({
      "packages/a/package.json": {},
      "packages/b/README.md": "",
      "packages/c/package.json": {},
      "apps/x/y/package.json": {},
      "apps/node_modules/z/package.json": {},
      "tools/package.json": {},
    });
    expect(expandWorkspaces(dir, ["packages/*", "!packages/c", "apps/**", "tools"])).toEqual(["apps/x/y", "packages/a", "tools"]);
    expect(workspacePatternsOf({ workspaces: { packages: ["a/*"], nohoist: ["**"] } })).toEqual(["a/*"]);
    expect(workspacePatternsOf({ workspaces: "nope" })).toEqual([]);
  });
});
