/**
 * npm's conventions on every route npm calls (docs/PROTOCOL.md §11, "The npm front door"): errors
 * as strings npm prints, a one-line reason for the features countersign does not have, `npm
 * whoami`, `npm token list / create / revoke`, and the packument's `readme`, `maintainers`,
 * `_npmUser` and `time`.
 */

import { beforeAll, describe, expect, it } from "vitest";
import { MAX_README_BYTES } from "../../src/core/index.js";
import { UNSUPPORTED_MESSAGES } from "../../src/worker/npm/unsupported.js";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { admin, call, ORIGIN, seen } from "./helpers.js";

let publisher: Publisher;
let publishToken: string;
let publishTokenId: string;
let readToken: string;

const json = { "content-type": "application/json" };
const npmError = async (res: Response) => ({ status: res.status, ...((await res.json()) as { error: string; code: string }) });

async function publish(name: string, version: string, files: Record<string, string>, manifest: Record<string, unknown> = {}, token = publishToken) {
  const bytes = await npmTarball({ name, version, description: `${name} ${version}`, ...manifest }, files);
  const res = await call("PUT", `/-/countersign/v1/packages/${encodeURIComponent(name)}/${version}`, { body: await uploadBody(await signedParts(publisher, name, version, bytes)), token });
  expect(res.status, await res.clone().text()).toBe(201);
}

