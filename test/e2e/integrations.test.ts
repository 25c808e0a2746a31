/**
 * Enforcement inside the package managers, end to end with the real tools against two
 * countersign registries on 127.0.0.1 (the team's, and a rogue one with its own key serving the
 * same names at a higher version):
 *
 * - Bun: dist/bun-scanner.mjs as `[install.security] scanner` in bunfig.toml;
 * - pnpm: dist/pnpmfile.cjs as the project's .pnpmfile.cjs (afterAllResolved).
 *
 * A correctly configured project installs the team's countersigned package. A project whose
 * scope routing sends @acme to the rogue registry, an alias into @acme, a scope the pins reject
 * and a project without countersign.json all make the install itself fail with countersign's
 * one-line reason, and nothing of the rogue's reaches node_modules.
 */

import { execFile } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cleanEnv } from "../helpers/cli.js";
import { enrolPublisher, publishDir, writePackage } from "../helpers/actors.js";
import { bun, writeBunProject, type ManagerProject } from "../helpers/managers.js";
import { pnpm, requireIn, writeConsumer, type Run } from "../helpers/npm.js";
import { ROOT } from "../helpers/paths.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { teamPins, verifyJson } from "../helpers/verify.js";

const SCANNER = join(ROOT, "dist", "bun-scanner.mjs");
const PNPMFILE = join(ROOT, "dist", "pnpmfile.cjs");

let team: TestRegistry;
let rogue: TestRegistry;
let work: string;

beforeAll(async () => {
  [team, rogue] = await Promise.all([startRegistry({ name: "acme-team" }), startRegistry({ name: "public" })]);
  work = mkdtempSync(join(tmpdir(), "countersign-integrations-"));
  const alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  const mallory = await enrolPublisher(rogue, "@acme", join(work, "mallory.json"));
  const malloryOther = await enrolPublisher(rogue, "@other", join(work, "mallory.json"));
  const malloryUnscoped = await enrolPublisher(rogue, "evil-utils", join(work, "mallory.json"));
  await publishDir(team, alice, writePackage(join(work, "pkgs", "utils"), "@acme/utils", "1.0.0", "team utils"));
  await publishDir(rogue, mallory, writePackage(join(work, "pkgs", "rogue-utils"), "@acme/utils", "1.9.9", "rogue utils"));
  await publishDir(rogue, malloryOther, writePackage(join(work, "pkgs", "other"), "@other/thing", "1.0.0", "other thing"));
  await publishDir(rogue, malloryUnscoped, writePackage(join(work, "pkgs", "evil"), "evil-utils", "1.0.0", "rogue code"));
});

afterAll(async () => {
  await Promise.all([team?.stop(), rogue?.stop()]);
});

interface Integration {
  label: string;
  /** A project with the integration configured. */
  write(dir: string, project: ManagerProject): string;
  install(dir: string): Promise<Run>;
}

const INTEGRATIONS: Integration[] = [
  {
    label: "bun security scanner",
    write(dir, project) {
      writeBunProject(dir, project);
      writeFileSync(join(dir, "bunfig.toml"), `${readFileSync(join(dir, "bunfig.toml"), "utf8")}[install.security]\nscanner = ${JSON.stringify(SCANNER)}\n`);
      return dir;
    },
    install: (dir) => bun(["install"], dir),
  },
  {
    label: "pnpm hook",
    write(dir, project) {
      writeConsumer(dir, { ...project, resolved: false });
      // The self-contained bundle, committed as the project's pnpmfile: a fresh clone runs it too.
      copyFileSync(PNPMFILE, join(dir, ".pnpmfile.cjs"));
      return dir;
    },
    install: (dir) => pnpm(["install"], dir),
  },
];

const output = (run: Run) => run.stdout + run.stderr;
/** Whether the install's output says `text` (pnpm wraps long lines, anywhere: compare without whitespace). */
const says = (run: Run, text: string) => output(run).replace(/\s+/g, "").includes(text.replace(/\s+/g, ""));

