/**
 * The log layer of `countersign verify`, end to end with real registries, a real witness and
 * real npm (issue 10 §4–§5): a package counts only if its countersignature is in the registry's
 * log; a second log under the same key (what a stolen key or a coerced operator would show some
 * consumers) is a split view once this machine has seen the genuine one, and is refused even on
 * a fresh machine when the pins require the registry's witness; with the log unreachable, the
 * witnesses' cosignatures in the bundles suffice, and without witnesses it is an outage (exit 3),
 * never a pass.
 */

import { mkdtempSync, readdirSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ED25519_TYPE, formatVerifierKey, generateKeyPair, logOrigin, type KeyPair } from "../../src/core/index.js";
import { enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { freePort, runCli } from "../helpers/cli.js";
import { npm, writeConsumer } from "../helpers/npm.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { verifyJson } from "../helpers/verify.js";
import { startWitness, type TestWitness } from "../helpers/witness.js";

let key: KeyPair;
let team: TestRegistry;
let fork: TestRegistry;
let witness: TestWitness;
let alice: PublisherSetup;
let work: string;
let consumer: string;

const pins = (url: string, witnesses?: { quorum: number; keys: string[] }) => ({
  version: 1,
  registries: { team: { url, fingerprints: [key.keyid], ...(witnesses ? { witnesses } : {}) } },
  namespaces: { "@acme": "team", "@*": "reject", "*": "allow" },
});

/** The consumer project with other pins (same lockfile, same node_modules). */
function withPins(label: string, value: unknown): string {
  writeFileSync(join(consumer, "countersign.json"), `${JSON.stringify(value, null, 2)}\n`);
  return label;
}

const stateDir = () => mkdtempSync(join(work, "state-"));
const verifyWith = (state: string) => verifyJson(consumer, { args: ["--no-cache"], env: { COUNTERSIGN_LOG_STATE_DIR: state } });

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "countersign-log-verify-"));
  key = await generateKeyPair();
  // The team's origin is chosen first: the witness is told its log's key before it starts.
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  witness = await startWitness("witness.test/w1", [await formatVerifierKey(logOrigin(origin), ED25519_TYPE, key.publicKey)]);
  const witnessed = { LOG_WITNESSES: `${witness.vkey} ${witness.url}/` };
  team = await startRegistry({ name: "acme-team", key, port, vars: witnessed });
  alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  const utils = writePackage(join(work, "pkgs", "utils"), "@acme/utils", "1.0.0", "team utils");
  await publishDir(team, alice, utils);
  await publishDir(team, alice, writePackage(join(work, "pkgs", "utils-1.0.1"), "@acme/utils", "1.0.1", "team utils 1.0.1"));
  consumer = writeConsumer(join(work, "consumer"), { registry: team.url, resolved: true, dependencies: { "@acme/utils": "1.0.0" }, pins: pins(team.url) });
  const install = await npm(["install"], consumer);
  expect(install.code, install.stderr).toBe(0);

  // The fork: the same key, signing as the same origin, another history. The same bytes of
  // @acme/utils@1.0.0 are published there, by the same publisher key, so every other layer passes.
  fork = await startRegistry({ name: "acme-team", key, vars: { REGISTRY_ORIGIN: team.url, ...witnessed } });
  const forked = await enrolPublisher(fork, "@acme", join(work, "alice.json"));
  await publishDir(fork, forked, utils);
  for (const v of ["1.0.2", "1.0.3", "1.0.4"]) await publishDir(fork, forked, writePackage(join(work, "pkgs", `fork-${v}`), "@acme/utils", v, `fork ${v}`));
}, 180_000);

afterAll(async () => {
  await Promise.all([team?.stop(), fork?.stop(), witness?.stop()].map((p) => p?.catch(() => undefined)));
});