beforeAll(async () => {
  publisher = await newPublisher();
  await admin("POST", "/namespaces", { namespace: "@conv" });
  expect((await admin("POST", "/namespaces/@conv/keys", { publicKey: publisher.publicKey, label: "release-laptop" })).status).toBe(201);
  const created = (await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@conv"], label: "ci-release" })).json()) as { id: string; token: string };
  publishToken = created.token;
  publishTokenId = created.id;
  readToken = ((await (await admin("POST", "/tokens", { scope: "read" })).json()) as { token: string }).token;
  await publish("@conv/pkg", "1.0.0", { "index.js": "1;\n", "README.md": "# pkg 1.0.0\n" }, { homepage: "https://conv.example/pkg", repository: { type: "git", url: "git+https://github.com/conv/pkg.git" } });
  await publish("@conv/pkg", "1.1.0", { "index.js": "1;\n", "README.md": "# pkg 1.1.0\n\nThe latest.\n", "readme.txt": "not this one" }, { homepage: "https://conv.example/pkg", repository: { type: "git", url: "git+https://github.com/conv/pkg.git" } });
});

describe("errors on npm-style routes are strings npm prints", () => {
  it.each([
    ["GET", "/no/such/route"],
    ["GET", "/-/all"],
    ["POST", "/-/npm/v1/security/audits/quick"],
    ["GET", "/@conv%2fnothing"],
    ["GET", "/@conv/pkg/9.9.9"],
    ["DELETE", "/@conv%2fpkg"],
    ["PUT", "/-/package/@conv%2fpkg/dist-tags/beta"],
  ])("%s %s", async (method, path) => {
    const res = await call(method, path);
    expect(res.status).toBeGreaterThanOrEqual(400);
    const body = (await res.json()) as { error: unknown; code: unknown };
    expect(typeof body.error).toBe("string");
    expect(typeof body.code).toBe("string");
  });

  it("keeps countersign's own shape on the native API", async () => {
    for (const path of ["/-/countersign/v1/packages/@conv%2fnothing", "/-/countersign/v1/nothing", "/-/countersign/v1/admin/tokens"]) {
      const body = (await (await call("GET", path)).json()) as { error: { code: string; message: string } };
      expect(body.error).toEqual(expect.objectContaining({ code: expect.any(String), message: expect.any(String) }));
    }
  });
});

describe("features countersign does not have: 405 with one readable line", () => {
  // The URLs npm 11 asks (npm's lib/commands, libnpmaccess, libnpmteam, libnpmorg, libnpmhook, npm-profile).
  it.each([
    ["stars", "GET", '/-/_view/starredByUser?key="ci-release"'],
    ["accounts", "GET", "/-/user/org.couchdb.user:alice"],
    ["accounts", "PUT", "/-/user/org.couchdb.user:alice"],
    ["accounts", "POST", "/-/v1/login"],
    ["profile", "GET", "/-/npm/v1/user"],
    ["profile", "POST", "/-/npm/v1/user"],
    ["teams", "GET", "/-/org/conv/team"],
    ["teams", "PUT", "/-/org/conv/team"],
    ["teams", "DELETE", "/-/team/conv/devs"],
    ["teams", "GET", "/-/team/conv/devs/user"],
    ["teams", "PUT", "/-/team/conv/devs/user"],
    ["access", "GET", "/-/org/conv/package"],
    ["access", "GET", "/-/user/conv/package"],
    ["access", "GET", "/-/team/conv/devs/package"],
    ["access", "PUT", "/-/team/conv/devs/package"],
    ["access", "GET", "/-/package/@conv%2fpkg/collaborators"],
    ["access", "GET", "/-/package/@conv%2fpkg/visibility"],
    ["access", "POST", "/-/package/@conv%2fpkg/access"],
    ["access", "GET", "/-/package/left-pad/collaborators"],
    ["orgs", "GET", "/-/org/conv/user"],
    ["orgs", "PUT", "/-/org/conv/user"],
    ["hooks", "GET", "/-/npm/v1/hooks"],
    ["hooks", "POST", "/-/npm/v1/hooks/hook"],
    ["trust", "GET", "/-/package/@conv%2fpkg/trust"],
    ["stage", "GET", "/-/stage"],
  ] as const)("%s: %s %s", async (what, method, path) => {
    for (const token of [null, readToken, publishToken]) {
      const res = await call(method, path, { token, ...(method === "GET" ? {} : { body: "{}", headers: json }) });
      expect(await npmError(res)).toEqual({ status: 405, code: "unsupported", error: UNSUPPORTED_MESSAGES[what] });
    }
  });

  it("every reason is one line that names countersign", () => {
    for (const message of Object.values(UNSUPPORTED_MESSAGES)) {
      expect(message).toMatch(/^countersign registries /);
      expect(message).not.toContain("\n");
    }
  });

  it("refuses npm star / unstar (a packument PUT with users), whoever asks, and changes nothing", async () => {
    const before = await (await call("GET", "/@conv%2fpkg")).text();
    const body = JSON.stringify({ _id: "@conv/pkg", _rev: "2-2", users: { "ci-release": true } });
    for (const command of ["star", "unstar"]) {
      expect(await npmError(await call("PUT", "/@conv%2fpkg", { body, headers: { ...json, "npm-command": command } }))).toMatchObject({ status: 405, code: "unsupported", error: UNSUPPORTED_MESSAGES.stars });
    }
    // Without npm's command header: recognised by its body, once the token may write.
    expect(await npmError(await call("PUT", "/@conv%2fpkg", { body, token: publishToken, headers: json }))).toMatchObject({ status: 405, error: UNSUPPORTED_MESSAGES.stars });
    expect(await npmError(await call("PUT", "/@conv%2fpkg/-rev/2-2", { body: JSON.stringify({ _id: "@conv/pkg", maintainers: [] }), token: publishToken, headers: { ...json, "npm-command": "owner" } }))).toMatchObject({ status: 405, error: UNSUPPORTED_MESSAGES.owners });
    expect(await (await call("GET", "/@conv%2fpkg")).text()).toBe(before);
  });
});

describe("npm whoami", () => {
  it("prints the token's label, or for an unlabelled token what it is", async () => {
    expect(await (await call("GET", "/-/whoami", { token: publishToken })).json()).toEqual({ username: "ci-release" });
    const unlabelled = (await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@conv"] })).json()) as { id: string; token: string };
    expect(await (await call("GET", "/-/whoami", { token: unlabelled.token })).json()).toEqual({ username: `publish token for @conv (${unlabelled.id})` });
    expect(await (await call("GET", "/-/whoami", { token: readToken })).json()).toEqual({ username: expect.stringMatching(/^read token \(tok_/) });
    expect(await npmError(await call("GET", "/-/whoami"))).toMatchObject({ status: 401, code: "unauthorized", error: expect.any(String) });
  });
});

describe("npm token list / create / revoke (/-/npm/v1/tokens)", () => {
  const create = (body: Record<string, unknown>, token: string | null = publishToken) => call("POST", "/-/npm/v1/tokens", { body, token });
  const list = async (token: string) => (await (await call("GET", "/-/npm/v1/tokens", { token })).json()) as { objects: Record<string, any>[]; total: number; urls: Record<string, unknown> };

  it("lists the token itself, in npm's shape, never the token", async () => {
    const res = await call("GET", "/-/npm/v1/tokens", { token: publishToken });
    expect(res.headers.get("cache-control")).toBe("no-store");
    const text = await res.clone().text();
    expect(text).not.toContain(publishToken);
    const listed = (await res.json()) as Awaited<ReturnType<typeof list>>;
    expect(listed.urls).toEqual({});
    expect(listed.objects).toEqual([
      { token: publishToken.slice(0, 7), key: publishTokenId, name: "ci-release", readonly: false, cidr_whitelist: null, created: expect.any(String), updated: expect.any(String), scope: "publish", namespaces: ["@conv"], createdBy: null },
    ]);
    expect(await npmError(await call("GET", "/-/npm/v1/tokens"))).toMatchObject({ status: 401 });
  });

  it("creates a read-only token (npm 11's body, and older npm's), shown once; it reads, lists, and cannot publish", async () => {
    const res = await create({ name: "laptop", password: "ignored", packages: [] });
    expect(res.status).toBe(201);
    expect(res.headers.get("cache-control")).toBe("no-store");
    const made = (await res.json()) as Record<string, any>;
    expect(made).toMatchObject({ key: expect.stringMatching(/^tok_/), name: "laptop", readonly: true, cidr_whitelist: null, scope: "read", namespaces: [], createdBy: publishTokenId });
    expect(made.token).toMatch(/^cs_[A-Za-z0-9_-]{43}$/);
    expect(await (await call("GET", "/-/whoami", { token: made.token })).json()).toEqual({ username: "laptop" });
    expect((await call("GET", "/@conv%2fpkg", { token: made.token })).status).toBe(200);
    expect((await call("PUT", "/-/package/@conv%2fpkg/dist-tags/beta", { body: '"1.0.0"', token: made.token, headers: json })).status).toBe(403);
    const old = (await (await create({ password: "x", readonly: true, cidr_whitelist: [] })).json()) as { key: string; name: string };
    expect(old.name).toBe("read-only, made by ci-release");
    // The parent lists itself and what it made; each made token lists only itself.
    const listed = await list(publishToken);
    expect(listed.objects.map((t) => t.key)).toEqual([publishTokenId, made.key, old.key]);
    expect(listed.total).toBe(3);
    expect(JSON.stringify(listed)).not.toContain(made.token);
    expect((await list(made.token)).objects.map((t) => t.key)).toEqual([made.key]);
  });

  it("refuses what a countersign token cannot carry, and publish tokens", async () => {
    const refused = async (body: Record<string, unknown>, token: string = publishToken) => npmError(await create({ password: "x", ...body }, token));
    expect(await refused({ cidr_whitelist: ["10.0.0.0/8"] })).toMatchObject({ status: 400, code: "unsupported", error: expect.stringContaining("cannot be limited to IP ranges (CIDR)") });
    expect(await refused({ expires: 30 })).toMatchObject({ status: 400, code: "unsupported", error: expect.stringContaining("do not expire") });
    expect(await refused({ scopes: ["@conv"] })).toMatchObject({ status: 400, code: "unsupported", error: expect.stringContaining("--scopes") });
    expect(await refused({ packages: ["@conv/pkg"] })).toMatchObject({ status: 400, error: expect.stringContaining("--packages") });
    expect(await refused({ packages_and_scopes_permission: "read-write" })).toMatchObject({ status: 403, code: "forbidden", error: expect.stringContaining("publish tokens are issued by the registry's operators") });
    expect(await refused({ readonly: false })).toMatchObject({ status: 403, code: "forbidden" });
    expect(await refused({ packages_and_scopes_permission: "read-write" }, readToken)).toMatchObject({ status: 403 });
    expect(await refused({ packages_and_scopes_permission: "no-access" })).toMatchObject({ status: 400, code: "invalid_body" });
    expect(await refused({ name: "x".repeat(201) })).toMatchObject({ status: 400 });
    expect((await create({ password: "x" }, null)).status).toBe(401);
    expect((await call("POST", "/-/npm/v1/tokens", { body: "{", token: publishToken, headers: json })).status).toBe(400);
  });

  it("a read token makes read tokens; a made token makes none", async () => {
    const child = (await (await create({ name: "from-read" }, readToken)).json()) as { token: string; readonly: boolean };
    expect(child.readonly).toBe(true);
    expect(await npmError(await create({ name: "grandchild" }, child.token))).toMatchObject({ status: 403, error: expect.stringContaining("cannot make tokens") });
  });

  it("revokes by key or by the token itself; only its own tokens; the ones it made go with it", async () => {
    const parent = (await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@conv"], label: "parent" })).json()) as { id: string; token: string };
    const a = (await (await create({ name: "a" }, parent.token)).json()) as { key: string; token: string };
    const b = (await (await create({ name: "b" }, parent.token)).json()) as { key: string; token: string };
    const c = (await (await create({ name: "c" }, parent.token)).json()) as { key: string; token: string };
    // Another token's: not found for this one (and not revoked).
    expect(await npmError(await call("DELETE", `/-/npm/v1/tokens/token/${a.key}`, { token: publishToken }))).toMatchObject({ status: 404, code: "unknown_token" });
    expect(await npmError(await call("DELETE", `/-/npm/v1/tokens/token/${publishTokenId}`, { token: a.token }))).toMatchObject({ status: 404 });
    expect((await call("GET", "/-/whoami", { token: a.token })).status).toBe(200);
    // By key (what npm token revoke sends), then by the token value (npm sends it when given one).
    expect((await call("DELETE", `/-/npm/v1/tokens/token/${a.key}`, { token: parent.token })).status).toBe(200);
    expect((await call("GET", "/-/whoami", { token: a.token })).status).toBe(401);
    const byValue = await call("DELETE", `/-/npm/v1/tokens/token/${b.token}`, { token: parent.token });
    expect(byValue.status).toBe(200);
    expect(await byValue.text()).not.toContain(b.token);
    expect((await call("GET", "/-/whoami", { token: b.token })).status).toBe(401);
    const unknownValue = await call("DELETE", `/-/npm/v1/tokens/token/cs_${"x".repeat(43)}`, { token: parent.token });
    expect(await npmError(unknownValue)).toMatchObject({ status: 404, error: expect.not.stringContaining("cs_x") });
    // Revoking the parent (here through the admin API) revokes what it made, in the same statement.
    expect((await admin("DELETE", `/tokens/${parent.id}`)).status).toBe(200);
    expect((await call("GET", "/-/whoami", { token: c.token })).status).toBe(401);
    const all = (await (await admin("GET", "/tokens")).json()) as { tokens: { id: string; revokedAt: string | null; createdBy: string | null }[] };
    expect(all.tokens.find((t) => t.id === c.key)).toMatchObject({ createdBy: parent.id, revokedAt: expect.any(String) });
    // And a token may revoke itself.
    const self = (await (await create({ name: "self" })).json()) as { key: string; token: string };
    expect((await call("DELETE", `/-/npm/v1/tokens/token/${self.key}`, { token: self.token })).status).toBe(200);
    expect((await call("GET", "/-/npm/v1/tokens", { token: self.token })).status).toBe(401);
  });

  it("a token makes at most 100 live tokens", async () => {
    const parent = (await (await admin("POST", "/tokens", { scope: "read", label: "many" })).json()) as { token: string };
    for (let i = 0; i < 100; i++) expect((await create({ name: `n${i}` }, parent.token)).status).toBe(201);
    expect(await npmError(await create({ name: "one too many" }, parent.token))).toMatchObject({ status: 409, code: "too_many_tokens" });
  });
});

describe("packuments: readme, maintainers, _npmUser, time", () => {
  it("the full document carries the latest version's README, the namespace's publishers and each version's publisher", async () => {
    const doc = (await (await call("GET", "/@conv%2fpkg")).json()) as Record<string, any>;
    expect(doc.readme).toBe("# pkg 1.1.0\n\nThe latest.\n");
    const person = { name: "release-laptop", email: publisher.key.keyid };
    expect(doc.maintainers).toEqual([person]);
    expect(doc.versions["1.0.0"]._npmUser).toEqual(person);
    expect(doc.versions["1.1.0"]._npmUser).toEqual(person);
    expect(Object.keys(doc.time)).toEqual(["created", "modified", "1.0.0", "1.1.0"]);
    expect(doc.time.created).toBe(doc.time["1.0.0"]);
    expect(doc.time.modified).toBe(doc.time["1.1.0"]);
    expect(doc.versions["1.1.0"].readme).toBeUndefined();
    expect(((await (await call("GET", "/@conv/pkg/1.0.0")).json()) as Record<string, unknown>)._npmUser).toEqual(person);
  });

  it("the abbreviated document carries none of them", async () => {
    const doc = (await (await call("GET", "/@conv%2fpkg", { headers: { accept: "application/vnd.npm.install-v1+json" } })).json()) as Record<string, any>;
    expect(Object.keys(doc).sort()).toEqual(["dist-tags", "modified", "name", "versions"]);
    expect(doc.versions["1.1.0"]._npmUser).toBeUndefined();
    expect(JSON.stringify(doc)).not.toContain("The latest.");
  });

  it("keeps at most 64 KiB of a README, whole characters only; none when there is no README", async () => {
    const long = `# big\n${"é".repeat(MAX_README_BYTES)}`;
    await publish("@conv/big", "1.0.0", { "index.js": "1;\n", "Readme.markdown": long });
    const doc = (await (await call("GET", "/@conv%2fbig")).json()) as { readme: string };
    const bytes = new TextEncoder().encode(doc.readme).length;
    expect(bytes).toBeLessThanOrEqual(MAX_README_BYTES);
    expect(bytes).toBeGreaterThan(MAX_README_BYTES - 4);
    expect(long.startsWith(doc.readme)).toBe(true);
    await publish("@conv/bare", "1.0.0", { "index.js": "1;\n" });
    expect(((await (await call("GET", "/@conv%2fbare")).json()) as Record<string, unknown>).readme).toBeUndefined();
  });

  it("enrolling or revoking a key changes maintainers at once (the cached packument is not served)", async () => {
    const before = (await (await call("GET", "/@conv%2fpkg")).json()) as { maintainers: unknown[] };
    expect(before.maintainers).toHaveLength(1);
    const second = await newPublisher();
    expect((await admin("POST", "/namespaces/@conv/keys", { publicKey: second.publicKey })).status).toBe(201);
    const after = (await (await call("GET", "/@conv%2fpkg")).json()) as { maintainers: { name: string; email: string }[] };
    expect(after.maintainers).toEqual([before.maintainers[0], { name: second.key.keyid, email: second.key.keyid }]);
    const revoked = await admin("DELETE", `/namespaces/@conv/keys/${encodeURIComponent(second.key.keyid)}`);
    expect(revoked.status, await revoked.clone().text()).toBe(200);
    expect(((await (await call("GET", "/@conv%2fpkg")).json()) as { maintainers: unknown[] }).maintainers).toEqual(before.maintainers);
  });
});

describe("npm search", () => {
  it("links to this registry's package page and the package's own links, never npmjs.com", async () => {
    const found = (await (await call("GET", "/-/v1/search?text=conv/pkg")).json()) as { objects: { package: Record<string, any> }[] };
    const pkg = found.objects[0]!.package;
    expect(pkg.links).toEqual({ npm: `${ORIGIN}/package/@conv/pkg`, homepage: "https://conv.example/pkg", repository: "https://github.com/conv/pkg" });
    expect(pkg.publisher).toEqual({ username: "release-laptop", email: publisher.key.keyid });
    expect(pkg.maintainers).toEqual([pkg.publisher]);
    expect(JSON.stringify(found)).not.toContain("npmjs");
  });
});

it("no response carried a whole token except the one creation that shows it", () => {
  const tokens = seen.flatMap((r) => r.body.match(/cs_[A-Za-z0-9_-]{43}/g) ?? []);
  const shownAt = new Map<string, number>();
  for (const t of tokens) shownAt.set(t, (shownAt.get(t) ?? 0) + 1);
  for (const [, count] of shownAt) expect(count).toBe(1);
});