describe.each(INTEGRATIONS)("$label", (integration) => {
  const slug = integration.label.replace(/ /g, "-");

  it("a correctly configured project installs the team's countersigned package, and verify agrees", async () => {
    const dir = integration.write(join(work, `${slug}-good`), { registry: rogue.url, acmeRegistry: team.url, dependencies: { "@acme/utils": "^1.0.0", "evil-utils": "1.0.0" }, pins: teamPins(team) });
    const install = await integration.install(dir);
    expect(install.code, output(install)).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("team utils");
    expect(await requireIn(dir, "evil-utils")).toBe("rogue code"); // unscoped: "*": "allow"
    const { code, report } = await verifyJson(dir);
    expect(report.summary).toMatchObject({ verified: 1, failed: 0 });
    expect(code).toBe(0);
  });

  it("the scope routed to a rogue registry: the install fails at the binding layer, nothing rogue installed", async () => {
    const dir = integration.write(join(work, `${slug}-confused`), { registry: rogue.url, dependencies: { "@acme/utils": "^1.0.0" }, pins: teamPins(team) });
    const install = await integration.install(dir);
    expect(install.code, output(install)).not.toBe(0);
    expect(says(install, "countersign:"), output(install)).toBe(true);
    expect(says(install, "@acme/utils@1.9.9: binding layer rejected [untrusted_registry] in @acme"), output(install)).toBe(true);
    expect(says(install, rogue.key.keyid), output(install)).toBe(true);
    expect(existsSync(join(dir, "node_modules", "@acme", "utils"))).toBe(false);
  });

  it("an alias into the pinned namespace fails the install", async () => {
    const dir = integration.write(join(work, `${slug}-alias`), { registry: rogue.url, acmeRegistry: team.url, dependencies: { "@acme/utils": "npm:evil-utils@1.0.0" }, pins: teamPins(team) });
    const install = await integration.install(dir);
    expect(install.code, output(install)).not.toBe(0);
    expect(says(install, "[alias_into_pinned_namespace]"), output(install)).toBe(true);
    expect(existsSync(join(dir, "node_modules", "@acme", "utils"))).toBe(false);
  });

  it("a scope under a reject rule fails the install", async () => {
    const dir = integration.write(join(work, `${slug}-reject`), { registry: rogue.url, acmeRegistry: team.url, dependencies: { "@other/thing": "1.0.0" }, pins: teamPins(team) });
    const install = await integration.install(dir);
    expect(install.code, output(install)).not.toBe(0);
    expect(says(install, "[unpinned_namespace] in @other"), output(install)).toBe(true);
    expect(existsSync(join(dir, "node_modules", "@other", "thing"))).toBe(false);
  });

  it("without countersign.json every package is refused (fail closed)", async () => {
    const dir = integration.write(join(work, `${slug}-nopins`), { registry: rogue.url, acmeRegistry: team.url, dependencies: { "evil-utils": "1.0.0" }, pins: teamPins(team) });
    rmSync(join(dir, "countersign.json"));
    const install = await integration.install(dir);
    expect(install.code, output(install)).not.toBe(0);
    expect(says(install, "no pins file at"), output(install)).toBe(true);
    expect(existsSync(join(dir, "node_modules", "evil-utils"))).toBe(false);
  });
});

describe("a lockfile that already locks the rogue package", () => {
  it("bun: the scanner runs on installs from bun.lock too (--frozen-lockfile): refused, nothing installed", async () => {
    const dir = writeBunProject(join(work, "bun-locked-rogue"), { registry: rogue.url, dependencies: { "@acme/utils": "^1.0.0" }, pins: teamPins(team) });
    expect((await bun(["install"], dir)).code).toBe(0); // before the scanner was configured
    rmSync(join(dir, "node_modules"), { recursive: true });
    INTEGRATIONS[0]!.write(dir, { registry: rogue.url, dependencies: { "@acme/utils": "^1.0.0" }, pins: teamPins(team) });
    const install = await bun(["install", "--frozen-lockfile"], dir);
    expect(install.code, output(install)).not.toBe(0);
    expect(says(install, "@acme/utils@1.9.9: binding layer rejected [untrusted_registry] in @acme"), output(install)).toBe(true);
    expect(existsSync(join(dir, "node_modules", "@acme", "utils"))).toBe(false);
  });

  it("pnpm: without resolving, pnpm calls only afterAllResolved, after linking: the install fails, but verify is the gate", async () => {
    const dir = writeConsumer(join(work, "pnpm-locked-rogue"), { registry: rogue.url, resolved: false, dependencies: { "@acme/utils": "^1.0.0" }, pins: teamPins(team) });
    expect((await pnpm(["install"], dir)).code).toBe(0); // before the hook was configured
    rmSync(join(dir, "node_modules"), { recursive: true });
    copyFileSync(PNPMFILE, join(dir, ".pnpmfile.cjs"));
    // A frozen install refuses a pnpmfile the lockfile does not record; a plain one fails in afterAllResolved.
    const frozen = await pnpm(["install", "--frozen-lockfile"], dir);
    expect(frozen.code, output(frozen)).not.toBe(0);
    // --no-frozen-lockfile: with CI set, pnpm's plain `install` is frozen too (and refuses as above).
    const install = await pnpm(["install", "--no-frozen-lockfile"], dir);
    expect(install.code, output(install)).not.toBe(0);
    expect(says(install, "@acme/utils@1.9.9: binding layer rejected [untrusted_registry] in @acme"), output(install)).toBe(true);
    const { code } = await verifyJson(dir);
    expect(code).toBe(1);
  });
});

