/**
 * Staged publishing (issue 11 part 5, docs/PROTOCOL.md §12.1) in workerd with real D1 and R2: a
 * namespace that requires approval refuses direct publishes (native and npm); a staged version is
 * in no read route; only an approval signed by a second, enrolled, active key over exactly the
 * staged statement makes the registry countersign it, and the bundle then binds that approval;
 * a staged version nobody approved within STAGED_TTL_MS expires.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import {
  artifactDigests,
  fromBase64,
  keyPairFromSeed,
  sha256,
  signApproval,
  sriFromHex,
  toBase64,
  toHex,
  utf8,
  verifyBundle,
  type Bundle,
  type Envelope,
  type PublishStatement,
} from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import type { StoreFactories } from "../../src/worker/context.js";
import { blobKey } from "../../src/worker/storage/blobs.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import { d1StagingStore, STAGED_TTL_MS } from "../../src/worker/storage/staging.js";
import { newPublisher, signedParts, uploadBody, type Publisher, type UploadParts } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { admin, call, enrol, errorOf, ORIGIN, packagePath, publishParts, record, SIGNING_KEY } from "./helpers.js";

const NS = "@gated";
let registryKeyid: string;
let ci: Publisher; // the CI key: publishes (stages)
let reviewer: Publisher; // the second key enrolled in the namespace
let outsider: Publisher; // never enrolled
let token: string;

const stagedPath = (name: string, version: string) => `/-/countersign/v1/staged/${encodeURIComponent(name)}/${version}`;

async function stage(parts: UploadParts, name: string, version: string, query = ""): Promise<Response> {
  return call("PUT", `${stagedPath(name, version)}${query}`, { body: await uploadBody(parts), token, headers: { "content-type": "application/x-tar" } });
}

interface StagedAnswer {
  staged: true;
  name: string;
  version: string;
  publisher: string;
  statementSha256: string;
  integrity: string;
}

/** Stages name@version (an npm tarball) and returns its parts and the registry's answer. */
async function staged(name: string, version: string): Promise<{ parts: UploadParts; answer: StagedAnswer }> {
  const parts = await signedParts(ci, name, version, await npmTarball({ name, version }));
  const res = await stage(parts, name, version);
  expect(res.status, await res.clone().text()).toBe(202);
  return { parts, answer: (await res.json()) as StagedAnswer };
}

function statementOf(envelope: Envelope): PublishStatement {
  return JSON.parse(new TextDecoder().decode(fromBase64(envelope.payload))) as PublishStatement;
}

/** The approval target of staged parts, as `countersign approve` builds it from the staged statement. */
async function targetOf(parts: UploadParts) {
  return { statement: statementOf(parts.envelope), publisherKeyid: ci.key.keyid, statementSha256: toHex(await sha256(fromBase64(parts.envelope.payload)!)) };
}

const approve = (name: string, version: string, approval: unknown, auth: string | null = token) =>
  call("POST", `${stagedPath(name, version)}/approval`, { body: approval, token: auth });

beforeAll(async () => {
  registryKeyid = (await keyPairFromSeed(fromBase64(SIGNING_KEY)!)).keyid;
  [ci, reviewer, outsider] = await Promise.all([newPublisher(), newPublisher(), newPublisher()]);
  token = await enrol(NS, ci);
  expect((await admin("POST", `/namespaces/${encodeURIComponent(NS)}/keys`, { publicKey: reviewer.publicKey, label: "release manager" })).status).toBe(201);
  const on = await admin("PUT", `/namespaces/${encodeURIComponent(NS)}/approval`, { required: true });
  expect(on.status, await on.clone().text()).toBe(200);
  expect(await on.json()).toEqual({ namespace: NS, approvalRequired: true });
});

