/**
 * `countersign add` writes the lockfile of the package manager the project uses — npm, pnpm,
 * yarn berry, yarn 1 and bun, each the real tool run from PATH — and checks, with countersign's
 * own lockfile readers, that it locked exactly the countersigned bytes:
 *
 * - in a project of each manager, `add` updates that manager's lockfile (and no other appears),
 *   then `countersign verify` passes;
 * - when the manager fetches the scope from a registry serving other bytes under the same
 *   version, `add` fails and puts package.json and the lockfile back as they were.
 *
 * The projects use each manager's documented configuration for a team registry: .npmrc,
 * .yarnrc.yml npmScopes, bunfig.toml [install.scopes], and the release-age exclusions for the
 * team's own scope (pnpm minimumReleaseAgeExclude, yarn npmPreapprovedPackages).
 */

import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolPublisher, publishDir, writePackage } from "../helpers/actors.js";
import { runCli } from "../helpers/cli.js";
import { bun, writeBunProject, writeYarnBerryProject, writeYarnClassicProject, yarnBerry, yarnClassic, type ManagerProject } from "../helpers/managers.js";
import { pnpm, writeConsumer, type Run } from "../helpers/npm.js";
import { ROOT } from "../helpers/paths.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { teamPins, verifyJson } from "../helpers/verify.js";

let team: TestRegistry;
let rogue: TestRegistry;
let work: string;
let teamIntegrity: string;
/** A folder of `yarn` shims: `yarn` on PATH is yarn 1 in one, yarn berry in the other. */
let shims: { classic: string; berry: string };

function shim(dir: string, script: string): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "yarn"), `#!/bin/sh\nexec ${JSON.stringify(process.execPath)} ${JSON.stringify(script)} "$@"\n`);
  chmodSync(join(dir, "yarn"), 0o755);
  return dir;
}

beforeAll(async () => {
  [team, rogue] = await Promise.all([startRegistry({ name: "acme-team" }), startRegistry({ name: "public" })]);
  work = mkdtempSync(join(tmpdir(), "countersign-add-managers-"));
  const alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  const mallory = await enrolPublisher(rogue, "@acme", join(work, "mallory.json"));
  await publishDir(team, alice, writePackage(join(work, "pkgs", "base"), "@acme/base", "1.0.0", "team base"));
  ({ integrity: teamIntegrity } = await publishDir(team, alice, writePackage(join(work, "pkgs", "utils"), "@acme/utils", "1.0.0", "team utils")));
  // The same name and version, other bytes: what a misrouted scope would lock.
  await publishDir(rogue, mallory, writePackage(join(work, "pkgs", "rogue-base"), "@acme/base", "1.0.0", "rogue base"));
  await publishDir(rogue, mallory, writePackage(join(work, "pkgs", "rogue-utils"), "@acme/utils", "1.0.0", "rogue utils"));
  shims = {
    classic: shim(join(work, "bin-classic"), join(ROOT, "node_modules", "yarn", "bin", "yarn.js")),
    berry: shim(join(work, "bin-berry"), join(ROOT, "node_modules", "@yarnpkg", "cli-dist", "bin", "yarn.js")),
  };
});

afterAll(async () => {
  await Promise.all([team?.stop(), rogue?.stop()]);
});

interface Manager {
  label: string;
  lockfile: string;
  write(dir: string, project: ManagerProject): string;
  install(dir: string): Promise<Run>;
  /** The environment `countersign add` runs the manager in (PATH first). */
  env(dir: string): Record<string, string>;
}

const path = (...first: string[]) => [...first, join(ROOT, "node_modules", ".bin"), process.env.PATH ?? ""].join(":");

