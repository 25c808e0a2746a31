/**
 * yarn (berry and classic) and bun projects get the same fail-closed verification as npm ones,
 * end to end with the real tools against two countersign registries on 127.0.0.1:
 *
 * - a correct configuration installs the team's @acme/utils, and verify accepts it;
 * - a configuration without the @acme scope line installs the rogue's @acme/utils, and verify
 *   rejects it at the binding layer (for yarn berry, whose lockfile checksum is of its own zip,
 *   verify hashes the tarball the configured registry serves and binds that to the signed digest);
 * - an alias into @acme and a link at @acme are rejected, naming where they are installed.
 */

import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolPublisher, publishDir, writePackage } from "../helpers/actors.js";
import { runCli } from "../helpers/cli.js";
import { teamPins, verifyJson } from "../helpers/verify.js";
import { bun, writeBunProject, writeYarnBerryProject, writeYarnClassicProject, yarnBerry, yarnClassic, type ManagerProject } from "../helpers/managers.js";
import { requireIn, type Run } from "../helpers/npm.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

let team: TestRegistry;
let rogue: TestRegistry;
let work: string;

const pins = () => teamPins(team);
const verify = (dir: string) => verifyJson(dir);

interface Manager {
  label: string;
  lockfile: string;
  /** How this manager spells a dependency on a local directory. */
  localSpec: string;
  write(dir: string, project: ManagerProject): string;
  install(dir: string): Promise<Run>;
}

const MANAGERS: Manager[] = [
  { label: "yarn berry", lockfile: "yarn.lock", localSpec: "link:./vendor/utils", write: writeYarnBerryProject, install: (dir) => yarnBerry(["install"], dir) },
  { label: "yarn classic", lockfile: "yarn.lock", localSpec: "link:./vendor/utils", write: writeYarnClassicProject, install: (dir) => yarnClassic(["install"], dir) },
  { label: "bun", lockfile: "bun.lock", localSpec: "file:./vendor/utils", write: writeBunProject, install: (dir) => bun(["install"], dir) },
];

beforeAll(async () => {
  [team, rogue] = await Promise.all([startRegistry({ name: "acme-team" }), startRegistry({ name: "public" })]);
  work = mkdtempSync(join(tmpdir(), "countersign-managers-"));
  const alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  const mallory = await enrolPublisher(rogue, "@acme", join(work, "mallory.json"));
  const malloryUnscoped = await enrolPublisher(rogue, "evil-utils", join(work, "mallory.json"));
  await publishDir(team, alice, writePackage(join(work, "pkgs", "utils"), "@acme/utils", "1.0.0", "team utils"));
  await publishDir(rogue, mallory, writePackage(join(work, "pkgs", "rogue-utils"), "@acme/utils", "1.9.9", "rogue utils"));
  await publishDir(rogue, malloryUnscoped, writePackage(join(work, "pkgs", "evil"), "evil-utils", "1.0.0", "rogue code"));
});

afterAll(async () => {
  await Promise.all([team?.stop(), rogue?.stop()]);
});

describe.each(MANAGERS)("$label", (manager) => {
  const slug = manager.label.replace(/ /g, "-");

  it("correct configuration: installs the team's package, verify accepts", async () => {
    const dir = manager.write(join(work, `${slug}-good`), { registry: rogue.url, acmeRegistry: team.url, dependencies: { "@acme/utils": "^1.0.0" }, pins: pins() });
    const install = await manager.install(dir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(existsSync(join(dir, manager.lockfile))).toBe(true);
    expect(await requireIn(dir, "@acme/utils")).toBe("team utils");
    const { code, report } = await verify(dir);
    expect(report.lockfiles).toContain(join(dir, manager.lockfile));
    expect(report.packages.find((p) => p.name === "@acme/utils")).toMatchObject({ version: "1.0.0", status: "verified" });
    expect(code).toBe(0);
  });

  it("scope line missing: installs the rogue's package, verify fails at the binding layer", async () => {
    const dir = manager.write(join(work, `${slug}-confused`), { registry: rogue.url, dependencies: { "@acme/utils": "^1.0.0" }, pins: pins() });
    const install = await manager.install(dir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("rogue utils");
    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    expect(report.packages.find((p) => p.name === "@acme/utils")).toMatchObject({
      version: "1.9.9",
      status: "failed",
      failure: { layer: "binding", code: "untrusted_registry", namespace: "@acme", expected: team.key.keyid, actual: rogue.key.keyid },
    });
  });

  it("an alias into @acme is rejected", async () => {
    const dir = manager.write(join(work, `${slug}-alias`), { registry: rogue.url, acmeRegistry: team.url, dependencies: { "@acme/utils": "npm:evil-utils@1.0.0" }, pins: pins() });
    const install = await manager.install(dir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("rogue code");
    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    expect(report.packages.find((p) => p.status === "failed")).toMatchObject({ name: "evil-utils", installedAs: expect.arrayContaining(["@acme/utils"]), failure: { code: "alias_into_pinned_namespace", namespace: "@acme" } });
  });

  it("a local directory at @acme is rejected, not skipped", async () => {
    const dir = manager.write(join(work, `${slug}-link`), { registry: rogue.url, acmeRegistry: team.url, dependencies: { "@acme/utils": manager.localSpec }, pins: pins() });
    writePackage(join(dir, "vendor", "utils"), "@acme/utils", "1.0.0", "committed code");
    const install = await manager.install(dir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("committed code");
    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    expect(report.packages.find((p) => p.status === "failed")).toMatchObject({ installedAs: expect.arrayContaining(["@acme/utils"]), failure: { code: "not_a_registry_package", namespace: "@acme" } });
  });
});

describe("bun's binary lockfile", () => {
  it("bun.lockb is refused with the way to get the text lockfile", async () => {
    const dir = writeBunProject(join(work, "bun-lockb"), { registry: rogue.url, acmeRegistry: team.url, dependencies: {}, pins: pins() });
    writeFileSync(join(dir, "bun.lockb"), Buffer.from([0x23, 0x21, 0x2f, 0x75, 0x73, 0x72]));
    const result = await runCli(["verify"], { cwd: dir });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("bun.lockb");
    expect(result.stderr).toContain("bun.lock");
  });
});