describe("a namespace that requires approval refuses every direct publish", () => {
  it("refuses the native publish with approval_required, and nothing is published", async () => {
    const name = `${NS}/direct`;
    const parts = await signedParts(ci, name, "1.0.0", await npmTarball({ name, version: "1.0.0" }));
    const error = await errorOf(await publishParts(name, "1.0.0", parts, token));
    expect(error).toMatchObject({ status: 403, code: "approval_required", layer: "publisher" });
    expect(error.message).toContain("countersign publish <dir> --stage");
    expect(error.message).toContain("countersign approve");
    expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);
  });

  it("refuses npm publish with approval_required (npm's error shape)", async () => {
    const name = `${NS}/npm`;
    const bytes = await npmTarball({ name, version: "1.0.0" });
    const shasum = toHex(new Uint8Array(await crypto.subtle.digest("SHA-1", bytes)));
    const body = JSON.stringify({
      _id: name,
      name,
      "dist-tags": { latest: "1.0.0" },
      versions: { "1.0.0": { name, version: "1.0.0", dist: { integrity: sriFromHex("sha512", (await artifactDigests(bytes)).sha512), shasum, tarball: `http://x/${name}/-/npm-1.0.0.tgz` } } },
      _attachments: { [`${name}-1.0.0.tgz`]: { content_type: "application/octet-stream", data: toBase64(bytes), length: bytes.length } },
    });
    const res = await call("PUT", `/${encodeURIComponent(name)}`, { body, token, headers: { "content-type": "application/json", "npm-command": "publish" } });
    const answer = (await res.json()) as { error: string; code: string; layer: string };
    expect(res.status).toBe(403);
    expect(answer).toMatchObject({ code: "approval_required", layer: "publisher" });
    expect(answer.error).toContain("--stage");
  });

  it("turned off, the namespace takes direct publishes again (and the setting is the admin's alone)", async () => {
    const ns = "@toggle";
    const publisher = await newPublisher();
    const own = await enrol(ns, publisher);
    const put = (required: boolean, auth: string | null) => call("PUT", `/-/countersign/v1/admin/namespaces/${encodeURIComponent(ns)}/approval`, { body: { required }, token: auth });
    expect((await put(false, own)).status).toBe(401); // a publish token cannot lift the requirement
    expect((await put(true, own)).status).toBe(401);
    expect((await admin("PUT", `/namespaces/${encodeURIComponent(ns)}/approval`, { required: true })).status).toBe(200);
    const parts = async (v: string) => signedParts(publisher, `${ns}/pkg`, v, utf8(`toggle ${v}`));
    expect(await errorOf(await publishParts(`${ns}/pkg`, "1.0.0", await parts("1.0.0"), own))).toMatchObject({ status: 403, code: "approval_required" });
    expect((await admin("PUT", `/namespaces/${encodeURIComponent(ns)}/approval`, { required: false })).status).toBe(200);
    expect((await publishParts(`${ns}/pkg`, "1.0.0", await parts("1.0.0"), own)).status).toBe(201);
    expect(await errorOf(await admin("PUT", "/namespaces/%40nowhere/approval", { required: true }))).toMatchObject({ status: 404, code: "unknown_namespace" });
    expect(await errorOf(await admin("PUT", `/namespaces/${encodeURIComponent(ns)}/approval`, { required: "yes" }))).toMatchObject({ status: 400, code: "invalid_body" });
  });
});