const MANAGERS: Manager[] = [
  {
    label: "npm",
    lockfile: "package-lock.json",
    write: (dir, project) => writeConsumer(dir, { ...project, resolved: true }),
    install: async () => ({ code: 0, stdout: "", stderr: "" }), // npm: add writes the first lockfile itself
    env: (dir) => ({ PATH: path(), npm_config_cache: join(dir, ".npm-cache") }),
  },
  {
    label: "pnpm",
    lockfile: "pnpm-lock.yaml",
    write(dir, project) {
      writeConsumer(dir, { ...project, resolved: false });
      // The team's own versions are new by definition: exempt its scope from pnpm's release-age gate.
      writeFileSync(join(dir, "pnpm-workspace.yaml"), ["minimumReleaseAgeExclude:", "  - '@acme/*'", `storeDir: ${JSON.stringify(join(dir, ".pnpm-store"))}`, `cacheDir: ${JSON.stringify(join(dir, ".pnpm-cache"))}`, ""].join("\n"));
      return dir;
    },
    install: (dir) => pnpm(["install"], dir),
    env: (dir) => ({ PATH: path(), npm_config_cache: join(dir, ".npm-cache") }),
  },
  {
    label: "yarn berry",
    lockfile: "yarn.lock",
    write(dir, project) {
      writeYarnBerryProject(dir, project);
      // The helper turns the age gate off; the documented setting instead pre-approves the team's scope.
      const yarnrc = readFileSync(join(dir, ".yarnrc.yml"), "utf8").replace(/^npmMinimalAgeGate: 0\n/m, "").replace(/^ {4}npmMinimalAgeGate: 0\n/m, "");
      writeFileSync(join(dir, ".yarnrc.yml"), `${yarnrc}npmPreapprovedPackages:\n  - "@acme/*"\n`);
      return dir;
    },
    install: (dir) => yarnBerry(["install"], dir),
    env: (dir) => ({ PATH: path(shims.berry), YARN_ENABLE_TELEMETRY: "0", YARN_ENABLE_GLOBAL_CACHE: "0", YARN_CACHE_FOLDER: join(dir, ".yarn-cache"), YARN_GLOBAL_FOLDER: join(dir, ".yarn-global") }),
  },
  {
    label: "yarn classic",
    lockfile: "yarn.lock",
    write: writeYarnClassicProject,
    install: (dir) => yarnClassic(["install"], dir),
    env: (dir) => ({ PATH: path(shims.classic), YARN_CACHE_FOLDER: join(dir, ".yarn-cache") }),
  },
  {
    label: "bun",
    lockfile: "bun.lock",
    write: writeBunProject,
    install: (dir) => bun(["install"], dir),
    env: (dir) => ({ PATH: path(), BUN_INSTALL_CACHE_DIR: join(dir, ".bun-cache"), DO_NOT_TRACK: "1" }),
  },
];

const OTHER_LOCKFILES = ["package-lock.json", "npm-shrinkwrap.json", "pnpm-lock.yaml", "yarn.lock", "bun.lock"];

describe.each(MANAGERS)("$label", (manager) => {
  const slug = manager.label.replace(/ /g, "-");

  it("add writes this manager's lockfile with the countersigned integrity, and verify passes", async () => {
    const dir = manager.write(join(work, `${slug}-good`), { registry: rogue.url, acmeRegistry: team.url, dependencies: { "@acme/base": "1.0.0" }, pins: teamPins(team) });
    const install = await manager.install(dir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    const before = existsSync(join(dir, manager.lockfile)) ? readFileSync(join(dir, manager.lockfile), "utf8") : "";

    const out = await runCli(["add", "@acme/utils@^1.0.0", "--json"], { cwd: dir, env: manager.env(dir) });
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toMatchObject({ name: "@acme/utils", version: "1.0.0", integrity: teamIntegrity, lockfile: join(dir, manager.lockfile) });
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).dependencies).toEqual({ "@acme/base": "1.0.0", "@acme/utils": "1.0.0" });
    const after = readFileSync(join(dir, manager.lockfile), "utf8");
    expect(after).not.toBe(before);
    expect(after).toContain("@acme/utils");
    if (manager.label !== "yarn berry") expect(after).toContain(teamIntegrity); // berry records its own zip checksum
    for (const other of OTHER_LOCKFILES.filter((f) => f !== manager.lockfile)) expect(existsSync(join(dir, other)), other).toBe(false);

    const { code, report } = await verifyJson(dir);
    expect(report.lockfiles).toEqual([join(dir, manager.lockfile)]);
    expect(report.packages.find((p) => p.name === "@acme/utils")).toMatchObject({ version: "1.0.0", status: "verified" });
    expect(code).toBe(0);
  });

  it("the scope fetched from elsewhere: add fails and changes nothing", async () => {
    // No scope line: the manager would fetch @acme from the other registry, which serves other bytes as 1.0.0.
    const dir = manager.write(join(work, `${slug}-misrouted`), { registry: rogue.url, dependencies: {}, pins: teamPins(team) });
    const manifest = readFileSync(join(dir, "package.json"), "utf8");
    const lock = existsSync(join(dir, manager.lockfile)) ? readFileSync(join(dir, manager.lockfile), "utf8") : undefined;

    const out = await runCli(["add", "@acme/utils@^1.0.0", "--manager", manager.label.split(" ")[0]!], { cwd: dir, env: manager.env(dir) });
    expect(out.code, out.stdout + out.stderr).toBe(1);
    expect(out.stderr).toContain("did not lock the countersigned @acme/utils@1.0.0");
    expect(out.stderr).toContain("Nothing was changed");
    expect(readFileSync(join(dir, "package.json"), "utf8")).toBe(manifest);
    expect(existsSync(join(dir, manager.lockfile)) ? readFileSync(join(dir, manager.lockfile), "utf8") : undefined).toBe(lock);
    expect(existsSync(join(dir, "node_modules", "@acme", "utils"))).toBe(false);
  });
});

