/**
 * yarn.lock: the fixtures written by real yarn 1.22 and yarn 4.18 (test/fixtures/lockfiles/generate.mjs),
 * and hand-made lockfiles for aliases into pinned names, archive URLs, git, exec: and broken files.
 */
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fixture, refusal, row, scratchLockfile, SRI } from "../helpers/lockfiles.js";
import { readLockfiles, readYarnLockfile } from "../../scripts/cli/lockfiles/index.js";


function lockfile(text: string): string {
  return scratchLockfile("yarn.lock", text);
}

const BERRY_HEADER = "__metadata:\n  version: 8\n  cacheKey: 10c0\n\n";

describe("yarn.lock written by yarn 1.22 (classic)", () => {
  it("reads every entry; the workspace yarn leaves out comes from package.json", () => {
    const entries = readLockfiles(fixture("yarn-classic"), []);
    expect(entries.map(row)).toEqual([
      "registry @acme/core = @acme/core@2.0.0 +integrity",
      "link @acme/linked = @acme/linked@0.0.0", // yarn 1.22 did write this link: entry (version 0.0.0)
      "directory @acme/local-dir = @acme/local-dir@1.0.0",
      "registry @acme/pad = left-pad@1.3.0 +integrity",
      "registry @acme/utils = @acme/utils@1.0.0 +integrity",
      "registry @acme/utils = @acme/utils@1.1.0 +integrity",
      "git git-dep = git-dep@1.0.0",
      "registry has-bundled = has-bundled@1.0.0 +integrity",
      "registry left-pad = left-pad@1.2.0 +integrity",
      "registry left-pad = left-pad@1.3.0 +integrity",
      "tarball local-tgz = local-tgz@1.0.0",
      "registry my-utils = @acme/utils@1.0.0 +integrity",
      "registry pad-alias = left-pad@1.3.0 +integrity",
      "tarball remote-tgz = remote-tgz@1.0.0",
      "workspace @acme/ws-a = @acme/ws-a@1.0.0",
    ]);
    expect(entries.slice(0, -1).every((e) => e.manager === "yarn-classic" && e.integrityOfTarball && e.lockfile === join(fixture("yarn-classic"), "yarn.lock"))).toBe(true);
    expect(entries.at(-1)).toMatchObject({ lockfile: join(fixture("yarn-classic"), "packages/ws-a/package.json"), location: 'package.json workspaces "packages/ws-a"', resolved: "packages/ws-a" });
    expect(entries[0]?.resolved).toBe("http://127.0.0.1:4873/acme/@acme/core/-/core-2.0.0.tgz#bed2d7520a21a7c92a0e606cae476b68335f1691");
    expect(entries[1]?.resolved).toBe("./local/linked");
  });

  it("one entry per descriptor, github: as git, and plain ranges resolved elsewhere by their resolved URL", () => {
    const path = lockfile(`# yarn lockfile v1


"@acme/utils@^1.0.0", "@acme/utils@1.0.0", "alias@npm:@acme/utils@^1":
  version "1.0.0"
  resolved "https://registry.yarnpkg.com/@acme/utils/-/utils-1.0.0.tgz#0123"
  integrity ${SRI}

"gh@github:o/gh", gh2@o/gh:
  version "1.0.0"
  resolved "https://codeload.github.com/o/gh/tar.gz/0123456789abcdef"

overridden@^1.0.0:
  version "1.0.0"
  resolved "file:vendor/overridden-1.0.0.tgz#0123"
`);
    expect(readYarnLockfile(path).map((e) => `${row(e)} ${e.kind === "registry" ? "" : e.resolved}`)).toEqual([
      "registry @acme/utils = @acme/utils@1.0.0 +integrity ",
      "registry @acme/utils = @acme/utils@1.0.0 +integrity ",
      "registry alias = @acme/utils@1.0.0 +integrity ",
      "git gh = gh@1.0.0 https://codeload.github.com/o/gh/tar.gz/0123456789abcdef",
      "git gh2 = gh2@1.0.0 https://codeload.github.com/o/gh/tar.gz/0123456789abcdef",
      "tarball overridden = overridden@1.0.0 file:vendor/overridden-1.0.0.tgz#0123",
    ]);
  });

  it.each([
    ['a@^1.0.0:\n  version "1.0.0"\n', '"a@^1.0.0": has no resolved URL'],
    ['a@^1.0.0:\n  version "1.0.0"\n  resolved "ftp://r.example/a.tgz"\n', "has a resolved URL this reader does not know"],
    ['"a@weird:thing":\n  version "1.0.0"\n', 'has a range this reader does not know: "weird:thing"'],
    ['a@^1.0.0:\n  resolved "https://r.example/a/-/a-1.0.0.tgz"\n', "\"a@^1.0.0\".version: expected string"],
  ])("refuses %j", (body, message) => {
    const path = lockfile(`# yarn lockfile v1\n\n\n${body}`);
    const error = refusal(() => readYarnLockfile(path));
    expect(error).toContain(path);
    expect(error).toContain(message);
  });
});