describe("a staged version that lacks approval is never visible", () => {
  const name = `${NS}/hidden`;
  let parts: UploadParts;
  let answer: StagedAnswer;

  beforeAll(async () => {
    ({ parts, answer } = await staged(name, "1.0.0"));
  });

  it("answers 202 with the staged statement's digest, no sequence number and no bundle", async () => {
    expect(answer).toMatchObject({ staged: true, name, version: "1.0.0", publisher: ci.key.keyid, statementSha256: (await targetOf(parts)).statementSha256 });
    expect(answer).not.toHaveProperty("sequence");
    expect(answer).not.toHaveProperty("bundle");
  });

  it("is in no read route: native, npm, batch, search, web pages, log", async () => {
    const checkpointBefore = await (await call("GET", "/-/countersign/v1/log/checkpoint")).text();
    const html = { accept: "text/html" };
    expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);
    expect((await call("GET", `${packagePath(name, "1.0.0")}/artifact`)).status).toBe(404);
    expect((await call("GET", `${packagePath(name, "1.0.0")}/reviews`)).status).toBe(404);
    expect((await call("GET", packagePath(name))).status).toBe(404);
    expect((await call("GET", `/${encodeURIComponent(name)}`)).status).toBe(404);
    expect((await call("GET", `/${encodeURIComponent(name)}`, { headers: { accept: "application/vnd.npm.install-v1+json" } })).status).toBe(404);
    expect((await call("GET", `/${encodeURIComponent(name)}/-/hidden-1.0.0.tgz`)).status).toBe(404);
    const bundles = (await (await call("POST", "/-/countersign/v1/bundles", { body: { packages: [`${name}@1.0.0`] } })).json()) as { bundles: Record<string, unknown> };
    expect(bundles.bundles[`${name}@1.0.0`]).toBeNull();
    const search = (await (await call("GET", "/-/v1/search?text=hidden")).json()) as { objects: { package: { name: string } }[] };
    expect(search.objects.map((o) => o.package.name)).not.toContain(name);
    expect((await call("GET", `/package/${name}`, { headers: html })).status).toBe(404);
    expect((await call("GET", `/package/${name}/v/1.0.0`, { headers: html })).status).toBe(404);
    expect(await (await call("GET", "/", { headers: html })).text()).not.toContain(name);
    // No sequence number taken: the log's checkpoint did not move.
    expect(await (await call("GET", "/-/countersign/v1/log/checkpoint")).text()).toBe(checkpointBefore);
    const db = await env.DB.prepare("SELECT COUNT(*) AS n FROM versions WHERE name = ?").bind(name).first<{ n: number }>();
    expect(db!.n).toBe(0);
  });

  it("is shown to the namespace's publishers only, for approval", async () => {
    const shown = await call("GET", stagedPath(name, "1.0.0"), { token });
    expect(shown.status).toBe(200);
    const body = (await shown.json()) as { envelope: Envelope; publisher: { keyid: string; statementSha256: string } };
    expect(body.envelope).toEqual(parts.envelope);
    expect(body.publisher).toEqual({ keyid: ci.key.keyid, statementSha256: answer.statementSha256 });
    expect((await call("GET", stagedPath(name, "1.0.0"))).status).toBe(401);
    const read = ((await (await admin("POST", "/tokens", { scope: "read" })).json()) as { token: string }).token;
    expect((await call("GET", stagedPath(name, "1.0.0"), { token: read })).status).toBe(403);
    const list = (await (await call("GET", `/-/countersign/v1/staged?namespace=${encodeURIComponent(NS)}`, { token })).json()) as { staged: { name: string; version: string }[] };
    expect(list.staged).toContainEqual(expect.objectContaining({ name, version: "1.0.0" }));
  });

  it("refuses to stage the same version twice (409), whatever the bytes", async () => {
    for (const bytes of [parts.bytes, await npmTarball({ name, version: "1.0.0" }, { "index.js": "other;\n" })]) {
      const again = await stage(await signedParts(ci, name, "1.0.0", bytes), name, "1.0.0");
      expect(await errorOf(again)).toMatchObject({ status: 409, code: "version_staged" });
    }
  });

  it("keeps its blob from the blob collector while it waits", async () => {
    const digests = await artifactDigests(parts.bytes);
    expect(await d1MetaStore(env.DB).claimUnreferencedBlobs([digests.sha512])).toEqual([]);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM blob_claims WHERE sha512 = ?").bind(digests.sha512).first<{ n: number }>()).toEqual({ n: 0 });
    expect(await env.ARTIFACTS.head(blobKey(digests.sha512))).not.toBeNull();
  });
});

