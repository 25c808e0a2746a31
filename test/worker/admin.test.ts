import { afterAll, describe, expect, it } from "vitest";
import { fromBase64, generateKeyPair, toBase64, toHex } from "../../src/core/index.js";
import { ADMIN_TOKEN, admin, call, errorOf, seen, SIGNING_KEY } from "./helpers.js";

const ADMIN = "/-/countersign/v1/admin";

describe("admin authentication", () => {
  it.each([
    ["no token", undefined],
    ["a wrong token", "cs_admin_wrong"],
    ["a token differing in the last character", `${ADMIN_TOKEN.slice(0, -1)}X`],
  ])("%s → 401 without echoing anything secret", async (_label, token) => {
    const res = await call("GET", `${ADMIN}/namespaces`, { token: token ?? null });
    expect(res.headers.get("www-authenticate")).toMatch(/^Bearer/);
    const error = await errorOf(res);
    expect(error).toMatchObject({ status: 401, code: "unauthorized" });
    if (token) expect(error.message).not.toContain(token);
  });

  it("a publish token is not an admin token", async () => {
    await admin("POST", "/namespaces", { namespace: "@tok" });
    const created = (await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@tok"] })).json()) as { token: string };
    expect((await call("GET", `${ADMIN}/namespaces`, { token: created.token })).status).toBe(401);
  });
});

describe("namespaces", () => {
  it("creates scopes and unscoped names, refuses duplicates (409) and malformed ones (400)", async () => {
    expect((await admin("POST", "/namespaces", { namespace: "@team" })).status).toBe(201);
    expect((await admin("POST", "/namespaces", { namespace: "team-tool" })).status).toBe(201);
    expect(await errorOf(await admin("POST", "/namespaces", { namespace: "@team" }))).toMatchObject({ status: 409, code: "namespace_exists" });
    for (const namespace of ["@Team", "@", "@a/b", "", "@a b", "-x"]) {
      expect(await errorOf(await admin("POST", "/namespaces", { namespace }))).toMatchObject({ status: 400, code: "invalid_namespace" });
    }
    const list = (await (await admin("GET", "/namespaces")).json()) as { namespaces: { namespace: string; activeKeys: number }[] };
    expect(list.namespaces.map((n) => n.namespace)).toEqual(expect.arrayContaining(["@team", "team-tool"]));
  });

  it("rejects bodies that are not the documented JSON", async () => {
    expect(await errorOf(await call("POST", `${ADMIN}/namespaces`, { token: ADMIN_TOKEN, body: "{", headers: { "content-type": "application/json" } }))).toMatchObject({ status: 400, code: "malformed_json" });
    expect(await errorOf(await call("POST", `${ADMIN}/namespaces`, { token: ADMIN_TOKEN, body: "namespace=@x", headers: { "content-type": "text/plain" } }))).toMatchObject({ status: 415 });
    expect(await errorOf(await admin("POST", "/namespaces", { namespace: "@x", extra: true }))).toMatchObject({ status: 400, code: "invalid_body" });
    expect(await errorOf(await admin("POST", "/namespaces", {}))).toMatchObject({ status: 400, code: "invalid_body" });
    expect(await errorOf(await admin("POST", "/namespaces", { namespace: 5 }))).toMatchObject({ status: 400, code: "invalid_body" });
  });
});

describe("publisher keys", () => {
  it("enrols, lists and revokes keys", async () => {
    await admin("POST", "/namespaces", { namespace: "@keys" });
    const key = await generateKeyPair();
    const enrolled = await admin("POST", "/namespaces/@keys/keys", { publicKey: toBase64(key.publicKey), label: "alice laptop" });
    expect(enrolled.status).toBe(201);
    expect(await enrolled.json()).toMatchObject({ namespace: "@keys", keyid: key.keyid, statement: { payloadType: "application/vnd.countersign.registry-statement.v1+json" }, log: { index: expect.any(Number) } });
    expect(await errorOf(await admin("POST", "/namespaces/@keys/keys", { publicKey: toBase64(key.publicKey) }))).toMatchObject({ status: 409, code: "key_exists" });
    const list = (await (await admin("GET", "/namespaces/@keys/keys")).json()) as { keys: { keyid: string; label: string; revokedAt: string | null }[] };
    expect(list.keys).toMatchObject([{ keyid: key.keyid, label: "alice laptop", revokedAt: null }]);
    expect((await admin("DELETE", `/namespaces/@keys/keys/${encodeURIComponent(key.keyid)}`)).status).toBe(200);
    expect(await errorOf(await admin("DELETE", `/namespaces/@keys/keys/${encodeURIComponent(key.keyid)}`))).toMatchObject({ status: 404, code: "unknown_key" });
    const after = (await (await admin("GET", "/namespaces/@keys/keys")).json()) as { keys: { revokedAt: string | null }[] };
    expect(after.keys[0]!.revokedAt).not.toBeNull();
  });

  it("refuses keys for a namespace that does not exist", async () => {
    const key = await generateKeyPair();
    expect(await errorOf(await admin("POST", "/namespaces/@ghost/keys", { publicKey: toBase64(key.publicKey) }))).toMatchObject({ status: 404, code: "unknown_namespace" });
    expect(await errorOf(await admin("GET", "/namespaces/@ghost/keys"))).toMatchObject({ status: 404, code: "unknown_namespace" });
  });

  // Weak or malformed keys are refused wherever a key is accepted.
  const identity = new Uint8Array(32);
  identity[0] = 1; // y = 1: the neutral element, small order
  const order2 = new Uint8Array(32).fill(0xff);
  order2[0] = 0xec;
  order2[31] = 0x7f; // y = -1: the point of order 2
  const nonCanonical = new Uint8Array(32).fill(0xff);
  nonCanonical[0] = 0xee;
  nonCanonical[31] = 0x7f; // y = p + 1 ≥ p: a non-canonical encoding of y = 1
  // A point with a torsion component: the base point plus the order-2 point, (x, y) → (-x, -y).
  const torsioned = fromBase64("lZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZmZk=")!;
  it.each([
    ["not base64", "not base64!"],
    ["31 bytes", toBase64(new Uint8Array(31))],
    ["the identity point (small order)", toBase64(identity)],
    ["the order-2 point (small order)", toBase64(order2)],
    ["a non-canonical encoding", toBase64(nonCanonical)],
    ["a point with a torsion component", toBase64(torsioned)],
  ])("refuses %s → 400 invalid_public_key", async (_label, publicKey) => {
    await admin("POST", "/namespaces", { namespace: "@weak" });
    expect(await errorOf(await admin("POST", "/namespaces/@weak/keys", { publicKey }))).toMatchObject({ status: 400, code: "invalid_public_key" });
  });
});

describe("tokens", () => {
  it("shows a token once, lists without secrets, revokes", async () => {
    await admin("POST", "/namespaces", { namespace: "@tokens" });
    const res = await admin("POST", "/tokens", { scope: "publish", namespaces: ["@tokens"], label: "ci" });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const created = (await res.json()) as { id: string; token: string };
    expect(created.token).toMatch(/^cs_[A-Za-z0-9_-]{43}$/);
    const listed = await (await admin("GET", "/tokens")).text();
    expect(listed).toContain(created.id);
    expect(listed).not.toContain(created.token);
    expect((await admin("DELETE", `/tokens/${created.id}`)).status).toBe(200);
    expect(await errorOf(await admin("DELETE", `/tokens/${created.id}`))).toMatchObject({ status: 404, code: "unknown_token" });
  });

  it("refuses publish tokens without namespaces and read tokens with them", async () => {
    expect(await errorOf(await admin("POST", "/tokens", { scope: "publish" }))).toMatchObject({ status: 400, code: "invalid_token_request" });
    expect(await errorOf(await admin("POST", "/tokens", { scope: "read", namespaces: ["@x"] }))).toMatchObject({ status: 400, code: "invalid_token_request" });
    expect(await errorOf(await admin("POST", "/tokens", { scope: "write" }))).toMatchObject({ status: 400, code: "invalid_body" });
  });
});

afterAll(() => {
  const secrets = [SIGNING_KEY, toHex(fromBase64(SIGNING_KEY)!), ADMIN_TOKEN];
  for (const response of seen) for (const secret of secrets) expect(`${response.headers}${response.body}`).not.toContain(secret);
});
