import { beforeAll, describe, expect, it } from "vitest";
import { fromBase64, keyPairFromSeed, signReview, sriFromHex, toBase64, toHex, verifyBundle, type Bundle, type Signer } from "../../src/core/index.js";
import { fileDigests, newPublisher, signedParts, type Publisher } from "../helpers/publisher.js";
import { gzipTar, npmTarball } from "../helpers/tarball.js";
import { admin, call, enrol, errorOf, ORIGIN, publishParts, SIGNING_KEY } from "./helpers.js";

let registryKeyid: string;
let publisher: Publisher;
let token: string;
const tarballs = new Map<string, Uint8Array>();

async function publishNpm(name: string, version: string, manifest: Record<string, unknown> = {}, tag?: string) {
  const bytes = await npmTarball({ name, version, description: `${name} ${version}`, main: "index.js", dependencies: { "left-pad": "^1.0.0" }, scripts: { postinstall: "node x.js", test: "t" }, ...manifest });
  tarballs.set(`${name}@${version}`, bytes);
  const res = await call("PUT", `/-/countersign/v1/packages/${encodeURIComponent(name)}/${version}${tag ? `?tag=${tag}` : ""}`, {
    body: await (await import("../helpers/publisher.js")).uploadBody(await signedParts(publisher, name, version, bytes)),
    token,
  });
  return res;
}

const sha512Of = async (bytes: Uint8Array) => toHex(new Uint8Array(await crypto.subtle.digest("SHA-512", bytes)));
const npmError = async (res: Response) => ({ status: res.status, ...((await res.json()) as { error: string; code: string }) });

beforeAll(async () => {
  registryKeyid = (await keyPairFromSeed(fromBase64(SIGNING_KEY)!)).keyid;
  publisher = await newPublisher();
  token = await enrol("@npm", publisher);
  for (const version of ["1.0.0", "1.1.0"]) expect((await publishNpm("@npm/pkg", version)).status).toBe(201);
  expect((await publishNpm("@npm/pkg", "2.0.0-rc.1", {}, "next")).status).toBe(201);
});