describe("approval: only a second, enrolled, active key over exactly the staged statement", () => {
  it("refuses an approval by the publisher's own key (same_key): a stolen CI token and CI key cannot publish", async () => {
    const name = `${NS}/same`;
    const { parts } = await staged(name, "1.0.0");
    const error = await errorOf(await approve(name, "1.0.0", await signApproval(await targetOf(parts), ci.signer)));
    expect(error).toMatchObject({ status: 403, code: "same_key", layer: "publisher", actual: ci.key.keyid });
    expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);
  });

  it("refuses a key not enrolled in the namespace (approver_not_enrolled)", async () => {
    const name = `${NS}/outsider`;
    const { parts } = await staged(name, "1.0.0");
    const error = await errorOf(await approve(name, "1.0.0", await signApproval(await targetOf(parts), outsider.signer)));
    expect(error).toMatchObject({ status: 403, code: "approver_not_enrolled", actual: outsider.key.keyid });
    expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);
  });

  it("refuses a revoked key (approver_key_revoked)", async () => {
    const revoked = await newPublisher();
    expect((await admin("POST", `/namespaces/${encodeURIComponent(NS)}/keys`, { publicKey: revoked.publicKey })).status).toBe(201);
    expect((await admin("DELETE", `/namespaces/${encodeURIComponent(NS)}/keys/${encodeURIComponent(revoked.key.keyid)}`)).status).toBe(200);
    const name = `${NS}/revoked`;
    const { parts } = await staged(name, "1.0.0");
    const error = await errorOf(await approve(name, "1.0.0", await signApproval(await targetOf(parts), revoked.signer)));
    expect(error).toMatchObject({ status: 403, code: "approver_key_revoked", actual: revoked.key.keyid });
    expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);
  });

  it("refuses an approval of another statement, version or bytes (approval_mismatch), and a forged signature", async () => {
    const name = `${NS}/mismatch`;
    const { parts } = await staged(name, "1.0.0");
    const { parts: other } = await staged(name, "1.0.1");
    const target = await targetOf(parts);
    // Approval of 1.0.1 sent for 1.0.0; of another statement of 1.0.0 (same bytes, signed again); of other bytes.
    const resigned = await signedParts(ci, name, "1.0.0", parts.bytes);
    const otherBytes = await artifactDigests(utf8("other bytes"));
    const cases: [string, Envelope][] = [
      ["another version", await signApproval(await targetOf(other), reviewer.signer)],
      ["another publish statement", await signApproval(await targetOf(resigned), reviewer.signer)],
      ["other bytes", await signApproval({ ...target, statement: { ...target.statement, subject: [{ ...target.statement.subject[0], digest: { sha256: otherBytes.sha256, sha512: otherBytes.sha512 } }] } }, reviewer.signer)],
    ];
    for (const [label, approval] of cases) {
      expect(await errorOf(await approve(name, "1.0.0", approval)), label).toMatchObject({ status: 403, code: "approval_mismatch" });
    }
    const good = await signApproval(target, reviewer.signer);
    const sig = fromBase64(good.signatures[0]!.sig)!;
    sig[0]! ^= 1;
    const forged = { ...good, signatures: [{ keyid: good.signatures[0]!.keyid, sig: toBase64(sig) }] };
    expect(await errorOf(await approve(name, "1.0.0", forged))).toMatchObject({ status: 403, code: "bad_approval_signature" });
    expect(await errorOf(await approve(name, "1.0.0", { not: "an envelope" }))).toMatchObject({ status: 400, code: "bad_approval" });
    expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);
  });

  it("refuses an approval without a publish token for the namespace, and of a version not staged", async () => {
    const name = `${NS}/tokens`;
    const { parts } = await staged(name, "1.0.0");
    const approval = await signApproval(await targetOf(parts), reviewer.signer);
    expect((await approve(name, "1.0.0", approval, null)).status).toBe(401);
    const elsewhere = await enrol("@elsewhere", await newPublisher());
    expect(await errorOf(await approve(name, "1.0.0", approval, elsewhere))).toMatchObject({ status: 403, code: "forbidden" });
    expect(await errorOf(await approve(name, "9.9.9", approval))).toMatchObject({ status: 404, code: "not_staged" });
  });

  it("refuses to approve what a key revoked since staging signed (publisher_key_revoked)", async () => {
    const ns = "@stolen";
    const stolen = await newPublisher();
    const second = await newPublisher();
    const own = await enrol(ns, stolen);
    expect((await admin("POST", `/namespaces/${encodeURIComponent(ns)}/keys`, { publicKey: second.publicKey })).status).toBe(201);
    const name = `${ns}/pkg`;
    const parts = await signedParts(stolen, name, "1.0.0", utf8("planted"));
    const res = await call("PUT", stagedPath(name, "1.0.0"), { body: await uploadBody(parts), token: own, headers: { "content-type": "application/x-tar" } });
    expect(res.status).toBe(202);
    expect((await admin("DELETE", `/namespaces/${encodeURIComponent(ns)}/keys/${encodeURIComponent(stolen.key.keyid)}`)).status).toBe(200);
    const target = { statement: statementOf(parts.envelope), publisherKeyid: stolen.key.keyid, statementSha256: toHex(await sha256(fromBase64(parts.envelope.payload)!)) };
    const error = await errorOf(await approve(name, "1.0.0", await signApproval(target, second.signer), own));
    expect(error).toMatchObject({ status: 403, code: "publisher_key_revoked", actual: stolen.key.keyid });
    expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);
  });
});

