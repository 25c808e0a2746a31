/**
 * Registry key rotation (issue 11 part 1, PROTOCOL §21), end to end with a real registry on
 * 127.0.0.1, the real CLI and real npm:
 *
 * (a) the operator adds REGISTRY_NEXT_SIGNING_KEY and runs `countersign admin rotate`: both keys
 *     sign the rotation, it is logged, and the registry signs with the new key from then on;
 * (b) a consumer pinned to the old key verifies a version the new key countersigned: it follows
 *     the rotation (it chains to its pin), its log view carries over, and countersign.json is
 *     rewritten — the new key pinned, the old one kept for versions before the rotation — so a
 *     version the old key countersigned keeps verifying, through a mirror that serves no rotation;
 * (c) the old key, stolen after the rotation, countersigns a version: refused (registry_key_retired);
 * (d) a rotation that does not chain to a pinned key, or is not signed by both keys, or forks the
 *     key history, is not followed.
 */

import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  countersign,
  createSigner,
  generateKeyPair,
  openStatement,
  PUBLISH_STATEMENT,
  signRotation,
  toBase64,
  type Bundle,
  type Envelope,
  type KeyPair,
} from "../../src/core/index.js";
import { enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { runCli, runJson } from "../helpers/cli.js";
import { npm, writeConsumer } from "../helpers/npm.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { teamPins, verifyJson } from "../helpers/verify.js";

let team: TestRegistry;
let next: KeyPair;
let work: string;
let state: string;
let alice: PublisherSetup;
let rotation: { from: string; to: string; log: { index: number } };
const servers: Server[] = [];

type Answer = { bundles: Record<string, Bundle>; metadata: Record<string, Envelope>; metadataLog: Record<string, unknown>; rotations?: unknown[] };

/** A mirror of the team's registry whose batch answers pass through `edit` (everything else is forwarded). */
async function mirror(edit: (answer: Answer) => Promise<Answer> | Answer): Promise<string> {
  let self = "";
  const server = createServer(async (req, res) => {
    let body: string | undefined;
    if (req.method === "POST") {
      body = "";
      for await (const chunk of req) body += String(chunk);
    }
    const upstream = await fetch(`${team.url}${req.url}`, { method: req.method, headers: { accept: req.headers.accept ?? "*/*", ...(body !== undefined ? { "content-type": "application/json" } : {}) }, ...(body !== undefined ? { body } : {}) });
    const bytes = Buffer.from(await upstream.arrayBuffer());
    const type = upstream.headers.get("content-type") ?? "application/octet-stream";
    if (!type.includes("json")) return void res.writeHead(upstream.status, { "content-type": type }).end(bytes);
    let text = bytes.toString();
    if (req.url === "/-/countersign/v1/bundles" && upstream.status === 200) text = JSON.stringify(await edit(JSON.parse(text) as Answer));
    res.writeHead(upstream.status, { "content-type": type }).end(text.replaceAll(team.url, self));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return self;
}

async function consumer(label: string, version: string, url = team.url): Promise<string> {
  const dir = writeConsumer(join(work, label), { registry: url, acmeRegistry: url, resolved: true, dependencies: { "@acme/utils": version }, pins: teamPins(team, url) });
  const install = await npm(["install", "--prefer-online"], dir);
  if (install.code !== 0) throw new Error(install.stderr);
  return dir;
}

const pinsOf = (dir: string) => JSON.parse(readFileSync(join(dir, "countersign.json"), "utf8")) as { registries: { team: { fingerprints: string[]; retired?: { fingerprint: string; until: number }[] } } };
const verify = (dir: string, stateDir = state) => verifyJson(dir, { args: ["--no-cache"], env: { COUNTERSIGN_LOG_STATE_DIR: stateDir } });

beforeAll(async () => {
  next = await generateKeyPair();
  team = await startRegistry({ name: "acme-team", vars: { REGISTRY_NEXT_SIGNING_KEY: toBase64(next.seed) } });
  work = mkdtempSync(join(tmpdir(), "countersign-rotation-"));
  state = mkdtempSync(join(work, "state-"));
  alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  await publishDir(team, alice, writePackage(join(work, "pkgs", "1.0.0"), "@acme/utils", "1.0.0", "utils 1.0.0"));
}, 120_000);

afterAll(async () => {
  for (const server of servers) server.close();
  await team?.stop();
});

describe("registry key rotation", () => {
  it("(a) admin rotate: both keys sign the logged rotation, and the registry signs with the new key from then on", async () => {
    // Before: the old key signs, with the next key configured (the rotation is pending).
    const before = await consumer("before", "1.0.0");
    expect((await verify(before)).code).toBe(0);

    // A compromise bound at or past the rotation itself is refused, and nothing is rotated.
    const refused = await fetch(`${team.url}/-/countersign/v1/admin/rotate`, { method: "POST", headers: { authorization: `Bearer ${team.adminToken}`, "content-type": "application/json" }, body: JSON.stringify({ compromisedSince: 1_000_000 }) });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { code: string } }).error.code).toBe("invalid_compromised_since");
    rotation = await runJson(["admin", "rotate", "--registry", team.url, "--json"], { env: { COUNTERSIGN_ADMIN_TOKEN: team.adminToken } });
    expect(rotation).toMatchObject({ from: team.key.keyid, to: next.keyid, log: { index: expect.any(Number) } });
    // Asked again: the same rotation, not a second one.
    const again = await runJson<typeof rotation>(["admin", "rotate", "--registry", team.url, "--json"], { env: { COUNTERSIGN_ADMIN_TOKEN: team.adminToken } });
    expect(again.log.index).toBe(rotation.log.index);

    const answer = (await publishDir(team, alice, writePackage(join(work, "pkgs", "1.1.0"), "@acme/utils", "1.1.0", "utils 1.1.0"))) as unknown as { sequence: number; registry: { keyid: string } };
    expect(answer.registry.keyid).toBe(next.keyid);
    expect(answer.sequence).toBeGreaterThan(rotation.log.index);

    // The identity document: signed by the new key, the old one listed as retired, the rotation with it.
    const identity = await runJson<{ fingerprint: string; keys: { keyid: string; status: string; until?: number }[] }>(["identity", team.url, "--fingerprint", team.key.keyid, "--json"]);
    expect(identity.fingerprint).toBe(next.keyid);
    expect(identity.keys).toEqual([expect.objectContaining({ keyid: next.keyid, status: "active" }), expect.objectContaining({ keyid: team.key.keyid, status: "retired", until: rotation.log.index })]);
  });

  it("(b) a consumer pinned to the old key follows the rotation: verify passes and countersign.json follows", async () => {
    const dir = await consumer("after", "1.1.0");
    expect(pinsOf(dir).registries.team.fingerprints).toEqual([team.key.keyid]);
    const { code, report, stderr } = await verify(dir);
    expect(code, stderr + JSON.stringify(report.packages)).toBe(0);
    expect(report.notes.join("\n")).toContain(`${team.key.keyid} → ${next.keyid} at log index ${rotation.log.index}`);
    expect(pinsOf(dir).registries.team).toMatchObject({ fingerprints: [next.keyid], retired: [{ fingerprint: team.key.keyid, until: rotation.log.index }] });
    // fetch follows it from either key, for versions either key countersigned.
    for (const fingerprint of [team.key.keyid, next.keyid]) {
      for (const version of ["1.0.0", "1.1.0"]) {
        const fetched = await runCli(["fetch", `@acme/utils@${version}`, "--registry", team.url, "--fingerprint", fingerprint, "--out", join(work, `fetched-${version}-${fingerprint.slice(7, 12).replace(/[^A-Za-z0-9]/g, "_")}.tgz`)], { env: { COUNTERSIGN_LOG_STATE_DIR: state } });
        expect(fetched.code, `${version} from ${fingerprint}: ${fetched.stderr}`).toBe(0);
      }
    }
    // The web page's server-side chain follows the rotation too: no version shows a broken link.
    for (const version of ["1.0.0", "1.1.0"]) {
      const page = await (await fetch(`${team.url}/package/@acme/utils/v/${version}`, { headers: { accept: "text/html" } })).text();
      expect(page, version).toContain(`@acme/utils`);
      expect(page, version).not.toMatch(/not pinned|does not open|not a key of this registry|rotated out/);
    }
    // Once followed, the pins alone say it: a version the old key countersigned verifies through
    // a mirror that serves no rotation, and so does the new one.
    const url = await mirror((answer) => ({ bundles: answer.bundles, metadata: answer.metadata, metadataLog: answer.metadataLog }));
    for (const version of ["1.0.0", "1.1.0"]) {
      const through = writeConsumer(join(work, `mirror-${version}`), { registry: url, acmeRegistry: url, resolved: true, dependencies: { "@acme/utils": version }, pins: { ...teamPins(team, url), registries: { team: { ...pinsOf(dir).registries.team, url } } } });
      expect((await npm(["install", "--prefer-online"], through)).code).toBe(0);
      const result = await verify(through);
      expect(result.code, `${version}: ${JSON.stringify(result.report.packages)}`).toBe(0);
      expect(result.report.notes.join("\n")).not.toContain("rotated its key");
    }
  });

  it("(c) the old key, stolen after the rotation, countersigns a version: refused at the binding layer", async () => {
    const old = await createSigner(team.key);
    const url = await mirror(async (answer) => {
      const genuine = answer.bundles["@acme/utils@1.1.0"]!;
      const statement = await openStatement(genuine.publisher, PUBLISH_STATEMENT);
      if (!statement.ok) throw new Error("publisher statement");
      const sequence = JSON.parse(Buffer.from(genuine.countersignature.payload, "base64").toString()).predicate.sequence as number;
      const forged = await countersign(statement.value.envelope, statement.value.statement, old, { origin: team.url, publishedAt: new Date(), sequence });
      return { ...answer, bundles: { "@acme/utils@1.1.0": { ...genuine, countersignature: forged } } };
    });
    const dir = await consumer("stolen-old-key", "1.1.0", url);
    const { code, report } = await verify(dir, mkdtempSync(join(work, "state-")));
    expect(code).toBe(1);
    expect(report.packages[0]!.failure).toMatchObject({ layer: "binding", code: "registry_key_retired", expected: `a sequence number below ${rotation.log.index} for ${team.key.keyid}` });
    expect(pinsOf(dir).registries.team.fingerprints).toEqual([team.key.keyid]);
  });

  it("verify-artifact --pins, offline: the followed pins trust the old key only below its rotation", async () => {
    const dir = mkdtempSync(join(work, "artifact-"));
    const pinsPath = join(dir, "countersign.json");
    writeFileSync(pinsPath, JSON.stringify({ version: 1, registries: { team: { url: team.url, fingerprints: [next.keyid], retired: [{ fingerprint: team.key.keyid, until: rotation.log.index }] } }, namespaces: { "@acme": "team" } }));
    const download = async (version: string) => {
      const base = `${team.url}/-/countersign/v1/packages/@acme%2futils/${version}`;
      const bundle = (await (await fetch(base)).json()) as Bundle;
      const file = join(dir, `utils-${version}.tgz`);
      writeFileSync(file, Buffer.from(await (await fetch(`${base}/artifact`)).arrayBuffer()));
      return { bundle, file };
    };
    const check = (version: string, file: string, bundle: unknown, pins: string[]) => {
      const bundlePath = join(dir, `bundle-${version}-${Math.random().toString(36).slice(2)}.json`);
      writeFileSync(bundlePath, JSON.stringify(bundle));
      return runCli(["verify-artifact", `@acme/utils@${version}`, "--file", file, "--bundle", bundlePath, ...pins], { env: { COUNTERSIGN_LOG_STATE_DIR: mkdtempSync(join(work, "state-")) } });
    };
    // 1.0.0, countersigned by the old key before the rotation: valid under the followed pins.
    const before = await download("1.0.0");
    const valid = await check("1.0.0", before.file, before.bundle, ["--pins", pinsPath]);
    expect(valid.code, valid.stderr).toBe(0);
    // 1.1.0 countersigned again by the old key (stolen after the rotation): refused offline.
    const after = await download("1.1.0");
    const statement = await openStatement(after.bundle.publisher, PUBLISH_STATEMENT);
    if (!statement.ok) throw new Error("publisher statement");
    const sequence = JSON.parse(Buffer.from(after.bundle.countersignature.payload, "base64").toString()).predicate.sequence as number;
    const forged = { ...after.bundle, countersignature: await countersign(statement.value.envelope, statement.value.statement, await createSigner(team.key), { origin: team.url, publishedAt: new Date(), sequence }) };
    const refused = await check("1.1.0", after.file, forged, ["--pins", pinsPath]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain("binding layer rejected [registry_key_retired]");
    expect(refused.stderr).toContain(`rotated out at log index ${rotation.log.index}`);
    // The genuine 1.1.0, by the new key, verifies under the same pins; --fingerprint and --pins together are a usage error.
    expect((await check("1.1.0", after.file, after.bundle, ["--pins", pinsPath])).code).toBe(0);
    expect((await check("1.1.0", after.file, after.bundle, ["--pins", pinsPath, "--fingerprint", next.keyid])).code).toBe(2);
  });

  it("(d) a rotation that does not chain to a pinned key, is signed by one key only, or forks the history, is not followed", async () => {
    const evil = await createSigner(await generateKeyPair());
    const stranger = await createSigner(await generateKeyPair());
    const old = await createSigner(team.key);
    // A registry (or mirror) that swaps in its own key and serves a rotation to it.
    const rotations = {
      foreign: await signRotation({ origin: team.url, sequence: 1, at: "2026-11-26T00:00:00.000Z" }, stranger, evil),
      oneKey: await (async () => {
        const both = await signRotation({ origin: team.url, sequence: 1, at: "2026-11-26T00:00:00.000Z" }, old, evil);
        return { ...both, signatures: [both.signatures[1]!, both.signatures[1]!] };
      })(),
      fork: await signRotation({ origin: team.url, sequence: rotation.log.index + 5, at: "2026-11-26T00:00:00.000Z" }, old, evil),
    };
    for (const [label, forged] of Object.entries(rotations)) {
      const url = await mirror(async (answer) => {
        const genuine = answer.bundles["@acme/utils@1.1.0"]!;
        const statement = await openStatement(genuine.publisher, PUBLISH_STATEMENT);
        if (!statement.ok) throw new Error("publisher statement");
        const bundle = { ...genuine, countersignature: await countersign(statement.value.envelope, statement.value.statement, evil, { origin: team.url, publishedAt: new Date(), sequence: rotation.log.index + 7 }) };
        return { ...answer, bundles: { "@acme/utils@1.1.0": bundle }, rotations: [...(answer.rotations ?? []), forged] };
      });
      const dir = await consumer(`rotation-${label}`, "1.1.0", url);
      const { code, report } = await verify(dir, mkdtempSync(join(work, "state-")));
      expect(code, label).toBe(1);
      expect(report.packages[0]!.failure!.layer, label).toBe("binding");
      expect(pinsOf(dir).registries.team.fingerprints, label).toEqual([team.key.keyid]);
      if (label === "fork") expect(report.packages[0]!.failure!.message).toContain("forks");
      if (label === "oneKey") expect(report.packages[0]!.failure!.message).toContain("do not verify");
    }
  });
});

describe("a rotation that declares the old key compromised", () => {
  let leaky: TestRegistry;
  let dir: string;
  const published: Record<string, number> = {};

  beforeAll(async () => {
    const successor = await generateKeyPair();
    leaky = await startRegistry({ name: "acme-leaky", vars: { REGISTRY_NEXT_SIGNING_KEY: toBase64(successor.seed) } });
    dir = mkdtempSync(join(work, "leaky-"));
    const bob = await enrolPublisher(leaky, "@acme", join(dir, "bob.json"));
    for (const version of ["1.0.0", "1.0.1"]) {
      const answer = (await publishDir(leaky, bob, writePackage(join(dir, "pkgs", version), "@acme/utils", version, `leaky ${version}`))) as unknown as { sequence: number };
      published[version] = answer.sequence;
    }
  }, 120_000);

  afterAll(async () => {
    await leaky?.stop();
  });

  it("voids what the old key countersigned from --compromised-since on; earlier versions still verify and the pins keep the bound", async () => {
    const rotated = await runJson<{ statement: { payload: string } }>(["admin", "rotate", "--compromised-since", String(published["1.0.1"]), "--registry", leaky.url, "--json"], { env: { COUNTERSIGN_ADMIN_TOKEN: leaky.adminToken } });
    expect(JSON.parse(Buffer.from(rotated.statement.payload, "base64").toString())).toMatchObject({ compromisedSince: published["1.0.1"] });
    const project = (version: string) => {
      const at = writeConsumer(join(dir, `consumer-${version}`), { registry: leaky.url, acmeRegistry: leaky.url, resolved: true, dependencies: { "@acme/utils": version }, pins: teamPins(leaky) });
      return npm(["install", "--prefer-online"], at).then(() => at);
    };
    const voided = await verify(await project("1.0.1"), mkdtempSync(join(dir, "state-")));
    expect(voided.code).toBe(1);
    expect(voided.report.packages[0]!.failure).toMatchObject({ layer: "binding", code: "registry_key_retired", actual: `sequence ${published["1.0.1"]}` });
    expect(voided.report.packages[0]!.failure!.message).toContain(`declared compromised from log index ${published["1.0.1"]}`);
    const kept = await project("1.0.0");
    const ok = await verify(kept, mkdtempSync(join(dir, "state-")));
    expect(ok.code, JSON.stringify(ok.report.packages)).toBe(0);
    expect(pinsOf(kept).registries.team.retired).toEqual([expect.objectContaining({ fingerprint: leaky.key.keyid, compromisedSince: published["1.0.1"] })]);
  });
});

