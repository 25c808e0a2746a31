/**
 * Staged publishing with a second-key approval (issue 11 part 5), with the real CLI, npm and a
 * real registry: once the admin requires approval for @acme, the CI token and CI key together
 * cannot publish; a staged version is invisible to npm until a second enrolled key approves it;
 * the approval is in the signed record, and consumers can require it by policy.
 */

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { adminApi, enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { runCli, runJson } from "../helpers/cli.js";
import { npm, requireIn, writeConsumer } from "../helpers/npm.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

let team: TestRegistry;
let work: string;
let ci: PublisherSetup; // the CI key and its publish token: what an attacker steals
let releaseManager: { keyFile: string; keyid: string }; // the second key enrolled in @acme
let env: Record<string, string>;
let gated: string; // the package directory of @acme/gated@1.0.0

interface Report {
  ok: boolean;
  packages: { name: string; version: string; status: string; failure?: { layer: string; code: string; rule?: string; message: string } }[];
}

const pins = (rules: unknown[]) => ({
  version: 1,
  registries: { team: { url: team.url, fingerprints: [team.key.keyid] } },
  namespaces: { "@acme": "team", "@*": "reject", "*": "allow" },
  policy: { rules },
});

async function verifyIn(dir: string): Promise<{ code: number; report: Report; stderr: string }> {
  const result = await runCli(["verify", "--json"], { cwd: dir, env });
  return { code: result.code, report: JSON.parse(result.stdout) as Report, stderr: result.stderr };
}

const asCi = () => ({ env: { ...env, COUNTERSIGN_TOKEN: ci.token } });

beforeAll(async () => {
  team = await startRegistry({ name: "acme-team" });
  work = mkdtempSync(join(tmpdir(), "countersign-staged-"));
  env = { XDG_CONFIG_HOME: join(work, "config") };
  ci = await enrolPublisher(team, "@acme", join(work, "ci.json"));
  const key = await runJson<{ keyid: string }>(["keygen", "--out", join(work, "release-manager.json")]);
  releaseManager = { keyFile: join(work, "release-manager.json"), keyid: key.keyid };
  const added = await runCli(["admin", "key", "add", "@acme", "--key-file", releaseManager.keyFile, "--label", "release manager", "--registry", team.url], { env: { ...env, COUNTERSIGN_ADMIN_TOKEN: team.adminToken } });
  expect(added.code, added.stderr).toBe(0);
  // Published before the namespace required approval: no approval in its record.
  await publishDir(team, ci, writePackage(join(work, "pkgs", "early"), "@acme/early", "1.0.0", "published directly"));
  gated = writePackage(join(work, "pkgs", "gated"), "@acme/gated", "1.0.0", "approved by a second key");
});

afterAll(async () => {
  await team?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe("a namespace that requires a second key's approval", () => {
  it("is switched on by the admin", async () => {
    const on = await runCli(["admin", "approval", "@acme", "on", "--registry", team.url, "--json"], { env: { ...env, COUNTERSIGN_ADMIN_TOKEN: team.adminToken } });
    expect(on.code, on.stderr).toBe(0);
    expect(JSON.parse(on.stdout)).toEqual({ namespace: "@acme", approvalRequired: true });
    expect(await adminApi(team, "GET", "/namespaces/%40acme/approval")).toEqual({ namespace: "@acme", approvalRequired: true });
  });

  it("refuses a direct publish with the stolen CI token and CI key together", async () => {
    const out = await runCli(["publish", gated, "--registry", team.url, "--key", ci.keyFile], asCi());
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("[approval_required]");
    expect(out.stderr).toContain("countersign publish <dir> --stage");
  });

  it("stages with publish --stage: held, not countersigned", async () => {
    const staged = await runJson<{ staged: boolean; name: string; version: string; publisher: string; statementSha256: string }>(["publish", gated, "--registry", team.url, "--key", ci.keyFile, "--stage"], asCi());
    expect(staged).toMatchObject({ staged: true, name: "@acme/gated", version: "1.0.0" });
    expect(staged.statementSha256).toMatch(/^[0-9a-f]{64}$/);
    const again = await runCli(["publish", gated, "--registry", team.url, "--key", ci.keyFile, "--stage"], asCi());
    expect(again.code).toBe(1);
    expect(again.stderr).toContain("[version_staged]");
  });

  it("a staged version that lacks approval is never visible: npm view and npm install cannot see it", async () => {
    const dir = writeConsumer(join(work, "consumer-before"), { registry: team.url, resolved: false, dependencies: { "@acme/gated": "1.0.0" }, pins: pins([]) });
    const view = await npm(["view", "@acme/gated", "version"], dir);
    expect(view.code).not.toBe(0);
    expect(view.stderr).toContain("E404");
    const install = await npm(["install"], dir);
    expect(install.code).not.toBe(0);
    expect(install.stderr).toContain("E404");
    expect((await fetch(`${team.url}/-/countersign/v1/packages/@acme%2fgated/1.0.0`)).status).toBe(404);
  });

  it("refuses an approval signed with the CI key itself (same_key): one stolen key is not two", async () => {
    const out = await runCli(["approve", "@acme/gated@1.0.0", "--registry", team.url, "--key", ci.keyFile], asCi());
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("[same_key]");
    expect((await fetch(`${team.url}/@acme%2fgated`)).status).toBe(404);
  });

  it("publishes once the second key approves: installable, and its bundle binds the approval", async () => {
    // --file: the approver's own copy of the artifact, which must be the staged bytes.
    const other = await runCli(["approve", "@acme/gated@1.0.0", "--registry", team.url, "--key", releaseManager.keyFile, "--fingerprint", team.key.keyid, "--file", ci.keyFile], asCi());
    expect(other.code).toBe(1);
    expect(other.stderr).toContain("is not the staged artifact");
    const approved = await runCli(["approve", "@acme/gated@1.0.0", "--registry", team.url, "--key", releaseManager.keyFile, "--fingerprint", team.key.keyid, "--json"], asCi());
    expect(approved.code, approved.stderr).toBe(0);
    const answer = JSON.parse(approved.stdout) as { approver: string; publisher: string; sequence: number };
    expect(answer.approver).toBe(releaseManager.keyid);
    const dir = writeConsumer(join(work, "consumer-after"), { registry: team.url, resolved: false, dependencies: { "@acme/gated": "1.0.0" }, pins: pins([{ rule: "require-approval", namespaces: ["@acme"], approvers: [releaseManager.keyid] }]) });
    const install = await npm(["install"], dir);
    expect(install.code, install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/gated")).toBe("approved by a second key");
    const { code, report, stderr } = await verifyIn(dir);
    expect(code, stderr).toBe(0);
    expect(report.packages).toEqual([expect.objectContaining({ name: "@acme/gated", status: "verified" })]);
    // The approver is part of what verify and inspect show.
    const verbose = await runCli(["verify", "--verbose", "--no-cache"], { cwd: dir, env });
    expect(verbose.stdout).toContain(`approved by ${releaseManager.keyid}`);
    const inspected = await runCli(["inspect", "@acme/gated@1.0.0", "--registry", team.url, "--fingerprint", team.key.keyid], { env });
    expect(inspected.code, inspected.stderr).toBe(0);
    expect(inspected.stdout).toMatch(new RegExp(`approval +${releaseManager.keyid.replace(/[+/]/g, "\\$&")}, a second key of the namespace, approved .+ \\(checked\\)`));
    const early = await runCli(["inspect", "@acme/early@1.0.0", "--registry", team.url], { env });
    expect(early.stdout).toMatch(/approval +none \(published directly, not staged\)/);
  });

  it("a version published before approval was required fails a require-approval policy, naming the rule", async () => {
    const dir = writeConsumer(join(work, "consumer-early"), { registry: team.url, resolved: false, dependencies: { "@acme/early": "1.0.0" }, pins: pins([{ rule: "require-approval", namespaces: ["@acme"] }]) });
    const install = await npm(["install"], dir);
    expect(install.code, install.stderr).toBe(0);
    const { code, report } = await verifyIn(dir);
    expect(code).toBe(1);
    expect(report.packages[0]).toMatchObject({ name: "@acme/early", status: "failed", failure: { layer: "policy", code: "policy_rejected", rule: "require-approval" } });
    expect(report.packages[0]!.failure!.message).toContain("without a second key's approval");
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).dependencies).toEqual({ "@acme/early": "1.0.0" });
  });
});