describe("GET /:name (packument)", () => {
  it("serves the same full packument for @scope%2fname, @scope%2Fname and @scope/name", async () => {
    const bodies = await Promise.all(["/@npm%2fpkg", "/@npm%2Fpkg", "/@npm/pkg"].map(async (path) => (await call("GET", path)).text()));
    expect(new Set(bodies).size).toBe(1);
    const doc = JSON.parse(bodies[0]!) as Record<string, any>;
    expect(doc).toMatchObject({ _id: "@npm/pkg", name: "@npm/pkg", description: "@npm/pkg 1.1.0", "dist-tags": { latest: "1.1.0", next: "2.0.0-rc.1" } });
    expect(Object.keys(doc.versions)).toEqual(["1.0.0", "1.1.0", "2.0.0-rc.1"]);
    expect(Object.keys(doc.time)).toEqual(["created", "modified", "1.0.0", "1.1.0", "2.0.0-rc.1"]);
    const v = doc.versions["1.0.0"];
    expect(v).toMatchObject({ _id: "@npm/pkg@1.0.0", name: "@npm/pkg", version: "1.0.0", main: "index.js", scripts: { postinstall: "node x.js" } });
    const bytes = tarballs.get("@npm/pkg@1.0.0")!;
    expect(v.dist).toMatchObject({
      tarball: `${ORIGIN}/@npm/pkg/-/pkg-1.0.0.tgz`,
      integrity: sriFromHex("sha512", await sha512Of(bytes)),
      shasum: toHex(new Uint8Array(await crypto.subtle.digest("SHA-1", bytes))),
    });
    // npm's registry signature (ECDSA P-256, NPM_SIGNING_KEY); test/worker/npm-signatures.test.ts checks its bytes.
    expect(v.dist.signatures).toEqual([{ keyid: expect.stringMatching(/^SHA256:/), sig: expect.any(String) }]);
    const verified = await verifyBundle({ name: "@npm/pkg", version: "1.0.0", artifact: { sha512: await sha512Of(bytes) }, bundle: v.dist.countersign, pinned: [registryKeyid] });
    expect(verified.ok).toBe(true);
  });

  it("serves the abbreviated document to installers, with a link to our provenance in dist", async () => {
    const res = await call("GET", "/@npm%2fpkg", { headers: { accept: "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*" } });
    expect(res.headers.get("content-type")).toMatch(/^application\/vnd\.npm\.install-v1\+json/);
    expect(res.headers.get("vary")).toContain("Accept");
    const doc = (await res.json()) as Record<string, any>;
    expect(Object.keys(doc).sort()).toEqual(["dist-tags", "modified", "name", "versions"]);
    const v = doc.versions["1.1.0"];
    expect(v).toMatchObject({ name: "@npm/pkg", version: "1.1.0", dependencies: { "left-pad": "^1.0.0" }, hasInstallScript: true });
    expect(v.scripts).toBeUndefined();
    expect(v.dist.countersign).toEqual({ url: `${ORIGIN}/-/countersign/v1/packages/@npm/pkg/1.1.0`, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const bundle = (await (await call("GET", "/-/countersign/v1/packages/@npm/pkg/1.1.0")).json()) as Bundle;
    expect(bundle.mediaType).toBe("application/vnd.countersign.bundle.v1+json");
  });

  it("answers If-None-Match with 304", async () => {
    const first = await call("GET", "/@npm%2fpkg");
    const etag = first.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]{40}"$/);
    expect((await call("GET", "/@npm%2fpkg", { headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await call("GET", "/@npm%2fpkg", { headers: { "if-none-match": etag, accept: "application/vnd.npm.install-v1+json" } })).status).toBe(200);
  });

  it("404s names it does not hold, in npm's error shape, and never proxies", async () => {
    for (const name of ["/left-pad", "/@npm%2fmissing", "/@other/x"]) {
      expect(await npmError(await call("GET", name))).toMatchObject({ status: 404, code: "not_found", error: expect.stringContaining("not in this registry") });
    }
  });

  it("serves a version document for /:name/:version and /:name/:tag", async () => {
    expect(await (await call("GET", "/@npm%2fpkg/1.0.0")).json()).toMatchObject({ version: "1.0.0" });
    expect(await (await call("GET", "/@npm/pkg/latest")).json()).toMatchObject({ version: "1.1.0" });
    expect((await call("GET", "/@npm%2fpkg/9.9.9")).status).toBe(404);
  });

  it("keeps non-npm artifacts out of packuments", async () => {
    const res = await publishParts("@npm/blob", "1.0.0", await signedParts(publisher, "@npm/blob", "1.0.0", new Uint8Array([1, 2, 3])), token);
    expect(res.status).toBe(201);
    expect((await call("GET", "/@npm%2fblob")).status).toBe(404);
    expect((await call("GET", "/-/countersign/v1/packages/@npm%2fblob/1.0.0/artifact")).status).toBe(200);
  });
});

describe("GET /:name/-/:file (tarballs)", () => {
  it("serves the signed bytes at dist.tarball with immutable caching", async () => {
    const res = await call("GET", "/@npm/pkg/-/pkg-1.1.0.tgz");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toContain("immutable");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(tarballs.get("@npm/pkg@1.1.0"));
    expect((await call("GET", "/@npm%2fpkg/-/pkg-1.1.0.tgz")).status).toBe(200);
  });

  it.each(["/@npm/pkg/-/pkg-9.9.9.tgz", "/@npm/pkg/-/other-1.1.0.tgz", "/@npm/pkg/-/pkg-1.1.0.tar", "/@npm/pkg/-/@npm/pkg-1.1.0.tgz"])("404s %s", async (path) => {
    expect((await call("GET", path)).status).toBe(404);
  });
});

describe("publishing npm tarballs through countersign", () => {
  it("refuses a package.json that names another package or version", async () => {
    const bytes = await npmTarball({ name: "@npm/other", version: "1.0.0" });
    const res = await publishParts("@npm/claimed", "1.0.0", await signedParts(publisher, "@npm/claimed", "1.0.0", bytes), token);
    expect(await errorOf(res)).toMatchObject({ status: 400, code: "manifest_mismatch" });
  });

  it.each([
    ["an entry outside package/", [{ name: "package/package.json", data: "{}" }, { name: "other/evil.js", data: "x" }]],
    ["a .. segment", [{ name: "package/package.json", data: "{}" }, { name: "package/../evil.js", data: "x" }]],
    ["an absolute path", [{ name: "package/package.json", data: "{}" }, { name: "/etc/evil", data: "x" }]],
    ["a symlink leaving the package", [{ name: "package/package.json", data: "{}" }, { name: "package/link", type: "symlink", linkname: "../../etc/passwd" }]],
    ["a hard link to nothing earlier", [{ name: "package/package.json", data: "{}" }, { name: "package/link", type: "link", linkname: "package/later.js" }]],
    ["a duplicate entry", [{ name: "package/package.json", data: "{}" }, { name: "package/index.js", data: "a" }, { name: "package/index.js", data: "b" }]],
    ["no package.json", [{ name: "package/index.js", data: "a" }]],
    ["a package.json that is not JSON", [{ name: "package/package.json", data: "{" }]],
  ] as const)("refuses a package with %s → 400 malformed_package", async (_label, members) => {
    const bytes = await gzipTar(members.map((m) => ({ ...m })));
    const res = await publishParts("@npm/unsafe", "1.0.0", await signedParts(publisher, "@npm/unsafe", "1.0.0", bytes), token);
    expect(await errorOf(res)).toMatchObject({ status: 400, code: "malformed_package" });
    expect((await call("GET", "/-/countersign/v1/packages/@npm%2funsafe/1.0.0")).status).toBe(404);
  });

  it("accepts symlinks that stay inside the package", async () => {
    const bytes = await gzipTar([
      { name: "package/package.json", data: JSON.stringify({ name: "@npm/links", version: "1.0.0" }) },
      { name: "package/lib/a.js", data: "a" },
      { name: "package/b.js", type: "symlink", linkname: "lib/a.js" },
    ]);
    expect((await publishParts("@npm/links", "1.0.0", await signedParts(publisher, "@npm/links", "1.0.0", bytes), token)).status).toBe(201);
  });
});

describe("PUT /:name (npm publish and npm deprecate)", () => {
  async function npmPublishBody(overrides: (body: Record<string, any>) => void = () => {}) {
    const bytes = await npmTarball({ name: "@npm/plain", version: "1.0.0" });
    const integrity = sriFromHex("sha512", await sha512Of(bytes));
    const shasum = toHex(new Uint8Array(await crypto.subtle.digest("SHA-1", bytes)));
    const body: Record<string, any> = {
      _id: "@npm/plain",
      name: "@npm/plain",
      "dist-tags": { latest: "1.0.0" },
      versions: { "1.0.0": { name: "@npm/plain", version: "1.0.0", dist: { integrity, shasum, tarball: "http://x/@npm/plain/-/plain-1.0.0.tgz" } } },
      _attachments: { "@npm/plain-1.0.0.tgz": { content_type: "application/octet-stream", data: toBase64(bytes), length: bytes.length } },
    };
    overrides(body);
    return JSON.stringify(body);
  }
  const put = (body: string, auth: string | null = token) => call("PUT", "/@npm%2fplain", { body, token: auth, headers: { "content-type": "application/json", "npm-command": "publish" } });

  it("refuses a plain (unsigned) npm publish and names the command to use instead", async () => {
    const error = await npmError(await put(await npmPublishBody()));
    expect(error).toMatchObject({ status: 403, code: "publisher_signature_required", layer: "publisher" });
    expect(error.error).toContain("countersign publish <package-dir> --registry http://registry.test");
    expect(error.error).not.toContain("npx"); // npx would ask the public registry for a name this project does not control
    expect((await call("GET", "/@npm%2fplain")).status).toBe(404);
  });

  it.each([
    ["a malformed body", async () => "{not json", "malformed_json"],
    ["base64 that does not decode", () => npmPublishBody((b) => (b._attachments["@npm/plain-1.0.0.tgz"].data = "!!!not base64")), "bad_base64"],
    ["a length that disagrees", () => npmPublishBody((b) => (b._attachments["@npm/plain-1.0.0.tgz"].length += 1)), "length_mismatch"],
    ["an integrity that disagrees", () => npmPublishBody((b) => (b.versions["1.0.0"].dist.integrity = `sha512-${"A".repeat(86)}==`)), "integrity_mismatch"],
    ["a shasum that disagrees", () => npmPublishBody((b) => (b.versions["1.0.0"].dist.shasum = "0".repeat(40))), "integrity_mismatch"],
    ["a version that differs inside", () => npmPublishBody((b) => (b.versions["1.0.0"].version = "1.0.1")), "version_mismatch"],
    ["a name that differs from the URL", () => npmPublishBody((b) => (b.name = "@npm/other")), "name_mismatch"],
    ["two versions at once", () => npmPublishBody((b) => (b.versions["1.0.1"] = b.versions["1.0.0"])), "invalid_body"],
    ["an attachment with another name", () => npmPublishBody((b) => { b._attachments["@npm/plain-9.9.9.tgz"] = b._attachments["@npm/plain-1.0.0.tgz"]; delete b._attachments["@npm/plain-1.0.0.tgz"]; }), "attachment_mismatch"],
  ] as [string, () => Promise<string>, string][])("%s → 400 %s, nothing stored", async (_label, body, code) => {
    expect(await npmError(await put(await body()))).toMatchObject({ status: 400, code });
    expect((await call("GET", "/@npm%2fplain")).status).toBe(404);
  });

  it("needs a publish token for the namespace", async () => {
    expect((await put(await npmPublishBody(), null)).status).toBe(401);
    const read = (await (await admin("POST", "/tokens", { scope: "read" })).json()) as { token: string };
    expect((await put(await npmPublishBody(), read.token)).status).toBe(403);
  });

  it("deprecates and un-deprecates versions (npm deprecate's packument PUT)", async () => {
    const doc = (await (await call("GET", "/@npm%2fpkg?write=true")).json()) as Record<string, any>;
    doc.versions["1.0.0"].deprecated = "use 1.1.0";
    const res = await call("PUT", "/@npm%2fpkg", { body: JSON.stringify(doc), token, headers: { "content-type": "application/json" } });
    expect(res.status).toBe(200);
    const after = (await (await call("GET", "/@npm%2fpkg", { headers: { accept: "application/vnd.npm.install-v1+json" } })).json()) as Record<string, any>;
    expect(after.versions["1.0.0"].deprecated).toBe("use 1.1.0");
    expect(after.versions["1.1.0"].deprecated).toBeUndefined();
    doc.versions["1.0.0"].deprecated = "";
    await call("PUT", "/@npm%2fpkg", { body: JSON.stringify(doc), token, headers: { "content-type": "application/json" } });
    expect(((await (await call("GET", "/@npm%2fpkg")).json()) as Record<string, any>).versions["1.0.0"].deprecated).toBeUndefined();
  });

  it("refuses metadata PUTs that invent versions, and unpublishing", async () => {
    const doc = (await (await call("GET", "/@npm%2fpkg?write=true")).json()) as Record<string, any>;
    doc.versions["9.0.0"] = { ...doc.versions["1.0.0"], version: "9.0.0" };
    expect(await npmError(await call("PUT", "/@npm%2fpkg", { body: JSON.stringify(doc), token, headers: { "content-type": "application/json" } }))).toMatchObject({ status: 400, code: "unknown_version" });
    expect(await npmError(await call("DELETE", "/@npm%2fpkg/-rev/1-1", { token }))).toMatchObject({ status: 405, code: "immutable" });
    expect(await npmError(await call("PUT", "/@npm%2fpkg/-rev/1-1", { body: "{}", token }))).toMatchObject({ status: 405, code: "immutable" });
  });
});

describe("dist-tags, whoami, ping, search", () => {
  const tags = "/-/package/@npm%2fpkg/dist-tags";
  it("reads, sets and removes dist-tags", async () => {
    expect(await (await call("GET", tags)).json()).toEqual({ latest: "1.1.0", next: "2.0.0-rc.1" });
    expect((await call("PUT", `${tags}/beta`, { body: '"1.0.0"', token, headers: { "content-type": "application/json" } })).status).toBe(201);
    expect(await (await call("GET", "/-/package/@npm/pkg/dist-tags")).json()).toMatchObject({ beta: "1.0.0" });
    expect((await call("PUT", `${tags}/beta`, { body: '"7.7.7"', token, headers: { "content-type": "application/json" } })).status).toBe(404);
    expect((await call("PUT", `${tags}/beta`, { body: "1.0.0", token, headers: { "content-type": "application/json" } })).status).toBe(400);
    expect((await call("PUT", `${tags}/1.0.0`, { body: '"1.0.0"', token, headers: { "content-type": "application/json" } })).status).toBe(400);
    expect((await call("DELETE", `${tags}/beta`, { token })).status).toBe(200);
    expect((await call("DELETE", `${tags}/latest`, { token })).status).toBe(400);
    expect((await call("PUT", `${tags}/beta`, { body: '"1.0.0"', headers: { "content-type": "application/json" } })).status).toBe(401);
  });

  it("whoami names the token; ping answers; search finds packages", async () => {
    expect((await call("GET", "/-/whoami")).status).toBe(401);
    expect(await (await call("GET", "/-/whoami", { token })).json()).toEqual({ username: expect.stringMatching(/^publish token for @npm \(tok_/) });
    expect(await (await call("GET", "/-/ping")).json()).toEqual({});
    const found = (await (await call("GET", "/-/v1/search?text=pkg&size=5")).json()) as { total: number; objects: { package: { name: string; version: string } }[] };
    expect(found.objects.map((o) => o.package)).toContainEqual(expect.objectContaining({ name: "@npm/pkg", version: "1.1.0" }));
    expect(((await (await call("GET", "/-/v1/search?text=%25")).json()) as { total: number }).total).toBe(0); // LIKE wildcards are literal
  });
});

describe("POST /-/countersign/v1/bundles", () => {
  it("returns many bundles in one request, null for unknown versions", async () => {
    const res = await call("POST", "/-/countersign/v1/bundles", { body: { packages: ["@npm/pkg@1.0.0", "@npm/pkg@1.1.0", "@npm/pkg@3.0.0", "not a spec", "@npm/links@1.0.0"] } });
    const { bundles } = (await res.json()) as { bundles: Record<string, Bundle | null> };
    expect(Object.keys(bundles)).toHaveLength(5);
    expect(bundles["@npm/pkg@1.0.0"]?.mediaType).toBe("application/vnd.countersign.bundle.v1+json");
    expect(bundles["@npm/pkg@3.0.0"]).toBeNull();
    expect(bundles["not a spec"]).toBeNull();
  });

  it("refuses oversized requests", async () => {
    const packages = Array.from({ length: 2001 }, (_, i) => `@npm/pkg@1.0.${i}`);
    expect(await errorOf(await call("POST", "/-/countersign/v1/bundles", { body: { packages } }))).toMatchObject({ status: 400, code: "invalid_body" });
  });
});

describe("signed per-file digests", () => {
  async function publishWithFiles(name: string, edit: (files: import("../../src/core/index.js").FileEntry[]) => void, bytes?: Uint8Array) {
    const tarball = bytes ?? (await npmTarball({ name, version: "1.0.0" }, { "index.js": "module.exports = 1;\n", "lib/util.js": "exports.x = 2;\n" }));
    const files = await fileDigests(await npmTarball({ name, version: "1.0.0" }, { "index.js": "module.exports = 1;\n", "lib/util.js": "exports.x = 2;\n" }));
    edit(files);
    return publishParts(name, "1.0.0", await signedParts(publisher, name, "1.0.0", tarball, { attributes: { files } }), token);
  }

  it("accepts a file list that is exactly the tarball's, and serves it in the bundle", async () => {
    expect((await publishWithFiles("@npm/files-ok", () => {})).status).toBe(201);
    const doc = (await (await call("GET", "/@npm%2ffiles-ok")).json()) as Record<string, any>;
    expect(doc.versions["1.0.0"].countersign).toMatchObject({ files: 3, ai: null, reviews: 0 });
  });

  it.each([
    ["a changed digest", (f: any[]) => (f[0].sha256 = "0".repeat(64)), "differs from its signed digest"],
    ["a missing file", (f: any[]) => f.pop(), "not in the signed list"],
    ["an extra file", (f: any[]) => f.push({ path: "ghost.js", size: 1, sha256: "0".repeat(64) }), "signed but not in the tarball"],
  ])("refuses %s → 400 files_mismatch (integrity)", async (_label, edit, reason) => {
    const error = await errorOf(await publishWithFiles("@npm/files-bad", edit));
    expect(error).toMatchObject({ status: 400, code: "files_mismatch", layer: "integrity" });
    expect(error.message).toContain(reason);
  });

  it("refuses a file list for an artifact that is not an npm package", async () => {
    const error = await errorOf(await publishWithFiles("@npm/files-blob", () => {}, new Uint8Array([1, 2, 3])));
    expect(error).toMatchObject({ status: 400, code: "files_mismatch" });
  });
});

describe("reviews", () => {
  const path = "/-/countersign/v1/packages/@npm%2fpkg/1.0.0/reviews";
  let target: { name: string; version: string; digests: { sha256: string; sha512: string } };

  beforeAll(async () => {
    const bytes = tarballs.get("@npm/pkg@1.0.0")!;
    target = { name: "@npm/pkg", version: "1.0.0", digests: { sha256: toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", bytes))), sha512: await sha512Of(bytes) } };
  });

  it("attaches a valid review once, and serves it in the bundle and packument", async () => {
    const reviewer = await newPublisher();
    const review = await signReview(target, reviewer.signer, { note: "looked at everything" });
    expect((await call("POST", path, { body: review })).status).toBe(401);
    expect(await (await call("POST", path, { body: review, token })).json()).toEqual({ name: "@npm/pkg", version: "1.0.0", reviewer: reviewer.key.keyid, verdict: "approved" });
    expect(await errorOf(await call("POST", path, { body: review, token }))).toMatchObject({ status: 409, code: "review_exists" });
    const bundle = (await (await call("GET", "/-/countersign/v1/packages/@npm%2fpkg/1.0.0")).json()) as Bundle & { reviews: unknown[] };
    expect(bundle.reviews).toEqual([review]);
    expect((await (await call("GET", path)).json()) as unknown).toEqual({ reviews: [review] });
    const batch = (await (await call("POST", "/-/countersign/v1/bundles", { body: { packages: ["@npm/pkg@1.0.0"] } })).json()) as { bundles: Record<string, { reviews: unknown[] }> };
    expect(batch.bundles["@npm/pkg@1.0.0"]!.reviews).toEqual([review]);
    const doc = (await (await call("GET", "/@npm%2fpkg")).json()) as Record<string, any>;
    expect(doc.versions["1.0.0"].dist.countersign.reviews).toEqual([review]);
    const abbreviated = (await (await call("GET", "/@npm%2fpkg", { headers: { accept: "application/vnd.npm.install-v1+json" } })).json()) as Record<string, any>;
    const linked = await (await call("GET", new URL(abbreviated.versions["1.0.0"].dist.countersign.url as string).pathname)).text();
    expect(toHex(new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(linked))))).toBe(abbreviated.versions["1.0.0"].dist.countersign.sha256);
    expect((JSON.parse(linked) as { reviews: unknown[] }).reviews).toEqual([review]);
  });

  it.each([
    ["of another version", async (signer: Signer) => signReview({ ...target, version: "1.1.0" }, signer)],
    ["of other bytes", async (signer: Signer) => signReview({ ...target, digests: { ...target.digests, sha512: "0".repeat(128) } }, signer)],
    ["with a forged signature", async (signer: Signer) => {
      const review = await signReview(target, signer);
      review.signatures[0]!.sig = toBase64(new Uint8Array(64).fill(7));
      return review;
    }],
    ["that is not a review", async () => ({ payloadType: "x", payload: "", signatures: [] })],
  ])("refuses a review %s → 400 invalid_review", async (_label, make) => {
    const reviewer = await newPublisher();
    expect(await errorOf(await call("POST", path, { body: await make(reviewer.signer), token }))).toMatchObject({ status: 400, code: "invalid_review" });
  });
});
