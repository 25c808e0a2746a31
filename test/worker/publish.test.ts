import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBase64, keyPairFromSeed, toHex, utf8, verifyBundle, type Bundle } from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import { blobKey, r2BlobStore } from "../../src/worker/storage/blobs.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { ADMIN_TOKEN, admin, call, enrol, errorOf, ORIGIN, packagePath, publishParts, putUpload, record, seen, SIGNING_KEY } from "./helpers.js";

let registryKeyid: string;
let alice: Publisher;
let aliceToken: string;

beforeAll(async () => {
  registryKeyid = (await keyPairFromSeed(fromBase64(SIGNING_KEY)!)).keyid;
  alice = await newPublisher();
  aliceToken = await enrol("@acme", alice);
});

const bytesOf = (text: string) => utf8(text);

async function expectAbsent(name: string, version: string) {
  expect((await call("GET", packagePath(name, version))).status).toBe(404);
}

describe("PUT /-/countersign/v1/packages/:name/:version", () => {
  it("publishes, countersigns, and serves a bundle that verifies against the registry fingerprint", async () => {
    const bytes = bytesOf("the first artifact");
    const parts = await signedParts(alice, "@acme/first", "1.0.0", bytes);
    const res = await publishParts("@acme/first", "1.0.0", parts, aliceToken);
    expect(res.status).toBe(201);
    const body = (await res.json()) as { sequence: number; integrity: string; bundle: Bundle };
    expect(body.integrity).toMatch(/^sha512-/);
    expect(body.bundle.publisher).toEqual(parts.envelope);

    const served = (await (await call("GET", packagePath("@acme/first", "1.0.0"))).json()) as Bundle;
    expect(served).toEqual(body.bundle);
    const digests = { sha512: toHex(new Uint8Array(await crypto.subtle.digest("SHA-512", bytes))) };
    const result = await verifyBundle({ name: "@acme/first", version: "1.0.0", artifact: digests, bundle: served, pinned: [registryKeyid] });
    expect(result.ok && result.value).toMatchObject({ namespace: "@acme", registry: { keyid: registryKeyid, origin: ORIGIN }, publisher: { keyid: alice.key.keyid }, sequence: body.sequence });

    const artifact = await call("GET", `${packagePath("@acme/first", "1.0.0")}/artifact`);
    expect(new Uint8Array(await artifact.arrayBuffer())).toEqual(bytes);
    const list = (await (await call("GET", packagePath("@acme/first"))).json()) as { distTags: Record<string, string>; versions: { version: string }[] };
    expect(list.distTags).toEqual({ latest: "1.0.0" });
    expect(list.versions.map((v) => v.version)).toEqual(["1.0.0"]);
  });

  it("accepts the two-segment scoped URL and unscoped names, and numbers publications in order", async () => {
    const unscopedPublisher = await newPublisher();
    const token = await enrol("acme-internal-tool", unscopedPublisher);
    const a = await publishParts("acme-internal-tool", "0.1.0", await signedParts(unscopedPublisher, "acme-internal-tool", "0.1.0", bytesOf("a")), token);
    const b = await putUpload("@acme/two", "1.0.0", await uploadBody(await signedParts(alice, "@acme/two", "1.0.0", bytesOf("b"))), aliceToken);
    expect([a.status, b.status]).toEqual([201, 201]);
    const [sa, sb] = [(await a.json()) as { sequence: number }, (await b.json()) as { sequence: number }];
    expect(sb.sequence).toBeGreaterThan(sa.sequence);
    expect((await call("GET", "/-/countersign/v1/packages/@acme/two/1.0.0")).status).toBe(200);
  });

  it("moves latest forward only, and other tags to whatever is published", async () => {
    for (const [version, query] of [["2.0.0", ""], ["1.5.0", ""], ["3.0.0-beta.1", "?tag=next"]] as const) {
      const res = await putUpload("@acme/tags", version, await uploadBody(await signedParts(alice, "@acme/tags", version, bytesOf(version))), aliceToken, query);
      expect(res.status).toBe(201);
    }
    const list = (await (await call("GET", packagePath("@acme/tags"))).json()) as { distTags: Record<string, string> };
    expect(list.distTags).toEqual({ latest: "2.0.0", next: "3.0.0-beta.1" });
  });

  it("refuses to republish a version (409) and keeps the original bytes", async () => {
    const first = await publishParts("@acme/immutable", "1.0.0", await signedParts(alice, "@acme/immutable", "1.0.0", bytesOf("original")), aliceToken);
    expect(first.status).toBe(201);
    for (const text of ["original", "replacement"]) {
      const again = await publishParts("@acme/immutable", "1.0.0", await signedParts(alice, "@acme/immutable", "1.0.0", bytesOf(text)), aliceToken);
      expect(await errorOf(again)).toMatchObject({ status: 409, code: "version_exists" });
    }
    const artifact = await call("GET", `${packagePath("@acme/immutable", "1.0.0")}/artifact`);
    expect(await artifact.text()).toBe("original");
  });
});

