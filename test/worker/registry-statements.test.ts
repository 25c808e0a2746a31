/**
 * Registry statements (PROTOCOL §20): a namespace claim, a publisher-key enrolment and a
 * revocation are each signed by the registry, committed with the change in one batch, given the
 * next number of the one sequence versions use, and appended to the log at that index. A
 * revocation reaches consumers through every package's signed metadata (§19), which then voids
 * the key's versions from `since` on.
 */

import { env } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import {
  checkListed,
  countersignatureEntry,
  fromBase64,
  keyPairFromSeed,
  logOrigin,
  logVerifier,
  openPackageMetadata,
  openRegistryStatement,
  parseEntryBundle,
  parseLogEntry,
  verifyTlogProof,
  type Envelope,
} from "../../src/core/index.js";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { admin, call, errorOf, logSequences, ORIGIN, SIGNING_KEY } from "./helpers.js";

let registryKeyid: string;
let alice: Publisher;
let mallory: Publisher;
let token: string;

interface Logged {
  statement: Envelope;
  log: { index: number; tlogProof?: string };
}

async function publish(name: string, version: string, who = alice) {
  const bytes = await npmTarball({ name, version });
  const res = await call("PUT", `/-/countersign/v1/packages/${encodeURIComponent(name)}/${version}`, { body: await uploadBody(await signedParts(who, name, version, bytes)), token });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { sequence: number; bundle: { publisher: Envelope } };
}

/** Opens a served statement under the registry key and checks its tlog-proof against the log key. */
async function expectLogged(answer: Logged, kind: string) {
  const opened = await openRegistryStatement(answer.statement, { trusted: [registryKeyid] });
  expect(opened.ok, JSON.stringify(opened)).toBe(true);
  if (!opened.ok) return undefined;
  expect(opened.value.statement).toMatchObject({ kind, sequence: answer.log.index, registry: { keyid: registryKeyid, origin: ORIGIN } });
  const verifier = await logVerifier(ORIGIN, (await keyPairFromSeed(fromBase64(SIGNING_KEY)!)).publicKey);
  const entry = countersignatureEntry(answer.statement);
  if (!verifier.ok || !entry.ok) throw new Error("unreachable");
  const proved = await verifyTlogProof(answer.log.tlogProof!, entry.value, { origin: logOrigin(ORIGIN), verifier: verifier.value });
  expect(proved.ok && proved.value.index, JSON.stringify(proved)).toBe(answer.log.index);
  return opened.value.statement;
}

beforeAll(async () => {
  registryKeyid = (await keyPairFromSeed(fromBase64(SIGNING_KEY)!)).keyid;
  alice = await newPublisher();
  mallory = await newPublisher();
});

