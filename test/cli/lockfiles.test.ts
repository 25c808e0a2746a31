import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readLockfiles, readNpmLockfile, readPnpmLockfile } from "../../scripts/cli/lockfiles.js";
import { registryOfTarball } from "../../scripts/cli/project.js";

const dir = () => mkdtempSync(join(tmpdir(), "countersign-lock-"));
const write = (path: string, text: string) => (writeFileSync(path, text), path);
const SRI = `sha512-${"A".repeat(86)}==`;

describe("package-lock.json", () => {
  it.each([2, 3])("reads lockfileVersion %i: nested, aliased, bundled and linked entries", (lockfileVersion) => {
    const path = write(
      join(dir(), "package-lock.json"),
      JSON.stringify({
        lockfileVersion,
        packages: {
          "": { name: "app", dependencies: {} },
          "node_modules/@acme/utils": { version: "1.0.0", resolved: "https://r/@acme/utils/-/utils-1.0.0.tgz", integrity: SRI },
          "node_modules/a/node_modules/@acme/utils": { version: "0.9.0", integrity: SRI },
          "node_modules/my-alias": { name: "@acme/real", version: "2.0.0", integrity: SRI },
          "node_modules/host/node_modules/inside": { version: "1.0.0", inBundle: true },
          "node_modules/workspace-a": { resolved: "packages/a", link: true },
          "packages/a": { name: "workspace-a", version: "0.0.0" },
        },
        ...(lockfileVersion === 2 ? { dependencies: { "@acme/utils": { version: "1.0.0" } } } : {}),
      }),
    );
    expect(readNpmLockfile(path).map((p) => [p.name, p.version, p.bundled ?? false])).toEqual([
      ["@acme/utils", "1.0.0", false],
      ["@acme/utils", "0.9.0", false],
      ["@acme/real", "2.0.0", false],
      ["inside", "1.0.0", true],
    ]);
  });

  it.each([
    ['{"lockfileVersion": 1, "dependencies": {}}', "lockfileVersion 1 is not supported"],
    ["not json", "not valid JSON"],
    ['{"lockfileVersion": 3}', "no packages section"],
    ['{"lockfileVersion": 3, "packages": {"node_modules/x": {}}}', "has no version"],
  ])("refuses %s", (text, message) => {
    expect(() => readNpmLockfile(write(join(dir(), "package-lock.json"), text))).toThrow(message);
  });
});

describe("pnpm-lock.yaml", () => {
  it("reads lockfileVersion 9.0", () => {
    const path = write(
      join(dir(), "pnpm-lock.yaml"),
      `lockfileVersion: '9.0'\nimporters:\n  .:\n    dependencies: {}\npackages:\n  '@acme/utils@1.0.0':\n    resolution: {integrity: ${SRI}}\n  left-pad@1.3.0:\n    resolution: {integrity: ${SRI}, tarball: https://r/left-pad/-/left-pad-1.3.0.tgz}\nsnapshots: {}\n`,
    );
    expect(readPnpmLockfile(path)).toEqual([
      { name: "@acme/utils", version: "1.0.0", integrity: SRI, lockfile: path },
      { name: "left-pad", version: "1.3.0", integrity: SRI, resolved: "https://r/left-pad/-/left-pad-1.3.0.tgz", lockfile: path },
    ]);
  });

  it("reads lockfileVersion 6.0 keys with peer suffixes", () => {
    const path = write(join(dir(), "pnpm-lock.yaml"), `lockfileVersion: '6.0'\npackages:\n  /@acme/ui@2.0.0(react@18.2.0):\n    resolution: {integrity: ${SRI}}\n`);
    expect(readPnpmLockfile(path).map((p) => `${p.name}@${p.version}`)).toEqual(["@acme/ui@2.0.0"]);
  });

  it("refuses unsupported versions", () => {
    expect(() => readPnpmLockfile(write(join(dir(), "pnpm-lock.yaml"), "lockfileVersion: 5.4\npackages: {}\n"))).toThrow("not supported");
  });
});

it("finds the lockfiles in a directory, and says so when there are none", () => {
  const d = dir();
  expect(() => readLockfiles(d, [])).toThrow("no lockfile");
  write(join(d, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": {} } }));
  expect(readLockfiles(d, [])).toEqual([]);
});

it("derives a package's registry from its tarball URL", () => {
  expect(registryOfTarball("https://npm.acme.dev/path/@acme/utils/-/utils-1.0.0.tgz", "@acme/utils")).toBe("https://npm.acme.dev/path");
  expect(registryOfTarball("http://127.0.0.1:8787/@acme%2futils/-/utils-1.0.0.tgz", "@acme/utils")).toBe("http://127.0.0.1:8787");
  expect(registryOfTarball("git+ssh://git@github.com/x.git", "x")).toBeUndefined();
  expect(registryOfTarball(undefined, "x")).toBeUndefined();
});