describe("a staged version withdrawn", () => {
  it("is gone for good: not approvable, its blob left to the collector, and the version number free to stage again", async () => {
    const name = `${NS}/withdrawn`;
    const { parts } = await staged(name, "1.0.0");
    expect((await call("DELETE", stagedPath(name, "1.0.0"))).status).toBe(401);
    expect((await call("DELETE", stagedPath(name, "1.0.0"), { token })).status).toBe(200);
    expect(await errorOf(await call("DELETE", stagedPath(name, "1.0.0"), { token }))).toMatchObject({ status: 404, code: "not_staged" });
    expect(await errorOf(await approve(name, "1.0.0", await signApproval(await targetOf(parts), reviewer.signer)))).toMatchObject({ status: 404, code: "not_staged" });
    const sha512 = (await artifactDigests(parts.bytes)).sha512;
    expect(await d1MetaStore(env.DB).claimUnreferencedBlobs([sha512])).toEqual([sha512]);
    await env.DB.prepare("DELETE FROM blob_claims WHERE sha512 = ?").bind(sha512).run();
    expect((await stage(parts, name, "1.0.0")).status).toBe(202);
  });
});

describe("an approved version", () => {
  const name = `${NS}/approved`;
  let parts: UploadParts;
  let answer: { sequence: number; approver: string; logIndex: number; tlogProof?: string; bundle: Bundle };

  beforeAll(async () => {
    ({ parts } = await staged(name, "1.0.0"));
    const res = await approve(name, "1.0.0", await signApproval(await targetOf(parts), reviewer.signer));
    expect(res.status, await res.clone().text()).toBe(201);
    answer = (await res.json()) as typeof answer;
  });

  it("is countersigned with the approval bound, and its bundle verifies", async () => {
    expect(answer.approver).toBe(reviewer.key.keyid);
    const served = (await (await call("GET", packagePath(name, "1.0.0"))).json()) as Bundle;
    expect(served.publisher).toEqual(parts.envelope);
    expect(served.approval).toBeDefined();
    const cs = JSON.parse(new TextDecoder().decode(fromBase64(served.countersignature.payload))) as { predicate: { approval?: { keyid: string; statementSha256: string; sig: string } } };
    expect(cs.predicate.approval).toMatchObject({ keyid: reviewer.key.keyid, sig: served.approval!.signatures[0]!.sig });
    const digests = await artifactDigests(parts.bytes);
    const verified = await verifyBundle({ name, version: "1.0.0", artifact: digests, bundle: served, pinned: [registryKeyid] });
    expect(verified.ok && verified.value).toMatchObject({ publisher: { keyid: ci.key.keyid }, approval: { keyid: reviewer.key.keyid }, sequence: answer.sequence });
  });

  it("is in the log, the packument and the tarball route, at its dist-tag; no longer staged", async () => {
    expect(answer.logIndex).toBe(answer.sequence);
    expect(typeof answer.tlogProof).toBe("string");
    const packument = (await (await call("GET", `/${encodeURIComponent(name)}`)).json()) as { "dist-tags": Record<string, string>; versions: Record<string, unknown> };
    expect(packument["dist-tags"]).toEqual({ latest: "1.0.0" });
    expect(Object.keys(packument.versions)).toEqual(["1.0.0"]);
    expect(new Uint8Array(await (await call("GET", `/${encodeURIComponent(name)}/-/approved-1.0.0.tgz`)).arrayBuffer())).toEqual(parts.bytes);
    expect((await call("GET", stagedPath(name, "1.0.0"), { token })).status).toBe(404);
  });

  it("its web page names the approver beside the publisher", async () => {
    const page = await (await call("GET", `/package/${name}/v/1.0.0`, { headers: { accept: "text/html" } })).text();
    expect(page).toContain("Approved by");
    expect(page).toContain(reviewer.key.keyid);
    // A directly published version shows no approval.
    const direct = await (await call("GET", `/package/@toggle/pkg/v/1.0.0`, { headers: { accept: "text/html" } })).text();
    expect(direct).toContain("@toggle/pkg");
    expect(direct).not.toContain("Approved by");
  });

  it("cannot be approved, staged or published again (409)", async () => {
    expect(await errorOf(await approve(name, "1.0.0", await signApproval(await targetOf(parts), reviewer.signer)))).toMatchObject({ status: 409, code: "version_exists" });
    expect(await errorOf(await stage(parts, name, "1.0.0"))).toMatchObject({ status: 409, code: "version_exists" });
  });

  it("a bundle whose approval is stripped or swapped fails verification", async () => {
    const served = (await (await call("GET", packagePath(name, "1.0.0"))).json()) as Bundle;
    const digests = await artifactDigests(parts.bytes);
    const { approval: _stripped, ...stripped } = served;
    const missing = await verifyBundle({ name, version: "1.0.0", artifact: digests, bundle: stripped, pinned: [registryKeyid] });
    expect(!missing.ok && missing.error).toMatchObject({ layer: "publisher", code: "approval_missing" });
    // Another valid approval of the same statement by the same key (a later time): not the bound one.
    const swapped = { ...served, approval: await signApproval(await targetOf(parts), reviewer.signer, new Date(Date.now() + 1000)) };
    const other = await verifyBundle({ name, version: "1.0.0", artifact: digests, bundle: swapped, pinned: [registryKeyid] });
    expect(!other.ok && other.error).toMatchObject({ layer: "publisher", code: "bad_approval" });
  });
});