describe("publisher layer at publication", () => {
  it("refuses a key that is not enrolled in the namespace", async () => {
    const mallory = await newPublisher();
    const res = await publishParts("@acme/evil", "1.0.0", await signedParts(mallory, "@acme/evil", "1.0.0", bytesOf("x")), aliceToken);
    expect(await errorOf(res)).toMatchObject({ status: 403, code: "publisher_not_enrolled", layer: "publisher", actual: mallory.key.keyid });
    await expectAbsent("@acme/evil", "1.0.0");
  });

  it("refuses a key enrolled only in another namespace", async () => {
    const bob = await newPublisher();
    await enrol("@other", bob);
    const res = await publishParts("@acme/cross", "1.0.0", await signedParts(bob, "@acme/cross", "1.0.0", bytesOf("x")), aliceToken);
    expect(await errorOf(res)).toMatchObject({ status: 403, code: "publisher_not_enrolled", layer: "publisher" });
    await expectAbsent("@acme/cross", "1.0.0");
  });

  it("refuses a revoked key", async () => {
    const carol = await newPublisher();
    const token = await enrol("@revoked", carol);
    expect((await admin("DELETE", `/namespaces/@revoked/keys/${encodeURIComponent(carol.key.keyid)}`)).status).toBe(200);
    const res = await publishParts("@revoked/pkg", "1.0.0", await signedParts(carol, "@revoked/pkg", "1.0.0", bytesOf("x")), token);
    expect(await errorOf(res)).toMatchObject({ status: 403, code: "publisher_key_revoked", layer: "publisher" });
  });

  it("refuses a statement whose signature does not verify", async () => {
    const parts = await signedParts(alice, "@acme/forged", "1.0.0", bytesOf("x"));
    const sig = fromBase64(parts.envelope.signatures[0]!.sig)!;
    sig[10]! ^= 1;
    parts.envelope.signatures[0]!.sig = btoa(String.fromCharCode(...sig));
    const res = await publishParts("@acme/forged", "1.0.0", parts, aliceToken);
    expect(await errorOf(res)).toMatchObject({ status: 403, code: "bad_publisher_signature", layer: "publisher" });
    await expectAbsent("@acme/forged", "1.0.0");
  });

  it("refuses a statement signed for another name or version", async () => {
    const parts = await signedParts(alice, "@acme/other", "1.0.0", bytesOf("x"));
    expect(await errorOf(await publishParts("@acme/target", "1.0.0", parts, aliceToken))).toMatchObject({ status: 400, code: "statement_mismatch" });
    expect(await errorOf(await publishParts("@acme/other", "1.0.1", parts, aliceToken))).toMatchObject({ status: 400, code: "statement_mismatch" });
    await expectAbsent("@acme/target", "1.0.0");
  });
});

