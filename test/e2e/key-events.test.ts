/**
 * Publisher keys over time (issue 11 parts 2 and 4), end to end with a real registry on
 * 127.0.0.1, the real CLI and real npm:
 *
 * (a) namespace claims and enrolments are logged registry statements: `monitor` lists them
 *     beside the publications, proved against the log's checkpoint;
 * (b) a pinned namespace whose packages are now signed by a key the last receipt did not have
 *     passes `verify` with a warning naming the key (a key the registry enrolled since);
 * (c) the registry revokes a stolen key with `admin key revoke --since <sequence>`: `verify`
 *     rejects the version countersigned at or after `since` (layer publisher, publisher_revoked,
 *     expected and actual), `fetch` refuses it too, and versions the same key published before
 *     `since` stay valid; `monitor` lists the revocation;
 * (d) an unchanged project is re-verified (not answered from its receipt) once the signed
 *     metadata its receipt relied on has expired: the view of revocations is never staler.
 */

import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { verifyProject } from "../../scripts/cli/verification/project.js";
import { unchangedSinceReceipt } from "../../scripts/cli/verification/unchanged.js";
import { enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { runCli, runJson } from "../helpers/cli.js";
import { npm, writeConsumer } from "../helpers/npm.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { teamPins, verifyJson } from "../helpers/verify.js";

let team: TestRegistry;
let work: string;
let state: string;
let alice: PublisherSetup;
let ci: PublisherSetup;
let ciKeyid: string;
/** Sequence numbers of what was published, by version. */
const sequence: Record<string, number> = {};

const keyidOf = (file: string) => (JSON.parse(readFileSync(file, "utf8")) as { keyid: string }).keyid;

async function publish(who: PublisherSetup, version: string): Promise<void> {
  const answer = (await publishDir(team, who, writePackage(join(work, "pkgs", version), "@acme/utils", version, `utils ${version}`))) as { integrity: string; sequence?: number };
  sequence[version] = answer.sequence!;
}

/** A consumer locked to @acme/utils@<version> from the team's registry. */
async function consumer(label: string, version: string): Promise<string> {
  const dir = writeConsumer(join(work, label), { registry: team.url, acmeRegistry: team.url, resolved: true, dependencies: { "@acme/utils": version }, pins: teamPins(team) });
  const install = await npm(["install"], dir);
  if (install.code !== 0) throw new Error(install.stderr);
  return dir;
}

const env = () => ({ COUNTERSIGN_LOG_STATE_DIR: state });
const monitorJson = (from = "0") =>
  runJson<{ publications: { index: number; version: string; publisher: string }[]; statements: { index: number; kind: string; keyid?: string; label?: string; since?: number }[] }>(["monitor", "@acme", "--from", from, "--json"], { cwd: join(work, "app"), env: env() });

beforeAll(async () => {
  team = await startRegistry({ name: "acme-team" });
  work = mkdtempSync(join(tmpdir(), "countersign-key-events-"));
  state = mkdtempSync(join(work, "state-"));
  alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  await publish(alice, "1.0.0");
}, 120_000);

afterAll(async () => {
  await team?.stop();
});

describe("publisher keys over time", () => {
  it("(a) monitor lists the namespace's claim and enrolment, proved in the log, beside its publications", async () => {
    await consumer("app", "1.0.0");
    const report = await monitorJson();
    expect(report.statements.map((s) => s.kind)).toEqual(["namespace_claimed", "key_enrolled"]);
    expect(report.statements[1]).toMatchObject({ keyid: keyidOf(alice.keyFile) });
    expect(report.publications.map((p) => p.version)).toEqual(["1.0.0"]);
    // Log order: the claim, then the enrolment, then what the key published.
    expect(report.statements[1]!.index).toBeLessThan(report.publications[0]!.index);
    const human = await runCli(["monitor", "@acme", "--from", "0"], { cwd: join(work, "app"), env: env() });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`key enrolled`);
    expect(human.stdout).toContain(keyidOf(alice.keyFile));
  });

  it("(b) a version signed by a key the last receipt did not have passes, with a warning naming the key", async () => {
    const dir = join(work, "app");
    const first = await verifyJson(dir, { args: ["--no-cache"], env: env() });
    expect(first.code, first.stderr).toBe(0);
    expect((first.report as unknown as { warnings: string[] }).warnings).toEqual([]);

    // The registry enrols a second key (CI's), which publishes 1.0.1 while it is trusted.
    ci = await enrolPublisher(team, "@acme", join(work, "ci.json"));
    ciKeyid = keyidOf(ci.keyFile);
    await publish(ci, "1.0.1");
    const bump = await npm(["install", "--prefer-online", "@acme/utils@1.0.1"], dir);
    expect(bump.code, bump.stderr).toBe(0);
    const second = await verifyJson(dir, { args: ["--no-cache"], env: env() });
    expect(second.code, second.stderr).toBe(0);
    const warnings = (second.report as unknown as { warnings: string[] }).warnings;
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`@acme has a publisher key the last receipt`);
    expect(warnings[0]).toContain(ciKeyid);
    expect(warnings[0]).toContain("@acme/utils@1.0.1");
    const human = await runCli(["verify", "--no-cache"], { cwd: dir, env: env() });
    // The receipt now has the key: no warning any more.
    expect(human.code).toBe(0);
    expect(human.stdout).not.toContain("warning:");
  });

  it("(c) a key revoked --since a sequence number: its versions from there on fail at the publisher layer, earlier ones pass", async () => {
    // The CI key is stolen; the thief publishes 1.1.0 with it. The registry revokes the key and
    // voids what it signed from 1.1.0 on.
    await publish(ci, "1.1.0");
    const stolen = await consumer("stolen", "1.1.0");
    expect((await verifyJson(stolen, { args: ["--no-cache"], env: env() })).code).toBe(0);

    const revoked = await runJson<{ keyid: string; since: number; log: { index: number } }>(["admin", "key", "revoke", "@acme", ciKeyid, "--since", String(sequence["1.1.0"]), "--registry", team.url, "--json"], {
      env: { COUNTERSIGN_ADMIN_TOKEN: team.adminToken },
    });
    expect(revoked).toMatchObject({ keyid: ciKeyid, since: sequence["1.1.0"] });

    const after = await verifyJson(stolen, { args: ["--no-cache"], env: env() });
    expect(after.code).toBe(1);
    const failure = after.report.packages.find((p) => p.name === "@acme/utils")!.failure!;
    expect(failure).toMatchObject({ layer: "publisher", code: "publisher_revoked", namespace: "@acme", expected: `a version before sequence ${sequence["1.1.0"]}, or another publisher key`, actual: `sequence ${sequence["1.1.0"]} by ${ciKeyid}` });
    expect(failure.message).toContain(`log index ${revoked.log.index}`);

    // 1.0.1, by the same key before `since`, stays valid (the log fixes when it was countersigned).
    expect((await verifyJson(join(work, "app"), { args: ["--no-cache"], env: env() })).code).toBe(0);
    // fetch refuses the void version, and writes nothing.
    const out = join(work, "fetched.tgz");
    const fetched = await runCli(["fetch", "@acme/utils@1.1.0", "--registry", team.url, "--fingerprint", team.key.keyid, "--out", out], { env: env() });
    expect(fetched.code).toBe(1);
    expect(fetched.stderr).toContain("publisher_revoked");
    // The revocation is a logged statement the monitor lists.
    const report = await monitorJson();
    expect(report.statements.at(-1)).toMatchObject({ kind: "key_revoked", keyid: ciKeyid, since: sequence["1.1.0"], index: revoked.log.index });
  });

  it("(d) an unchanged project is answered from its receipt only while the metadata it relied on is unexpired", async () => {
    const dir = join(work, "app");
    const fresh = await verifyJson(dir, { env: env() });
    expect(fresh.code).toBe(0);
    expect(fresh.report.cached).toBe(true);
    const receipt = JSON.parse(readFileSync(join(dir, "countersign-receipt.json"), "utf8")) as { payload: string };
    const verdict = (JSON.parse(Buffer.from(receipt.payload, "base64").toString()) as { verdict: { validUntil: string } }).verdict;
    // The earliest expiry of the signed metadata verify relied on: 18 to 24 hours ahead.
    expect(Date.parse(verdict.validUntil)).toBeGreaterThan(Date.now() + 17 * 3_600_000);
    expect(Date.parse(verdict.validUntil)).toBeLessThanOrEqual(Date.now() + 24 * 3_600_000);
    // The same in this process (a receipt is reused only by the client version that wrote it), with
    // the clock just before and just after that expiry.
    const options = { dir, pinsPath: join(dir, "countersign.json"), lockfiles: [] };
    const saved = process.env.COUNTERSIGN_LOG_STATE_DIR;
    process.env.COUNTERSIGN_LOG_STATE_DIR = state;
    let written: Awaited<ReturnType<typeof verifyProject>>;
    try {
      written = await verifyProject(options);
    } finally {
      process.env.COUNTERSIGN_LOG_STATE_DIR = saved;
    }
    expect(written.ok).toBe(true);
    const validUntil = Date.parse(written.packages[0]!.metadata!.expires);
    vi.useFakeTimers({ toFake: ["Date"] });
    try {
      vi.setSystemTime(validUntil - 1000);
      expect(await unchangedSinceReceipt(options)).toBeDefined();
      vi.setSystemTime(validUntil);
      expect(await unchangedSinceReceipt(options)).toBeUndefined();
    } finally {
      vi.useRealTimers();
    }
  });
});
