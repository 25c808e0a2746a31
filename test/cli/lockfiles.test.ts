/**
 * Finding and reading a project's lockfiles (scripts/cli/lockfiles/index.ts): which files, in
 * which order, what happens with none, several, or an unknown one. Each format has its own
 * test file (lockfiles-npm, -pnpm, -yarn, -bun), as do the package.json cross-check and the
 * registry configuration.
 */
import { copyFileSync, cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { CliError, EXIT } from "../../scripts/cli/errors.js";
import { LOCKFILES as HOOK_LOCKFILES } from "../../scripts/cli/lockfile-names.js";
import { LOCKFILES, readLockfile, readLockfileOnly, readLockfiles } from "../../scripts/cli/lockfiles/index.js";

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/lockfiles/${name}`, import.meta.url));
const dir = () => mkdtempSync(join(tmpdir(), "countersign-lock-"));

describe("readLockfiles", () => {
  it("knows every lockfile name, from a dependency-free module the runtime hook can import", () => {
    expect(LOCKFILES).toBe(HOOK_LOCKFILES);
    expect([...LOCKFILES]).toEqual(["npm-shrinkwrap.json", "package-lock.json", "pnpm-lock.yaml", "yarn.lock", "bun.lock", "bun.lockb"]);
    expect(readFileSync(fileURLToPath(new URL("../../scripts/cli/lockfile-names.ts", import.meta.url)), "utf8")).not.toMatch(/^import /m);
  });

  it("says so when there is no lockfile, or a given one does not exist", () => {
    const d = dir();
    const error = (() => {
      try {
        readLockfiles(d, []);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(CliError);
    expect((error as CliError).exitCode).toBe(EXIT.usage);
    expect((error as CliError).message).toContain("no lockfile in");
    expect(() => readLockfiles(d, [join(d, "package-lock.json")])).toThrow("does not exist");
  });

  it("reads every lockfile present, each with its own manager", () => {
    const d = dir();
    cpSync(fixture("bun"), d, { recursive: true });
    copyFileSync(join(fixture("npm"), "package-lock.json"), join(d, "package-lock.json"));
    copyFileSync(join(fixture("pnpm"), "pnpm-lock.yaml"), join(d, "pnpm-lock.yaml"));
    copyFileSync(join(fixture("yarn-berry"), "yarn.lock"), join(d, "yarn.lock"));
    const entries = readLockfiles(d, []);
    const managerOf = new Map(entries.filter((e) => !e.lockfile.endsWith("package.json")).map((e) => [e.lockfile, e.manager]));
    expect(Object.fromEntries(managerOf)).toEqual({
      [join(d, "package-lock.json")]: "npm",
      [join(d, "pnpm-lock.yaml")]: "pnpm",
      [join(d, "yarn.lock")]: "yarn-berry",
      [join(d, "bun.lock")]: "bun",
    });
  });

  it("reads only the lockfiles given, whatever their file names", () => {
    const d = dir();
    copyFileSync(join(fixture("npm"), "package-lock.json"), join(d, "package-lock.json"));
    copyFileSync(join(fixture("pnpm"), "pnpm-lock.yaml"), join(d, "other.yaml"));
    expect(new Set(readLockfiles(d, [join(d, "other.yaml")]).map((e) => e.manager))).toEqual(new Set(["pnpm"]));
    writeFileSync(join(d, "deps.txt"), "");
    expect(() => readLockfiles(d, [join(d, "deps.txt")])).toThrow(`${join(d, "deps.txt")}: is not a lockfile this reader knows`);
  });

  it("an empty project has no entries, but still a manager", () => {
    const d = dir();
    writeFileSync(join(d, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": {} } }));
    expect(readLockfiles(d, [])).toEqual([]);
    expect(readLockfileOnly(join(d, "package-lock.json"))).toEqual({ manager: "npm", entries: [] });
    expect(readLockfile(join(d, "package-lock.json"))).toEqual([]);
  });

  it("every entry has at least one installed name, and never a skipped kind", () => {
    for (const name of ["npm", "npm-v2", "npm-shrinkwrap", "pnpm", "pnpm-v6", "yarn-classic", "yarn-berry", "bun"]) {
      for (const entry of readLockfiles(fixture(name), [])) {
        expect(entry.installedAs.length, `${name} ${entry.location}`).toBeGreaterThan(0);
        expect(["registry", "bundled", "link", "directory", "tarball", "git", "workspace", "patch"]).toContain(entry.kind);
      }
    }
  });
});