describe("the log layer of verify", () => {
  const machine = { state: "" };

  it("proves each package in the registry's log (the batch answer's tlog-proof, against the latest checkpoint) and stores the checkpoint", async () => {
    machine.state = stateDir();
    withPins("team", pins(team.url));
    const { code, report } = await verifyWith(machine.state);
    expect(code).toBe(0);
    // Genesis, the namespace's claim and enrolment, then each version and its package's metadata record.
    expect(report.packages).toMatchObject([{ name: "@acme/utils", version: "1.0.0", status: "verified", log: { index: 3, checkpoint: 7, via: "tlog-proof" } }]);
    expect(readdirSync(machine.state, { recursive: true }).length).toBeGreaterThan(0);
  });

  it("a second log under the same key, after this machine saw the genuine one: split view, naming both checkpoints", async () => {
    withPins("fork", pins(fork.url));
    const { code, report } = await verifyWith(machine.state);
    expect(code).toBe(1);
    const failure = report.packages[0]!.failure!;
    expect(failure).toMatchObject({ layer: "log", code: "split_view", namespace: "@acme" });
    // The genuine log was at size 7 (genesis, the namespace's claim and enrolment, two versions and their metadata records), the fork's is at 11.
    expect(failure.message).toMatch(/size 7\b/);
    expect(failure.message).toMatch(/size 11\b/);
  });

  it("on a fresh machine the fork's log is self-consistent, so only a pinned witness stops it", async () => {
    withPins("fork", pins(fork.url));
    expect((await verifyWith(stateDir())).code).toBe(0);
    withPins("fork+witness", pins(fork.url, { quorum: 1, keys: [witness.vkey] }));
    const { code, report } = await verifyWith(stateDir());
    expect(code).toBe(1);
    expect(report.packages[0]!.failure).toMatchObject({ layer: "log", code: "witness_quorum" });
    withPins("team+witness", pins(team.url, { quorum: 1, keys: [witness.vkey] }));
    expect((await verifyWith(stateDir())).code).toBe(0);
  });

  it("monitor lists every publication of the namespace from the log, then only new ones; a fork is a split view", async () => {
    const state = stateDir();
    withPins("team", pins(team.url));
    const monitor = (env = state) => runCli(["monitor", "@acme", "--json"], { cwd: consumer, env: { COUNTERSIGN_LOG_STATE_DIR: env } });
    const first = await monitor();
    expect(first.code, first.stderr).toBe(0);
    const report = JSON.parse(first.stdout) as { from: number; to: number; publications: { index: number; name: string; version: string }[] };
    expect(report).toMatchObject({ from: 0, to: 7 });
    expect(report.publications.map((p) => [p.index, `${p.name}@${p.version}`])).toEqual([
      [3, "@acme/utils@1.0.0"],
      [5, "@acme/utils@1.0.1"],
    ]);
    // A publication the team did not expect shows up on the next run, and only it.
    await publishDir(team, alice, writePackage(join(work, "pkgs", "utils-1.0.9"), "@acme/utils", "1.0.9", "unexpected"));
    const next = JSON.parse((await monitor()).stdout) as typeof report;
    expect(next).toMatchObject({ from: 7, to: 9 });
    expect(next.publications.map((p) => `${p.name}@${p.version}`)).toEqual(["@acme/utils@1.0.9"]);
    // The fork's log under the same key, after this machine followed the team's.
    withPins("fork", pins(fork.url));
    const split = await monitor();
    expect(split.code).toBe(1);
    expect(split.stdout + split.stderr).toContain("SPLIT VIEW");
  });

  it("with the log unreachable, a witness quorum in the bundles suffices; without witnesses it is an outage, not a pass", async () => {
    // A static mirror of the team's full packument (bundles inline); then the registries go away.
    const packument = await (await fetch(`${team.url}/@acme%2futils`, { headers: { accept: "application/json" } })).text();
    const mirror = createServer((req, res) => {
      if ((req.url ?? "").startsWith("/-/")) return void res.writeHead(404).end();
      res.writeHead(200, { "content-type": "application/json" }).end(packument);
    });
    await new Promise<void>((resolve) => mirror.listen(0, "127.0.0.1", resolve));
    const mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`;
    writeFileSync(join(consumer, ".npmrc"), `registry=${mirrorUrl}/\n`);
    await Promise.all([team.stop(), fork.stop()]);
    try {
      withPins("witnessed", pins(team.url, { quorum: 1, keys: [witness.vkey] }));
      const witnessed = await verifyWith(stateDir());
      expect(witnessed.code, witnessed.stderr).toBe(0);
      expect(witnessed.report.packages[0]).toMatchObject({ status: "verified", log: { via: "tlog-proof" } });
      withPins("unwitnessed", pins(team.url));
      const alone = await verifyWith(stateDir());
      expect(alone.code).toBe(3);
      expect(alone.report.packages[0]).toMatchObject({ status: "unavailable" });
    } finally {
      mirror.close();
    }
  });
});