describe("storage faults: staging and approval either happen whole or not at all", () => {
  const INJECTED = "INJECTED-FAULT: SQLITE_BUSY at /srv/secret";

  async function through(factories: StoreFactories, method: string, path: string, body: BodyInit, contentType: string): Promise<Response> {
    const ctx = createExecutionContext();
    const res = await createApp(factories).fetch(new Request(`${ORIGIN}${path}`, { method, body, headers: { authorization: `Bearer ${token}`, "content-type": contentType } }), env, ctx);
    await waitOnExecutionContext(ctx);
    return record(res);
  }

  it("a failed stage write answers a generic 500 and leaves nothing staged; the retry stages", async () => {
    const name = `${NS}/stage-fault`;
    const parts = await signedParts(ci, name, "1.0.0", await npmTarball({ name, version: "1.0.0" }));
    const failing: StoreFactories = { staging: () => ({ ...d1StagingStore(env.DB), stage: () => Promise.reject(new Error(INJECTED)) }) };
    const res = await through(failing, "PUT", stagedPath(name, "1.0.0"), await uploadBody(parts), "application/x-tar");
    expect(res.status).toBe(500);
    const text = await res.text();
    expect(text).toContain("internal_error");
    expect(text).not.toContain("INJECTED");
    expect((await call("GET", stagedPath(name, "1.0.0"), { token })).status).toBe(404);
    expect((await stage(parts, name, "1.0.0")).status).toBe(202);
  });

  it("a failed approval commit publishes nothing and keeps the version staged; the retry publishes it", async () => {
    const name = `${NS}/approve-fault`;
    const { parts } = await staged(name, "1.0.0");
    const approval = await signApproval(await targetOf(parts), reviewer.signer);
    const failing: StoreFactories = { meta: () => ({ ...d1MetaStore(env.DB), commitVersion: () => Promise.reject(new Error(INJECTED)) }) };
    const res = await through(failing, "POST", `${stagedPath(name, "1.0.0")}/approval`, JSON.stringify(approval), "application/json");
    expect(res.status).toBe(500);
    expect(await res.text()).not.toContain("INJECTED");
    expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);
    expect((await call("GET", stagedPath(name, "1.0.0"), { token })).status).toBe(200);
    expect((await approve(name, "1.0.0", approval)).status).toBe(201);
    expect((await call("GET", stagedPath(name, "1.0.0"), { token })).status).toBe(404);
  });

  it("a failed read of the namespace's setting refuses the publish rather than skip the requirement", async () => {
    const name = `${NS}/gate-fault`;
    const parts = await signedParts(ci, name, "1.0.0", utf8("gate"));
    const failing: StoreFactories = { staging: () => ({ ...d1StagingStore(env.DB), context: () => Promise.reject(new Error(INJECTED)) }) };
    const res = await through(failing, "PUT", packagePath(name, "1.0.0"), await uploadBody(parts), "application/x-tar");
    expect(res.status).toBe(500);
    expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);
  });
});