describe("yarn.lock written by yarn 4.18 (berry)", () => {
  it("installed as the descriptors' names, named by the resolution; checksums are not integrity", () => {
    const entries = readLockfiles(fixture("yarn-berry"), []);
    expect(entries.map(row)).toEqual([
      "registry @acme/core = @acme/core@2.0.0",
      "link @acme/linked = @acme/linked@1.0.0",
      "directory @acme/local-dir = @acme/local-dir@1.0.0",
      // The unpatched left-pad: @acme/pad and pad-alias are aliases of it, left-pad@npm:1.3.0 the patch's source.
      "registry @acme/pad,left-pad,pad-alias = left-pad@1.3.0",
      "link @acme/portal = @acme/portal@1.0.0",
      "registry @acme/utils,my-utils = @acme/utils@1.0.0",
      "registry @acme/utils = @acme/utils@1.1.0",
      "workspace @acme/ws-a = @acme/ws-a@1.0.0",
      "git git-dep = git-dep@1.0.0",
      "registry has-bundled = has-bundled@1.0.0",
      "registry left-pad = left-pad@1.2.0",
      "patch left-pad = left-pad@1.3.0",
      "tarball local-tgz = local-tgz@1.0.0",
      "tarball remote-tgz = remote-tgz@1.0.0",
      "registry resolve = resolve@1.22.8",
      // yarn patches resolve by itself (optional!builtin<compat/resolve>).
      "patch resolve = resolve@1.22.8",
    ]);
    expect(entries.every((e) => e.manager === "yarn-berry" && !e.integrityOfTarball && e.integrity === undefined)).toBe(true);
    const resolvedOf = (kind: string, name: string) => entries.find((e) => e.kind === kind && e.name === name)?.resolved;
    expect(resolvedOf("patch", "resolve")).toBe("patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>");
    expect(resolvedOf("git", "git-dep")).toMatch(/^git\+http:\/\/127\.0\.0\.1:4873\/git\/git-dep\.git#commit=[0-9a-f]{40}$/);
    expect(resolvedOf("tarball", "local-tgz")).toBe("./vendor/local-tgz-1.0.0.tgz");
    expect(resolvedOf("registry", "@acme/core")).toBeUndefined();
    expect(entries.some((e) => e.name === "fixture-app")).toBe(false); // the root workspace is the project
  });

  it("an unscoped package aliased into a pinned name, and an archive URL", () => {
    const path = lockfile(`${BERRY_HEADER}"@acme/utils@npm:evil@^1.0.0":
  version: 1.0.0
  resolution: "evil@npm:1.0.0::__archiveUrl=https%3A%2F%2Frogue.example%2Fevil-1.0.0.tgz"
  checksum: 10c0/0123
  languageName: node
  linkType: hard

"gh@https://github.com/o/gh.git#commit=0123456789abcdef0123456789abcdef01234567":
  version: 1.0.0
  resolution: "gh@https://github.com/o/gh.git#commit=0123456789abcdef0123456789abcdef01234567"
  languageName: node
  linkType: hard

"fixture-app@workspace:., fixture-app@workspace:*":
  version: 0.0.0-use.local
  resolution: "fixture-app@workspace:."
  languageName: unknown
  linkType: soft
`);
    expect(readYarnLockfile(path)).toEqual([
      { lockfile: path, manager: "yarn-berry", location: '"@acme/utils@npm:evil@^1.0.0"', installedAs: ["@acme/utils"], kind: "registry", name: "evil", version: "1.0.0", integrityOfTarball: false, resolved: "https://rogue.example/evil-1.0.0.tgz" },
      { lockfile: path, manager: "yarn-berry", location: '"gh@https://github.com/o/gh.git#commit=0123456789abcdef0123456789abcdef01234567"', installedAs: ["gh"], kind: "git", name: "gh", version: "1.0.0", integrityOfTarball: false, resolved: "https://github.com/o/gh.git#commit=0123456789abcdef0123456789abcdef01234567" },
      // A workspace depends on the root by name: then the root is installed under it.
      { lockfile: path, manager: "yarn-berry", location: '"fixture-app@workspace:., fixture-app@workspace:*"', installedAs: ["fixture-app"], kind: "workspace", name: "fixture-app", version: "0.0.0-use.local", integrityOfTarball: false, resolved: "." },
    ]);
  });

  it.each([
    ['"gen@exec:./gen.js::locator=app%40workspace%3A.":\n  version: 1.0.0\n  resolution: "gen@exec:./gen.js::locator=app%40workspace%3A."\n', "is an exec: dependency, whose files a script generates at install time"],
    ['"x@weird:thing":\n  version: 1.0.0\n  resolution: "x@weird:thing"\n', 'has a resolution protocol this reader does not know: "weird:thing"'],
    ['"x@npm:1.0.0":\n  version: 1.0.0\n', '"x@npm:1.0.0".resolution: expected string'],
    ['"x@npm:1.0.0":\n  version: 1.0.0\n  resolution: "nonsense"\n', "has a resolution this reader cannot read"],
  ])("refuses %j naming file and entry", (body, message) => {
    const path = lockfile(`${BERRY_HEADER}${body}`);
    const error = refusal(() => readYarnLockfile(path));
    expect(error).toContain(path);
    expect(error).toContain(message);
  });

  it.each([
    ["__metadata:\n  version: 99\n", "__metadata.version 99 is not supported"],
    ["a: [\n", "is not a valid yarn lockfile"],
    ["a:\n  version: 1\n", "is neither a Yarn 1 lockfile"],
  ])("refuses the file %j", (text, message) => {
    expect(refusal(() => readYarnLockfile(lockfile(text)))).toContain(message);
  });
});