describe("registry statements", () => {
  it("a namespace claim, an enrolment and a revocation are signed, take consecutive numbers and are in the log at them", async () => {
    const claimed = await admin("POST", "/namespaces", { namespace: "@stmt" });
    expect(claimed.status).toBe(201);
    const claim = (await claimed.json()) as Logged;
    const s1 = await expectLogged(claim, "namespace_claimed");
    expect(s1).toMatchObject({ namespace: "@stmt" });

    const enrolled = await admin("POST", "/namespaces/@stmt/keys", { publicKey: alice.publicKey, label: "alice laptop" });
    expect(enrolled.status).toBe(201);
    const enrolment = (await enrolled.json()) as Logged;
    expect(enrolment.log.index).toBe(claim.log.index + 1);
    const s2 = await expectLogged(enrolment, "key_enrolled");
    expect(s2).toMatchObject({ namespace: "@stmt", key: { keyid: alice.key.keyid, publicKey: alice.publicKey, label: "alice laptop" } });

    token = ((await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@stmt"] })).json()) as { token: string }).token;
    const first = await publish("@stmt/a", "1.0.0");
    expect(first.sequence).toBe(enrolment.log.index + 1);

    // The log's entry bundle holds the statement's payload bytes at its index, parsed as a statement.
    const checkpoint = await (await call("GET", "/-/countersign/v1/log/checkpoint")).text();
    const size = Number(checkpoint.split("\n")[1]);
    const res = await call("GET", `/-/countersign/v1/log/tile/entries/000${size < 256 ? `.p/${size}` : ""}`);
    const bundle = parseEntryBundle(new Uint8Array(await res.arrayBuffer()), Math.min(size, 256));
    if (!bundle.ok) throw new Error(bundle.error);
    const entry = parseLogEntry(bundle.value[enrolment.log.index]!, enrolment.log.index);
    expect(entry).toMatchObject({ ok: true, value: { kind: "statement", statement: { kind: "key_enrolled", key: { keyid: alice.key.keyid } } } });
  });

  it("GET …/namespaces/<ns>/statements lists a namespace's statements in log order, each with its proof", async () => {
    const res = await call("GET", "/-/countersign/v1/namespaces/@stmt/statements");
    expect(res.status).toBe(200);
    const body = (await res.json()) as { namespace: string; statements: { envelope: Envelope; log: Logged["log"] }[] };
    expect(body.statements.length).toBe(2);
    const [claim, enrolment] = body.statements;
    expect(await expectLogged({ statement: claim!.envelope, log: claim!.log }, "namespace_claimed")).toMatchObject({ namespace: "@stmt" });
    expect(await expectLogged({ statement: enrolment!.envelope, log: enrolment!.log }, "key_enrolled")).toMatchObject({ key: { keyid: alice.key.keyid } });
    expect(await errorOf(await call("GET", "/-/countersign/v1/namespaces/@nobody/statements"))).toMatchObject({ status: 404, code: "unknown_namespace" });
    expect(await errorOf(await call("GET", "/-/countersign/v1/namespaces/@Bad/statements"))).toMatchObject({ status: 400, code: "invalid_namespace" });
    expect(await errorOf(await call("GET", "/-/countersign/v1/namespaces/@stmt/statements?after=-1"))).toMatchObject({ status: 400, code: "invalid_after" });
    const after = (await (await call("GET", `/-/countersign/v1/namespaces/@stmt/statements?after=${claim!.log.index}`)).json()) as { statements: Logged[] };
    expect(after.statements.map((s) => s.log.index)).toEqual(body.statements.slice(1).map((s) => s.log.index));
  });

  it("refuses a second claim, a second enrolment, and re-enrolling a revoked key, writing no statement", async () => {
    const before = await statementCount();
    expect(await errorOf(await admin("POST", "/namespaces", { namespace: "@stmt" }))).toMatchObject({ status: 409, code: "namespace_exists" });
    expect(await errorOf(await admin("POST", "/namespaces/@stmt/keys", { publicKey: alice.publicKey }))).toMatchObject({ status: 409, code: "key_exists" });
    expect(await errorOf(await admin("POST", "/namespaces/@ghost/keys", { publicKey: alice.publicKey }))).toMatchObject({ status: 404, code: "unknown_namespace" });
    expect(await statementCount()).toBe(before);
  });

  it("revocation: ?since is checked, defaults to the revocation's own number, and cannot reach past the next one", async () => {
    await admin("POST", "/namespaces", { namespace: "@rev0" });
    const key = await newPublisher();
    await admin("POST", "/namespaces/@rev0/keys", { publicKey: key.publicKey });
    const path = `/namespaces/@rev0/keys/${encodeURIComponent(key.key.keyid)}`;
    for (const since of ["0", "-1", "1.5", "x", "01", "99999999999999999"]) {
      expect(await errorOf(await admin("DELETE", `${path}?since=${since}`)), since).toMatchObject({ status: 400, code: "invalid_since" });
    }
    expect(await errorOf(await admin("DELETE", `${path}?since=1000000`))).toMatchObject({ status: 400, code: "invalid_since" });
    const revoked = await admin("DELETE", path);
    expect(revoked.status).toBe(200);
    const body = (await revoked.json()) as Logged & { since: number };
    expect(body.since).toBe(body.log.index);
    expect(await expectLogged(body, "key_revoked")).toMatchObject({ keyid: key.key.keyid, since: body.log.index });
    expect(await errorOf(await admin("DELETE", path))).toMatchObject({ status: 404, code: "unknown_key" });
    const again = await errorOf(await admin("POST", "/namespaces/@rev0/keys", { publicKey: key.publicKey }));
    expect(again).toMatchObject({ status: 409, code: "key_exists" });
    expect(again.message).toContain("revoked");
  });

  it("a revocation raises every package's metadata serial and is listed in it; versions from `since` on fail as publisher_revoked, earlier ones pass", async () => {
    await admin("POST", "/namespaces", { namespace: "@rev" });
    await admin("POST", "/namespaces/@rev/keys", { publicKey: alice.publicKey });
    await admin("POST", "/namespaces/@rev/keys", { publicKey: mallory.publicKey });
    token = ((await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@rev"] })).json()) as { token: string }).token;
    const before = await publish("@rev/pkg", "1.0.0", mallory); // published while the key was trusted
    const stolen = await publish("@rev/pkg", "1.1.0", mallory); // published with the stolen key
    await publish("@rev/other", "1.0.0", alice);
    const metadataOf = async (name: string) => {
      const res = await call("POST", "/-/countersign/v1/bundles", { body: { packages: [`${name}@1.0.0`] } });
      const opened = await openPackageMetadata(((await res.json()) as { metadata: Record<string, Envelope> }).metadata[name], { name, pinned: [registryKeyid], now: new Date() });
      if (!opened.ok) throw new Error(opened.error.message);
      return opened.value.metadata;
    };
    const serials = { pkg: (await metadataOf("@rev/pkg")).serial, other: (await metadataOf("@rev/other")).serial };
    const res = await admin("DELETE", `/namespaces/@rev/keys/${encodeURIComponent(mallory.key.keyid)}?since=${stolen.sequence}`);
    expect(res.status, await res.clone().text()).toBe(200);
    const revocation = (await res.json()) as Logged;

    const pkg = await metadataOf("@rev/pkg");
    expect(pkg.serial).toBeGreaterThan(serials.pkg);
    expect((await metadataOf("@rev/other")).serial).toBeGreaterThan(serials.other);
    expect(pkg.revokedKeys).toEqual([{ keyid: mallory.key.keyid, since: stolen.sequence, sequence: revocation.log.index, revokedAt: expect.any(String) }]);
    const sha512Of = (version: string) => pkg.versions.find((v) => v.version === version)!.sha512;
    expect(checkListed(pkg, { version: "1.0.0", sha512: sha512Of("1.0.0"), sequence: before.sequence, publisherKeyid: mallory.key.keyid })).toBeUndefined();
    expect(checkListed(pkg, { version: "1.1.0", sha512: sha512Of("1.1.0"), sequence: stolen.sequence, publisherKeyid: mallory.key.keyid })).toMatchObject({
      code: "publisher_revoked",
      actual: `sequence ${stolen.sequence} by ${mallory.key.keyid}`,
    });
    // The revoked key cannot publish any more; the other key still can.
    const refused = await call("PUT", `/-/countersign/v1/packages/${encodeURIComponent("@rev/pkg")}/1.2.0`, { body: await uploadBody(await signedParts(mallory, "@rev/pkg", "1.2.0", await npmTarball({ name: "@rev/pkg", version: "1.2.0" }))), token });
    expect((await errorOf(refused)).status).toBe(403);
    await publish("@rev/pkg", "1.2.0", alice);
    // The full packument's metadata says the same.
    const packument = (await (await call("GET", "/@rev%2Fpkg")).json()) as { countersign: { metadata: Envelope } };
    const full = await openPackageMetadata(packument.countersign.metadata, { name: "@rev/pkg", pinned: [registryKeyid], now: new Date() });
    expect(full.ok && full.value.metadata.revokedKeys?.[0]?.keyid).toBe(mallory.key.keyid);
  });

  it("publishes and statements racing for numbers get distinct, consecutive ones", async () => {
    await admin("POST", "/namespaces", { namespace: "@race" });
    await admin("POST", "/namespaces/@race/keys", { publicKey: alice.publicKey });
    token = ((await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@race"] })).json()) as { token: string }).token;
    const keys = await Promise.all(Array.from({ length: 6 }, () => newPublisher()));
    const answers = await Promise.all([
      ...keys.map(async (k) => ((await (await admin("POST", "/namespaces/@race/keys", { publicKey: k.publicKey })).json()) as Logged).log.index),
      ...["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5"].map(async (v) => (await publish("@race/pkg", v)).sequence),
    ]);
    expect(new Set(answers).size).toBe(12);
    const all = await logSequences();
    expect(all).toEqual(all.map((_, i) => i + 1));
  });
});

async function statementCount(): Promise<number> {
  return (await env.DB.prepare("SELECT COUNT(*) AS n FROM registry_statements").first<{ n: number }>())!.n;
}