describe("a staged version expires unapproved after STAGED_TTL_MS", () => {
  /** A request at `at` (the Worker's clock; D1's is not moved). */
  async function at(time: number, method: string, path: string, init: { body?: unknown; auth?: string | null } = {}): Promise<Response> {
    const ctx = createExecutionContext();
    const headers: Record<string, string> = { "content-type": "application/json" };
    const auth = init.auth === undefined ? token : init.auth;
    if (auth) headers.authorization = `Bearer ${auth}`;
    const res = await createApp({ now: () => new Date(time) }).fetch(new Request(`${ORIGIN}${path}`, { method, headers, ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }) }), env, ctx);
    await waitOnExecutionContext(ctx);
    return record(res);
  }

  it("says when it expires; past that no approval commits it (410 staged_expired), it can be staged again, and the scheduled run deletes it", async () => {
    const name = `${NS}/stale`;
    const { parts, answer } = await staged(name, "1.0.0");
    const stagedAt = Date.parse((answer as StagedAnswer & { stagedAt: string }).stagedAt);
    expect((answer as StagedAnswer & { expiresAt: string }).expiresAt).toBe(new Date(stagedAt + STAGED_TTL_MS).toISOString());
    const listed = (await (await call("GET", `/-/countersign/v1/staged?namespace=${encodeURIComponent(NS)}`, { token })).json()) as { staged: { name: string; expiresAt: string }[] };
    expect(listed.staged.find((s) => s.name === name)?.expiresAt).toBe(new Date(stagedAt + STAGED_TTL_MS).toISOString());

    const approval = await signApproval(await targetOf(parts), reviewer.signer);
    const late = await at(stagedAt + STAGED_TTL_MS + 1000, "POST", `${stagedPath(name, "1.0.0")}/approval`, { body: approval });
    expect(await errorOf(late)).toMatchObject({ status: 410, code: "staged_expired", layer: "publisher" });
    expect((await call("GET", packagePath(name, "1.0.0"))).status).toBe(404);

    // Within the window the same approval still commits it.
    const inTime = await at(stagedAt + STAGED_TTL_MS - 60_000, "POST", `${stagedPath(name, "1.0.0")}/approval`, { body: approval });
    expect(inTime.status, await inTime.clone().text()).toBe(201);
  });

  it("an expired staged version does not block staging the version again, which starts a new window", async () => {
    const name = `${NS}/restaged`;
    const { parts } = await staged(name, "1.0.0");
    const later = Date.now() + STAGED_TTL_MS + 60_000;
    // Staged anew a week later (same bytes): replaces the expired row.
    const again = await (async () => {
      const ctx = createExecutionContext();
      const res = await createApp({ now: () => new Date(later) }).fetch(
        new Request(`${ORIGIN}${stagedPath(name, "1.0.0")}`, { method: "PUT", body: await uploadBody(parts), headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" } }),
        env,
        ctx,
      );
      await waitOnExecutionContext(ctx);
      return res;
    })();
    expect(again.status, await again.clone().text()).toBe(202);
    expect(((await again.json()) as { stagedAt: string }).stagedAt).toBe(new Date(later).toISOString());
    // Before it expired, staging it again was refused.
    expect(await errorOf(await stage(parts, name, "1.0.0"))).toMatchObject({ status: 409, code: "version_staged" });
  });

  it("the scheduled run deletes what expired, and only that", async () => {
    const old = `${NS}/forgotten`;
    const fresh = `${NS}/fresh`;
    await staged(old, "1.0.0");
    await staged(fresh, "1.0.0");
    const staging = d1StagingStore(env.DB);
    await env.DB.prepare("UPDATE staged_versions SET staged_at = ? WHERE name = ?").bind(new Date(Date.now() - STAGED_TTL_MS - 1000).toISOString(), old).run();
    // The Worker's own `scheduled`, through the runtime, as the Cron Trigger fires it.
    await (exports as unknown as { default: { scheduled(options: { scheduledTime: Date; cron: string }): Promise<unknown> } }).default.scheduled({ scheduledTime: new Date(), cron: "17 * * * *" });
    expect(await staging.getStaged(old, "1.0.0")).toBeNull();
    expect(await staging.getStaged(fresh, "1.0.0")).not.toBeNull();
  });
});