describe("integrity layer at publication", () => {
  it("refuses bytes that differ from the signed digest and stores nothing under that digest", async () => {
    const signedFor = bytesOf("what was signed");
    const parts = await signedParts(alice, "@acme/swapped", "1.0.0", bytesOf("what was sent!!"), { digestsOf: signedFor, size: 15 });
    const res = await publishParts("@acme/swapped", "1.0.0", parts, aliceToken);
    expect(await errorOf(res)).toMatchObject({ status: 400, code: "digest_mismatch", layer: "integrity" });
    await expectAbsent("@acme/swapped", "1.0.0");
    const signedSha512 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-512", signedFor)));
    expect(await env.ARTIFACTS.head(blobKey(signedSha512))).toBeNull();
  });

  it("refuses an artifact whose size differs from the signed size", async () => {
    const parts = await signedParts(alice, "@acme/sized", "1.0.0", bytesOf("12345"), { size: 4 });
    expect(await errorOf(await publishParts("@acme/sized", "1.0.0", parts, aliceToken))).toMatchObject({ status: 400, code: "digest_mismatch", layer: "integrity" });
  });
});

describe("bad input gets a precise error and changes nothing", () => {
  const cases: [string, () => Promise<Uint8Array>, string][] = [
    ["an empty body", async () => new Uint8Array(0), "malformed_upload"],
    ["bytes that are not a tar archive", async () => utf8("this is not a tar archive at all, it is just text ".repeat(20)), "malformed_upload"],
    ["a truncated archive (inside the artifact)", async () => (await uploadBody(await signedParts(alice, "@acme/bad", "1.0.0", new Uint8Array(3000)))).slice(0, 2600), "malformed_upload"],
    ["a truncated archive (inside the statement)", async () => (await uploadBody(await signedParts(alice, "@acme/bad", "1.0.0", bytesOf("x")))).slice(0, 700), "malformed_upload"],
    ["members in the wrong order", async () => { const p = await signedParts(alice, "@acme/bad", "1.0.0", bytesOf("x")); return uploadBody(p, [{ name: "artifact", data: p.bytes }, { name: "publisher.dsse.json", data: utf8(JSON.stringify(p.envelope)) }]); }, "malformed_upload"],
    ["an extra member", async () => { const p = await signedParts(alice, "@acme/bad", "1.0.0", bytesOf("x")); return uploadBody(p, [{ name: "publisher.dsse.json", data: utf8(JSON.stringify(p.envelope)) }, { name: "artifact", data: p.bytes }, { name: "extra", data: bytesOf("?") }]); }, "malformed_upload"],
    ["a symlink instead of the artifact", async () => { const p = await signedParts(alice, "@acme/bad", "1.0.0", bytesOf("x")); return uploadBody(p, [{ name: "publisher.dsse.json", data: utf8(JSON.stringify(p.envelope)) }, { name: "artifact", data: new Uint8Array(0), type: "symlink" }]); }, "malformed_upload"],
    ["an envelope that is not JSON", async () => uploadBody({ envelope: {} as never, bytes: bytesOf("x") }, [{ name: "publisher.dsse.json", data: bytesOf("{not json") }, { name: "artifact", data: bytesOf("x") }]), "malformed_statement"],
    ["an envelope missing its signatures", async () => { const p = await signedParts(alice, "@acme/bad", "1.0.0", bytesOf("x")); return uploadBody(p, [{ name: "publisher.dsse.json", data: utf8(JSON.stringify({ payloadType: p.envelope.payloadType, payload: p.envelope.payload })) }, { name: "artifact", data: p.bytes }]); }, "malformed_statement"],
    ["an envelope with two signatures", async () => { const p = await signedParts(alice, "@acme/bad", "1.0.0", bytesOf("x")); p.envelope.signatures.push(p.envelope.signatures[0]!); return uploadBody(p); }, "malformed_statement"],
    ["a statement with a missing field", async () => { const p = await signedParts(alice, "@acme/bad", "1.0.0", bytesOf("x")); const s = JSON.parse(atob(p.envelope.payload)); delete s.predicate.createdAt; p.envelope.payload = btoa(JSON.stringify(s)); return uploadBody(p); }, "malformed_statement"],
    ["a statement with an unknown field", async () => { const p = await signedParts(alice, "@acme/bad", "1.0.0", bytesOf("x")); const s = JSON.parse(atob(p.envelope.payload)); s.predicate.attributes.ai = "yes"; p.envelope.payload = btoa(JSON.stringify(s)); return uploadBody(p); }, "malformed_statement"],
  ];

  it.each(cases)("%s → 400", async (_label, body, code) => {
    const res = await putUpload("@acme/bad", "1.0.0", await body(), aliceToken);
    const error = await errorOf(res);
    expect(error).toMatchObject({ status: 400, code });
    expect(error.message.length).toBeGreaterThan(10);
    await expectAbsent("@acme/bad", "1.0.0");
  });

  const badNames = [
    ["upper case", "@acme/Utils"],
    ["a Cyrillic look-alike", "@acme/utils\u0430"],
    ["a path segment", "@acme%2fa%2fb"],
    ["a dot-dot component", "@acme%2f.."],
    ["a control character", "@acme/a%0ab"],
    ["a leading dot", ".hidden"],
    ["a leading dash", "-dash"],
    ["more than 214 characters", `@acme/${"a".repeat(210)}`],
    ["a space", "@acme/a%20b"],
  ];
  it.each(badNames)("a name with %s → 400 invalid_name", async (_label, name) => {
    const res = await call("PUT", `/-/countersign/v1/packages/${name}/1.0.0`, { body: new Uint8Array(10), token: aliceToken });
    expect(await errorOf(res)).toMatchObject({ status: 400, code: "invalid_name" });
  });

  it("a dot-dot segment never reaches a route: URL normalisation removes it → 404", async () => {
    const res = await call("PUT", "/-/countersign/v1/packages/%2e%2e/1.0.0", { body: new Uint8Array(10), token: aliceToken });
    expect(await errorOf(res)).toMatchObject({ status: 404, code: "not_found" });
  });

  it.each(["1.0", "v1.0.0", "1.0.0+build.1", "01.0.0", "1.0.0-", "latest"])("version %s → 400 invalid_version", async (version) => {
    const res = await putUpload("@acme/ver", version, new Uint8Array(10), aliceToken);
    expect(await errorOf(res)).toMatchObject({ status: 400, code: "invalid_version" });
  });

  it("an artifact over the size limit → 413 naming the limit, before and after the statement", async () => {
    const big = new Uint8Array(1048577);
    const parts = await signedParts(alice, "@acme/big", "1.0.0", big);
    const error = await errorOf(await publishParts("@acme/big", "1.0.0", parts, aliceToken));
    expect(error).toMatchObject({ status: 413, code: "too_large" });
    expect(error.message).toContain("1048576 bytes");
    const res = await call("PUT", packagePath("@acme/big", "1.0.0"), { body: new Uint8Array(3 * 1048576), token: aliceToken });
    expect(await errorOf(res)).toMatchObject({ status: 413, code: "too_large" });
    await expectAbsent("@acme/big", "1.0.0");
  });

  it("tokens: missing 401, unknown 401, read-only 403, other namespace 403, revoked 401", async () => {
    const body = await uploadBody(await signedParts(alice, "@acme/tok", "1.0.0", bytesOf("x")));
    expect(await errorOf(await putUpload("@acme/tok", "1.0.0", body, null))).toMatchObject({ status: 401, code: "unauthorized" });
    expect(await errorOf(await putUpload("@acme/tok", "1.0.0", body, "cs_not_a_real_token"))).toMatchObject({ status: 401 });
    const read = (await (await admin("POST", "/tokens", { scope: "read" })).json()) as { id: string; token: string };
    expect(await errorOf(await putUpload("@acme/tok", "1.0.0", body, read.token))).toMatchObject({ status: 403, code: "forbidden" });
    const other = (await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@other"] })).json()) as { id: string; token: string };
    expect(await errorOf(await putUpload("@acme/tok", "1.0.0", body, other.token))).toMatchObject({ status: 403, code: "forbidden" });
    const revoked = (await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@acme"] })).json()) as { id: string; token: string };
    await admin("DELETE", `/tokens/${revoked.id}`);
    expect(await errorOf(await putUpload("@acme/tok", "1.0.0", body, revoked.token))).toMatchObject({ status: 401 });
    await expectAbsent("@acme/tok", "1.0.0");
  });

  it("a namespace this registry does not serve → 404 unknown_namespace", async () => {
    const token = (await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@nowhere"] })).json()) as { token: string };
    const res = await publishParts("@nowhere/pkg", "1.0.0", await signedParts(alice, "@nowhere/pkg", "1.0.0", bytesOf("x")), token.token);
    expect(await errorOf(res)).toMatchObject({ status: 404, code: "unknown_namespace" });
  });
});

describe("concurrency and faults", () => {
  it("20 concurrent publishes of one name@version: exactly one wins, the rest get 409, the bytes are the winner's", async () => {
    const attempts = await Promise.all(
      Array.from({ length: 20 }, async (_, i) => {
        const bytes = bytesOf(`contender ${i}`);
        const res = await publishParts("@acme/race", "1.0.0", await signedParts(alice, "@acme/race", "1.0.0", bytes), aliceToken);
        return { status: res.status, bytes, body: (await res.json()) as { integrity?: string } };
      }),
    );
    const winners = attempts.filter((a) => a.status === 201);
    expect(winners).toHaveLength(1);
    expect(attempts.filter((a) => a.status === 409)).toHaveLength(19);
    const served = await call("GET", `${packagePath("@acme/race", "1.0.0")}/artifact`);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(winners[0]!.bytes);
  });

  async function faultyPublish(factories: Parameters<typeof createApp>[0], name: string, bytes: Uint8Array) {
    const app = createApp(factories);
    const body = await uploadBody(await signedParts(alice, name, "1.0.0", bytes));
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`${ORIGIN}${packagePath(name, "1.0.0")}`, { method: "PUT", body, headers: { authorization: `Bearer ${aliceToken}` } }), env, ctx);
    await waitOnExecutionContext(ctx);
    return record(res);
  }

  it("an R2 write failure leaves no version, and a retry succeeds", async () => {
    const failingBlobs = () => ({ ...r2BlobStore(env.ARTIFACTS), put: async () => Promise.reject(new Error("injected R2 failure")) });
    const res = await faultyPublish({ blobs: failingBlobs }, "@acme/r2fault", bytesOf("r2"));
    expect(await errorOf(res)).toMatchObject({ status: 503, code: "storage_unavailable" });
    await expectAbsent("@acme/r2fault", "1.0.0");
    const retry = await publishParts("@acme/r2fault", "1.0.0", await signedParts(alice, "@acme/r2fault", "1.0.0", bytesOf("r2")), aliceToken);
    expect(retry.status).toBe(201);
  });

  it("a D1 commit failure leaves no version and no detail in the response, and a retry succeeds", async () => {
    const failingMeta = () => ({ ...d1MetaStore(env.DB), commitVersion: async () => Promise.reject(new Error("injected D1 failure: SQLITE_BUSY at /secret/path")) });
    const res = await faultyPublish({ meta: failingMeta }, "@acme/d1fault", bytesOf("d1"));
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: "internal_error", message: "internal error" } });
    await expectAbsent("@acme/d1fault", "1.0.0");
    const retry = await publishParts("@acme/d1fault", "1.0.0", await signedParts(alice, "@acme/d1fault", "1.0.0", bytesOf("d1")), aliceToken);
    expect(retry.status).toBe(201);
  });
});

afterAll(async () => {
  // The signing key and admin token never appear in a body or header (checked over every response above).
  const secrets = [SIGNING_KEY, toHex(fromBase64(SIGNING_KEY)!), ADMIN_TOKEN];
  expect(seen.length).toBeGreaterThan(50);
  for (const response of seen) for (const secret of secrets) expect(`${response.headers}${response.body}`).not.toContain(secret);
});