describe("the client as a package", () => {
  // The team serves the client itself, publisher-signed like any other package (README: no name hazard).
  let served: Promise<{ integrity: string }> | undefined;
  const servedClient = () =>
    (served ??= (async () => {
      const packed = await runIn(ROOT, "npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work]);
      expect(packed.code, packed.stderr).toBe(0);
      const { filename, integrity } = (JSON.parse(packed.stdout) as { filename: string; integrity: string }[])[0]!;
      const releaser = await enrolPublisher(team, "countersign", join(work, "alice.json"));
      await publishDir(team, releaser, join(work, filename));
      return { integrity };
    })());

  it("pnpm: the client as a config dependency (pinned by integrity), its pnpmfile named by the pnpmfile setting", async () => {
    const { integrity } = await servedClient();
    for (const [slug, acmeRegistry, expected] of [["good", team.url, 0], ["confused", rogue.url, 1]] as const) {
      const dir = writeConsumer(join(work, `pnpm-config-dep-${slug}`), { registry: team.url, acmeRegistry, resolved: false, dependencies: { "@acme/utils": "^1.0.0" }, pins: teamPins(team) });
      writeFileSync(join(dir, "pnpm-workspace.yaml"), ["configDependencies:", `  countersign: "0.1.0+${integrity}"`, "pnpmfile: node_modules/.pnpm-config/countersign/dist/pnpmfile.cjs", ""].join("\n"));
      const install = await pnpm(["install"], dir);
      expect(install.code, output(install)).toBe(expected);
      if (expected === 0) expect(await requireIn(dir, "@acme/utils")).toBe("team utils");
      else {
        expect(says(install, "binding layer rejected [untrusted_registry] in @acme"), output(install)).toBe(true);
        expect(existsSync(join(dir, "node_modules", "@acme", "utils"))).toBe(false);
      }
    }
  });

  // Bun installs a scanner named by a bare package name before everything else (a subpath such as
  // "countersign/bun-scanner" is looked up literally among the dependencies and refused on a fresh
  // clone), then imports it: package.json's exports "." has a "bun" condition for dist/bun-scanner.mjs.
  it("bun: scanner = \"countersign\", the client served by the team's registry: bun installs it first, then it refuses the rogue package", async () => {
    await servedClient();
    for (const [slug, acmeRegistry, expected] of [["good", team.url, 0], ["confused", rogue.url, 1]] as const) {
      // Unscoped names (the client) from the team's registry; @acme from the team's, or, misrouted, from the rogue.
      const dir = writeBunProject(join(work, `bun-package-${slug}`), { registry: team.url, acmeRegistry, dependencies: { "@acme/utils": "^1.0.0" }, pins: teamPins(team) });
      const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8"));
      writeFileSync(join(dir, "package.json"), JSON.stringify({ ...manifest, devDependencies: { countersign: "0.1.0" } }, null, 2));
      writeFileSync(join(dir, "bunfig.toml"), `${readFileSync(join(dir, "bunfig.toml"), "utf8")}[install.security]\nscanner = "countersign"\n`);
      const install = await bun(["install"], dir);
      expect(install.code, output(install)).toBe(expected);
      if (expected === 0) expect(await requireIn(dir, "@acme/utils")).toBe("team utils");
      else {
        expect(says(install, "binding layer rejected [untrusted_registry] in @acme"), output(install)).toBe(true);
        expect(existsSync(join(dir, "node_modules", "@acme", "utils"))).toBe(false);
      }
    }
  });
});

function runIn(cwd: string, command: string, args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv({ npm_config_cache: join(work, ".npm-cache") }), timeout: 120_000, maxBuffer: 16 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stdout, stderr });
    });
  });
}