describe("which manager", () => {
  it("no lockfile: packageManager in package.json decides (bun)", async () => {
    const dir = writeBunProject(join(work, "declared-bun"), { registry: rogue.url, acmeRegistry: team.url, dependencies: {}, pins: teamPins(team) });
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
    writeFileSync(join(dir, "package.json"), JSON.stringify({ ...manifest, packageManager: "bun@1.4.5" }, null, 2));
    const out = await runCli(["add", "@acme/utils", "--json"], { cwd: dir, env: MANAGERS.find((m) => m.label === "bun")!.env(dir) });
    expect(out.code, out.stderr).toBe(0);
    expect(existsSync(join(dir, "bun.lock"))).toBe(true);
    expect(existsSync(join(dir, "package-lock.json"))).toBe(false);
  });

  it("yarn's release-age gate holding back the team's new version: add says which setting, and changes nothing", async () => {
    const dir = writeYarnBerryProject(join(work, "berry-gated"), { registry: rogue.url, acmeRegistry: team.url, dependencies: {}, pins: teamPins(team) });
    writeFileSync(join(dir, ".yarnrc.yml"), readFileSync(join(dir, ".yarnrc.yml"), "utf8").replace(/^ *npmMinimalAgeGate: 0\n/gm, ""));
    const manifest = readFileSync(join(dir, "package.json"), "utf8");
    const out = await runCli(["add", "@acme/utils"], { cwd: dir, env: MANAGERS.find((m) => m.label === "yarn berry")!.env(dir) });
    expect(out.code, out.stderr).toBe(3);
    expect(out.stderr).toContain("quarantined");
    expect(out.stderr).toContain("npmPreapprovedPackages");
    expect(readFileSync(join(dir, "package.json"), "utf8")).toBe(manifest);
    expect(readFileSync(join(dir, "yarn.lock"), "utf8")).toBe("");
  });

  it("pnpm with the countersign hook: add locks through it (and says so), the lockfile installs frozen", async () => {
    const pnpmManager = MANAGERS.find((m) => m.label === "pnpm")!;
    const dir = pnpmManager.write(join(work, "pnpm-hooked"), { registry: rogue.url, acmeRegistry: team.url, dependencies: {}, pins: teamPins(team) });
    copyFileSync(join(ROOT, "dist", "pnpmfile.cjs"), join(dir, ".pnpmfile.cjs"));
    const out = await runCli(["add", "@acme/utils", "--manager", "pnpm"], { cwd: dir, env: pnpmManager.env(dir) });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain("pnpm hook afterAllResolved: countersign: every package of a pinned namespace verified");
    const install = await pnpm(["install", "--frozen-lockfile"], dir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect((await verifyJson(dir)).code).toBe(0);
  });

  it("pnpm with the countersign hook: the hook refuses the misrouted version while add has pnpm lock it", async () => {
    const dir = MANAGERS.find((m) => m.label === "pnpm")!.write(join(work, "pnpm-hooked-misrouted"), { registry: rogue.url, dependencies: {}, pins: teamPins(team) });
    copyFileSync(join(ROOT, "dist", "pnpmfile.cjs"), join(dir, ".pnpmfile.cjs"));
    const manifest = readFileSync(join(dir, "package.json"), "utf8");
    const out = await runCli(["add", "@acme/utils", "--manager", "pnpm"], { cwd: dir, env: MANAGERS.find((m) => m.label === "pnpm")!.env(dir) });
    expect(out.code, out.stderr).toBe(1);
    expect(out.stderr).toContain("pnpm refused to lock @acme/utils@1.0.0: countersign: @acme/utils@1.0.0: binding layer rejected [untrusted_registry] in @acme");
    expect(readFileSync(join(dir, "package.json"), "utf8")).toBe(manifest);
    expect(existsSync(join(dir, "pnpm-lock.yaml"))).toBe(false);
  });

  it("bun.lockb is refused with the way to the text lockfile", async () => {
    const dir = writeBunProject(join(work, "lockb"), { registry: rogue.url, acmeRegistry: team.url, dependencies: {}, pins: teamPins(team) });
    writeFileSync(join(dir, "bun.lockb"), Buffer.from([0x23, 0x21]));
    const out = await runCli(["add", "@acme/utils"], { cwd: dir });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("bun.lock");
  });

  it("lockfiles of two managers: add asks which one with --manager", async () => {
    const dir = writeConsumer(join(work, "two"), { registry: rogue.url, acmeRegistry: team.url, resolved: false, dependencies: {}, pins: teamPins(team) });
    writeFileSync(join(dir, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": {} } }));
    writeFileSync(join(dir, "pnpm-lock.yaml"), "lockfileVersion: '9.0'\n");
    const out = await runCli(["add", "@acme/utils"], { cwd: dir });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("--manager");
  });
});
