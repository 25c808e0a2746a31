/**
 * Verify judges what will be installed, where it will be installed: every hole in which real npm
 * or pnpm put code at a pinned name while `countersign verify` used to exit 0, end to end. Each
 * test first shows the package manager really installing the attacker's code at the pinned name
 * (so the test cannot pass against a tool that never does it), then that verify rejects it,
 * naming the path.
 *
 * - team:  the team's countersign registry, authoritative for @acme (pinned).
 * - rogue: a second countersign registry with its own key, serving unscoped names (allowed).
 */

import { cpSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { runCli } from "../helpers/cli.js";
import { teamPins, verifyJson } from "../helpers/verify.js";
import { npm, pnpm, requireIn, writeConsumer } from "../helpers/npm.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

let team: TestRegistry;
let rogue: TestRegistry;
let work: string;

const pins = () => teamPins(team);
const verify = (dir: string) => verifyJson(dir);

/** A consumer whose .npmrc routes @acme to the team and everything else to the rogue. */
function consumer(label: string, dependencies: Record<string, string>): string {
  return writeConsumer(join(work, label), { registry: rogue.url, acmeRegistry: team.url, resolved: true, dependencies, pins: pins() });
}

beforeAll(async () => {
  [team, rogue] = await Promise.all([startRegistry({ name: "acme-team" }), startRegistry({ name: "public" })]);
  work = mkdtempSync(join(tmpdir(), "countersign-paths-"));
  const alice: PublisherSetup = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  const mallory: PublisherSetup = await enrolPublisher(rogue, "evil-utils", join(work, "mallory.json"));
  await publishDir(team, alice, writePackage(join(work, "pkgs", "utils"), "@acme/utils", "1.0.0", "team utils"));
  // An unscoped package the rules allow, countersigned by the rogue: its name is not the problem.
  await publishDir(rogue, mallory, writePackage(join(work, "pkgs", "evil"), "evil-utils", "1.0.0", "rogue code"));
});

afterAll(async () => {
  await Promise.all([team?.stop(), rogue?.stop()]);
});

describe("npm: an entry is judged by its install path, not its name field", () => {
  it("an alias into @acme (node_modules/@acme/utils holding evil-utils) is rejected, naming the path", async () => {
    const dir = consumer("npm-alias", { "@acme/utils": "npm:evil-utils@1.0.0" });
    const install = await npm(["install"], dir);
    expect(install.code, install.stderr).toBe(0);
    const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as { packages: Record<string, { name?: string }> };
    expect(lock.packages["node_modules/@acme/utils"]?.name).toBe("evil-utils");
    expect(await requireIn(dir, "@acme/utils")).toBe("rogue code"); // what npm really does

    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    expect(report.packages).toHaveLength(1);
    expect(report.packages[0]).toMatchObject({ name: "evil-utils", installedAs: ["@acme/utils"], status: "failed", location: 'packages["node_modules/@acme/utils"]' });
    expect(report.packages[0]!.failure).toMatchObject({ layer: "binding", code: "alias_into_pinned_namespace", namespace: "@acme", expected: "@acme/utils", actual: "evil-utils" });
    expect(report.packages[0]!.failure!.message).toContain("node_modules/@acme/utils");
  });

  it("a file: link at a pinned path is rejected, not skipped", async () => {
    const dir = consumer("npm-link", { "@acme/utils": "file:./vendor/utils" });
    writePackage(join(dir, "vendor", "utils"), "@acme/utils", "1.0.0", "committed code");
    const install = await npm(["install"], dir);
    expect(install.code, install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("committed code");

    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    const failed = report.packages.find((p) => p.status === "failed");
    expect(failed).toMatchObject({ kind: "link", installedAs: ["@acme/utils"], location: 'packages["node_modules/@acme/utils"]' });
    expect(failed!.failure).toMatchObject({ layer: "binding", code: "not_a_registry_package", namespace: "@acme" });
    expect(report.summary.total).toBeGreaterThan(0);
  });

  it("a link in an allowed namespace is reported as unverified, never dropped", async () => {
    const dir = consumer("npm-link-allowed", { "local-helper": "file:./vendor/helper", "@acme/utils": "1.0.0" });
    writePackage(join(dir, "vendor", "helper"), "local-helper", "1.0.0", "local helper");
    expect((await npm(["install"], dir)).code).toBe(0);
    const { code, report } = await verify(dir);
    expect(code).toBe(0);
    expect(report.packages.find((p) => p.name === "local-helper")).toMatchObject({ status: "unverified", kind: "link" });
    expect(report.packages.find((p) => p.name === "@acme/utils")).toMatchObject({ status: "verified" });
  });

  it("npm-shrinkwrap.json wins over package-lock.json in npm ci, and verify reads it", async () => {
    // A clean package-lock.json, and a shrinkwrap (which npm prefers) from the alias attack.
    const good = consumer("npm-shrinkwrap-good", { "@acme/utils": "1.0.0" });
    expect((await npm(["install"], good)).code).toBe(0);
    const bad = consumer("npm-shrinkwrap-bad", { "@acme/utils": "npm:evil-utils@1.0.0" });
    expect((await npm(["install"], bad)).code).toBe(0);

    const dir = join(work, "npm-shrinkwrap");
    cpSync(good, dir, { recursive: true, filter: (src) => !src.includes("node_modules") });
    writeFileSync(join(dir, "package.json"), readFileSync(join(bad, "package.json")));
    writeFileSync(join(dir, "npm-shrinkwrap.json"), readFileSync(join(bad, "package-lock.json")));
    const ci = await npm(["ci"], dir);
    expect(ci.code, ci.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("rogue code");

    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    expect(report.notes.join(" ")).toContain("npm uses npm-shrinkwrap.json");
    const failed = report.packages.find((p) => p.status === "failed")!;
    expect(failed.lockfile).toBe(join(dir, "npm-shrinkwrap.json"));
    expect(failed.failure).toMatchObject({ code: "alias_into_pinned_namespace" });
  });

  it("an integrity listing two different sha512 digests is rejected (npm accepts either)", async () => {
    const dir = consumer("npm-two-digests", { "@acme/utils": "1.0.0" });
    expect((await npm(["install"], dir)).code).toBe(0);
    const path = join(dir, "package-lock.json");
    const lock = JSON.parse(readFileSync(path, "utf8")) as { packages: Record<string, { integrity: string }> };
    const entry = lock.packages["node_modules/@acme/utils"]!;
    entry.integrity = `${entry.integrity} sha512-${"A".repeat(86)}==`;
    writeFileSync(path, JSON.stringify(lock, null, 2));
    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    expect(report.packages[0]!.failure).toMatchObject({ layer: "integrity", code: "digest_mismatch" });
    expect(report.packages[0]!.failure!.message).toContain("several different sha512");
  });
});

describe("pnpm: the same holes through pnpm-lock.yaml", () => {
  it("an alias into @acme is rejected", async () => {
    const dir = consumer("pnpm-alias", { "@acme/utils": "npm:evil-utils@1.0.0" });
    const install = await pnpm(["install"], dir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("rogue code");
    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    const failed = report.packages.find((p) => p.status === "failed")!;
    expect(failed).toMatchObject({ name: "evil-utils", installedAs: expect.arrayContaining(["@acme/utils"]) });
    expect(failed.failure).toMatchObject({ layer: "binding", code: "alias_into_pinned_namespace", namespace: "@acme" });
  });

  it("a link: dependency at a pinned name is rejected", async () => {
    const dir = consumer("pnpm-link", { "@acme/utils": "link:./vendor/utils" });
    writePackage(join(dir, "vendor", "utils"), "@acme/utils", "1.0.0", "committed code");
    const install = await pnpm(["install"], dir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("committed code");
    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    expect(report.packages.find((p) => p.status === "failed")!.failure).toMatchObject({ code: "not_a_registry_package", namespace: "@acme" });
  });
});

describe("nothing in a lockfile is skipped", () => {
  it("an entry kind verify does not understand is an error naming the file and the entry", async () => {
    const dir = consumer("npm-unknown", {});
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "package-lock.json"),
      JSON.stringify({ name: "consumer", lockfileVersion: 3, packages: { "": { name: "consumer" }, "node_modules/@acme/utils": { version: "1.0.0", resolved: "svn://example/utils", integrity: "sha512-x" } } }),
    );
    const result = await runCli(["verify"], { cwd: dir });
    expect(result.code).not.toBe(0);
    expect(result.stderr + result.stdout).toContain("node_modules/@acme/utils");
  });
});
