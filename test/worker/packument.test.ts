/**
 * Lean, edge-cached packuments (docs/PROTOCOL.md §11, "Packuments" and "Packument caching").
 *
 * - Shapes: the abbreviated packument links each version's bundle by URL and SHA-256, and stays
 *   small (a one-file package within 1.5× Verdaccio's 811 B); the full one keeps the bundle inline
 *   for mirrors; the link's digest is of exactly the bytes the bundle route serves (reviews
 *   included), which is also that route's ETag.
 * - Cache: a packument is cached under the package's revision; a hit costs one D1 round trip and
 *   a miss two, whatever the package; every write (publish, dist-tag add and rm, deprecate,
 *   review) is visible in the very next answer; the key includes the origin; with
 *   READ_ACCESS=token the token is checked before the cache, so a cached packument never reaches
 *   a request without a valid token.
 * - Digests: a lean build reads the bundle text only of versions whose digest is not remembered
 *   for their current reviews; a digest remembered for other reviews is never used.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { ABBREVIATED_TYPE, fromBase64, keyPairFromSeed, sha256, signReview, toHex, verifyBundle, type Bundle } from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import type { MetaStore, PackumentSource } from "../../src/worker/storage/meta.js";
import { fileDigests, newPublisher, signedParts, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { admin, call, enrol, errorOf, ORIGIN, publishParts, SIGNING_KEY } from "./helpers.js";

/** Verdaccio 6.8.0's abbreviated packument of a one-file package of this shape (bench/README.md). */
const VERDACCIO_ONE_FILE_BYTES = 811;

let registryKeyid: string;
let publisher: Publisher;
let token: string;
const tarballs = new Map<string, Uint8Array>();

const hex256 = async (bytes: Uint8Array | string) => toHex(await sha256(typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes));
const sha512Of = async (bytes: Uint8Array) => toHex(new Uint8Array(await crypto.subtle.digest("SHA-512", bytes)));

/** An npm package like bench/packument-size.ts's: package.json plus `files - 1` modules, its file list signed. */
async function publish(name: string, version: string, files = 1): Promise<Response> {
  const extra: Record<string, string> = {};
  for (let i = 1; i < files; i++) extra[`lib/file-${i}.js`] = `module.exports = ${i};\n`;
  const bytes = await npmTarball({ name, version, description: `packument size benchmark, ${files} files`, main: "index.js", license: "MIT" }, extra);
  tarballs.set(`${name}@${version}`, bytes);
  const parts = await signedParts(publisher, name, version, bytes, { attributes: { files: await fileDigests(bytes) } });
  return publishParts(name, version, parts, token);
}

/** The app with a MetaStore that records every method call (each is one D1 round trip). */
function recordingApp() {
  const calls: string[] = [];
  const sources: PackumentSource[] = [];
  const app = createApp({
    meta: (e) =>
      new Proxy(d1MetaStore(e.DB), {
        get(target, prop: keyof MetaStore) {
          const value = target[prop];
          if (typeof value !== "function") return value;
          return async (...args: unknown[]) => {
            calls.push(String(prop));
            const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
            if (prop === "packumentSource") sources.push(structuredClone(result as PackumentSource));
            return result;
          };
        },
      }),
  });
  return { app, calls, sources };
}

type App = ReturnType<typeof createApp>;

/** A GET through `app`, waiting for its background work (the cache put) before answering. */
async function get(app: App, path: string, headers: Record<string, string> = {}, bindings: typeof env = env) {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${ORIGIN}${path}`, { headers }), bindings, ctx);
  const body = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, headers: res.headers, body };
}

const ABBREVIATED = { accept: ABBREVIATED_TYPE };
/** Without the isolate's short memory of packuments (test/worker/hot-cache.test.ts), so the edge cache's own round trips show. */
const EDGE_ONLY = { ...env, HOT_CACHE: "off" };
const FULL = { accept: "application/json" };
const json = (body: string) => JSON.parse(body) as Record<string, any>;

beforeAll(async () => {
  registryKeyid = (await keyPairFromSeed(fromBase64(SIGNING_KEY)!)).keyid;
  publisher = await newPublisher();
  token = await enrol("@pk", publisher);
  expect((await publish("@pk/files-1", "1.0.0")).status).toBe(201);
  for (const version of ["1.0.0", "1.0.1"]) expect((await publish("@pk/files-100", version, 100)).status).toBe(201);
});

describe("packument shapes", () => {
  it("abbreviated: dist.countersign links the bundle by URL and the SHA-256 of exactly the bytes served there", async () => {
    const { app } = recordingApp();
    const res = await get(app, "/@pk%2ffiles-100", ABBREVIATED);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/vnd\.npm\.install-v1\+json/);
    const v = json(res.body).versions["1.0.1"];
    expect(Object.keys(v.dist).sort()).toEqual(["countersign", "integrity", "shasum", "signatures", "tarball"]);
    expect(v.dist.countersign).toEqual({ url: `${ORIGIN}/-/countersign/v1/packages/@pk/files-100/1.0.1`, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    // No envelope and no per-file digest list inline.
    expect(res.body).not.toContain('"payload"');
    expect(res.body).not.toContain("lib/file-1.js");

    const linked = await call("GET", new URL(v.dist.countersign.url).pathname);
    const bytes = new Uint8Array(await linked.arrayBuffer());
    expect(await hex256(bytes)).toBe(v.dist.countersign.sha256);
    expect(linked.headers.get("etag")).toBe(`"sha256-${v.dist.countersign.sha256}"`);
    const bundle = JSON.parse(new TextDecoder().decode(bytes)) as Bundle;
    const verified = await verifyBundle({ name: "@pk/files-100", version: "1.0.1", artifact: { sha512: await sha512Of(tarballs.get("@pk/files-100@1.0.1")!) }, bundle, pinned: [registryKeyid] });
    expect(verified.ok && verified.value.attributes.files).toHaveLength(100);
  });

  it(`abbreviated: a one-file package is within 1.5× Verdaccio's ${VERDACCIO_ONE_FILE_BYTES} B`, async () => {
    const { app } = recordingApp();
    const res = await get(app, "/@pk%2ffiles-1", ABBREVIATED);
    expect(res.body.length).toBeLessThanOrEqual(VERDACCIO_ONE_FILE_BYTES * 1.5);
    const full = await get(app, "/@pk%2ffiles-1", FULL);
    expect(full.body.length).toBeGreaterThan(3 * res.body.length); // what it was before: the bundle inline
  });

  it("full: the bundle stays inline (what mirrors copy), and verifies", async () => {
    const { app } = recordingApp();
    const doc = json((await get(app, "/@pk%2ffiles-100", FULL)).body);
    const v = doc.versions["1.0.0"];
    expect((v.dist.countersign as Bundle).mediaType).toBe("application/vnd.countersign.bundle.v1+json");
    expect(v.countersign).toMatchObject({ files: 100, reviews: 0 });
    const verified = await verifyBundle({ name: "@pk/files-100", version: "1.0.0", artifact: { sha512: await sha512Of(tarballs.get("@pk/files-100@1.0.0")!) }, bundle: v.dist.countersign, pinned: [registryKeyid] });
    expect(verified.ok).toBe(true);
    // The version document is the full one's.
    const one = (await (await call("GET", "/@pk%2ffiles-100/1.0.0")).json()) as Record<string, any>;
    expect(one.dist).toEqual(v.dist);
  });

  it("the bundle route answers If-None-Match with its digest with 304, and another digest with the bytes", async () => {
    const path = "/-/countersign/v1/packages/@pk%2ffiles-1/1.0.0";
    const etag = (await call("GET", path)).headers.get("etag")!;
    expect(etag).toMatch(/^"sha256-[0-9a-f]{64}"$/);
    expect((await call("GET", path, { headers: { "if-none-match": etag } })).status).toBe(304);
    expect((await call("GET", path, { headers: { "if-none-match": `"sha256-${"0".repeat(64)}"` } })).status).toBe(200);
  });

  it("a review changes the linked bytes and their digest at once; the full packument carries it inline", async () => {
    await publish("@pk/reviewed", "1.0.0");
    const { app } = recordingApp();
    const before = json((await get(app, "/@pk%2freviewed", ABBREVIATED)).body).versions["1.0.0"].dist.countersign;
    const bytes = tarballs.get("@pk/reviewed@1.0.0")!;
    const reviewer = await newPublisher();
    const review = await signReview({ name: "@pk/reviewed", version: "1.0.0", digests: { sha256: await hex256(bytes), sha512: await sha512Of(bytes) } }, reviewer.signer);
    expect((await call("POST", "/-/countersign/v1/packages/@pk%2freviewed/1.0.0/reviews", { body: review, token })).status).toBe(201);

    const after = json((await get(app, "/@pk%2freviewed", ABBREVIATED)).body).versions["1.0.0"].dist.countersign;
    expect(after.url).toBe(before.url);
    expect(after.sha256).not.toBe(before.sha256);
    const served = await (await call("GET", new URL(after.url).pathname)).text();
    expect(await hex256(served)).toBe(after.sha256);
    expect((JSON.parse(served) as { reviews: unknown[] }).reviews).toEqual([review]);
    const full = json((await get(app, "/@pk%2freviewed", FULL)).body).versions["1.0.0"];
    expect(full.dist.countersign.reviews).toEqual([review]);
    expect(full.countersign.reviews).toBe(1);
  });
});

describe("the edge cache", () => {
  it("a repeat is one D1 round trip and the same bytes and ETag; a miss is two, whatever the number of versions", async () => {
    for (const version of ["1.0.0", "1.0.1", "1.0.2", "1.0.3", "1.0.4", "1.0.5"]) expect((await publish("@pk/many", version)).status).toBe(201);
    expect((await publish("@pk/single", "1.0.0")).status).toBe(201);
    for (const [name, headers] of [["@pk%2fmany", ABBREVIATED], ["@pk%2fmany", FULL], ["@pk%2fsingle", ABBREVIATED], ["@pk%2fsingle", FULL]] as const) {
      const { app, calls } = recordingApp();
      const first = await get(app, `/${name}`, headers, EDGE_ONLY);
      expect(first.status).toBe(200);
      expect(calls.filter((c) => c !== "rememberBundleDigests")).toEqual(["packumentRevision", "packumentSource"]);
      calls.length = 0;
      const second = await get(app, `/${name}`, headers, EDGE_ONLY);
      expect(calls).toEqual(["packumentRevision"]);
      expect(second.body).toBe(first.body);
      expect(second.headers.get("etag")).toBe(first.headers.get("etag"));
      expect(second.headers.get("cache-control")).toBe("public, max-age=30");
      calls.length = 0;
      const conditional = await get(app, `/${name}`, { ...headers, "if-none-match": first.headers.get("etag")! }, EDGE_ONLY);
      expect(conditional.status).toBe(304);
      expect(conditional.body).toBe("");
      expect(calls).toEqual(["packumentRevision"]);
    }
  });

  it("abbreviated and full are cached apart", async () => {
    const { app } = recordingApp();
    const abbreviated = await get(app, "/@pk%2ffiles-1", ABBREVIATED);
    const full = await get(app, "/@pk%2ffiles-1", FULL);
    expect(abbreviated.body).not.toBe(full.body);
    expect((await get(app, "/@pk%2ffiles-1", ABBREVIATED)).body).toBe(abbreviated.body);
    expect((await get(app, "/@pk%2ffiles-1", { accept: ABBREVIATED_TYPE })).headers.get("content-type")).toMatch(/install-v1/);
    expect(json((await get(app, "/@pk%2ffiles-1?write=true", ABBREVIATED)).body)._id).toBe("@pk/files-1"); // npm's write=true is the full one
  });

  it("the origin is part of the key: a packument cached for one origin never names it to another", async () => {
    const { app } = recordingApp();
    await get(app, "/@pk%2ffiles-1", ABBREVIATED);
    const other = await get(app, "/@pk%2ffiles-1", ABBREVIATED, { ...env, REGISTRY_ORIGIN: "https://other.example" });
    const v = json(other.body).versions["1.0.0"];
    expect(v.dist.tarball).toBe("https://other.example/@pk/files-1/-/files-1-1.0.0.tgz");
    expect(v.dist.countersign.url).toBe("https://other.example/-/countersign/v1/packages/@pk/files-1/1.0.0");
  });

  describe("every write is visible in the next answer (both documents cached before it)", () => {
    const name = "@pk/writes";
    const path = "/@pk%2fwrites";
    let app: App;
    const both = async () => ({ abbreviated: json((await get(app, path, ABBREVIATED)).body), full: json((await get(app, path, FULL)).body) });

    beforeAll(async () => {
      expect((await publish(name, "1.0.0")).status).toBe(201);
      app = recordingApp().app;
    });

    it("publish", async () => {
      expect(Object.keys((await both()).abbreviated.versions)).toEqual(["1.0.0"]);
      expect((await publish(name, "1.1.0")).status).toBe(201);
      const { abbreviated, full } = await both();
      for (const doc of [abbreviated, full]) {
        expect(Object.keys(doc.versions)).toEqual(["1.0.0", "1.1.0"]);
        expect(doc["dist-tags"].latest).toBe("1.1.0");
      }
    });

    it("a refused publish changes nothing and does not make the cache miss", async () => {
      const { app: recorded, calls } = recordingApp();
      const before = await get(recorded, path, ABBREVIATED, EDGE_ONLY);
      expect((await publish(name, "1.1.0")).status).toBe(409);
      calls.length = 0;
      expect((await get(recorded, path, ABBREVIATED, EDGE_ONLY)).body).toBe(before.body);
      expect(calls).toEqual(["packumentRevision"]);
    });

    it("dist-tag add, move and rm", async () => {
      await both();
      expect((await call("PUT", "/-/package/@pk%2fwrites/dist-tags/beta", { body: JSON.stringify("1.0.0"), token })).status).toBe(201);
      for (const doc of Object.values(await both())) expect(doc["dist-tags"]).toEqual({ beta: "1.0.0", latest: "1.1.0" });
      expect((await call("PUT", "/-/package/@pk%2fwrites/dist-tags/latest", { body: JSON.stringify("1.0.0"), token })).status).toBe(201);
      for (const doc of Object.values(await both())) expect(doc["dist-tags"].latest).toBe("1.0.0");
      expect((await call("DELETE", "/-/package/@pk%2fwrites/dist-tags/beta", { token })).status).toBe(200);
      for (const doc of Object.values(await both())) expect(doc["dist-tags"]).toEqual({ latest: "1.0.0" });
    });

    it("a refused dist-tag change (no such version, no such tag) leaves the cached packument in place", async () => {
      const { app: recorded, calls } = recordingApp();
      await get(recorded, path, ABBREVIATED, EDGE_ONLY);
      expect((await call("PUT", "/-/package/@pk%2fwrites/dist-tags/beta", { body: JSON.stringify("9.9.9"), token })).status).toBe(404);
      expect((await call("DELETE", "/-/package/@pk%2fwrites/dist-tags/nope", { token })).status).toBe(404);
      calls.length = 0;
      await get(recorded, path, ABBREVIATED, EDGE_ONLY);
      expect(calls).toEqual(["packumentRevision"]);
    });

    it("deprecate and un-deprecate", async () => {
      await both();
      const deprecate = (message: string) => call("PUT", path, { body: { name, versions: { "1.0.0": { deprecated: message } } }, token });
      expect((await deprecate("use 1.1.0")).status).toBe(200);
      for (const doc of Object.values(await both())) expect(doc.versions["1.0.0"].deprecated).toBe("use 1.1.0");
      expect((await deprecate("")).status).toBe(200);
      for (const doc of Object.values(await both())) expect(doc.versions["1.0.0"].deprecated).toBeUndefined();
    });

    it("a package that was a 404 is served as soon as it is published", async () => {
      expect((await get(app, "/@pk%2flate", ABBREVIATED)).status).toBe(404);
      expect((await publish("@pk/late", "1.0.0")).status).toBe(201);
      expect(Object.keys(json((await get(app, "/@pk%2flate", ABBREVIATED)).body).versions)).toEqual(["1.0.0"]);
    });
  });

  it("every write replaces the package's revision; reads and other packages' writes do not", async () => {
    const meta = d1MetaStore(env.DB);
    await publish("@pk/rev", "1.0.0");
    const revisions = [await meta.packumentRevision("@pk/rev")];
    expect(revisions[0]).toMatch(/^[0-9a-f]{24}$/);
    const expectChanged = async (changed: boolean) => {
      const now = await meta.packumentRevision("@pk/rev");
      if (changed) expect(revisions).not.toContain(now);
      else expect(now).toBe(revisions.at(-1));
      revisions.push(now);
    };
    await call("GET", "/@pk%2frev");
    await publish("@pk/other", "1.0.0");
    await expectChanged(false);
    await publish("@pk/rev", "1.0.1");
    await expectChanged(true);
    await call("PUT", "/-/package/@pk%2frev/dist-tags/next", { body: JSON.stringify("1.0.0"), token });
    await expectChanged(true);
    await call("DELETE", "/-/package/@pk%2frev/dist-tags/next", { token });
    await expectChanged(true);
    await call("PUT", "/@pk%2frev", { body: { name: "@pk/rev", versions: { "1.0.0": { deprecated: "old" } } }, token });
    await expectChanged(true);
    expect(await meta.packumentRevision("@pk/never-published")).toBeNull();
  });
});

describe("READ_ACCESS=token: the token is checked before the cache", () => {
  it("a packument cached for a reader is never served without a valid token", async () => {
    const tokenEnv = { ...EDGE_ONLY, READ_ACCESS: "token" };
    const { app, calls } = recordingApp();
    const read = ((await (await admin("POST", "/tokens", { scope: "read" })).json()) as { token: string; id: string });
    const withToken = await get(app, "/@pk%2ffiles-1", { ...ABBREVIATED, authorization: `Bearer ${read.token}` }, tokenEnv);
    expect(withToken.status).toBe(200);
    expect(withToken.headers.get("cache-control")).toBe("private, max-age=30");
    calls.length = 0;
    expect((await get(app, "/@pk%2ffiles-1", { ...ABBREVIATED, authorization: `Bearer ${read.token}` }, tokenEnv)).body).toBe(withToken.body);
    expect(calls).toEqual(["findToken", "packumentRevision"]); // served from the cache, after the token

    const denials: Record<string, string>[] = [{}, { authorization: "Bearer cs_not_a_token" }, { authorization: `Bearer ${read.token}x` }];
    for (const headers of denials) {
      calls.length = 0;
      for (const accept of [ABBREVIATED, FULL]) {
        const denied = await get(app, "/@pk%2ffiles-1", { ...accept, ...headers }, tokenEnv);
        expect(denied.status).toBe(401);
        expect(denied.body).not.toContain("files-1-1.0.0.tgz");
      }
      expect(calls).not.toContain("packumentRevision");
    }
    expect((await admin("DELETE", `/tokens/${read.id}`)).status).toBe(200);
    const revoked = await get(app, "/@pk%2ffiles-1", { ...ABBREVIATED, authorization: `Bearer ${read.token}` }, tokenEnv);
    expect(revoked.status).toBe(401);
    expect(revoked.body).not.toContain("files-1-1.0.0.tgz");
  });
});

describe("remembered bundle digests", () => {
  it("a lean build reads the bundle text only of versions without a remembered digest", async () => {
    for (const version of ["1.0.0", "1.0.1", "1.0.2"]) await publish("@pk/lean", version, 20);
    const { app, sources } = recordingApp();
    const read = () => sources.at(-1)!.versions.filter((v) => v.bundle !== null).map((v) => v.version);
    const first = json((await get(app, "/@pk%2flean", ABBREVIATED)).body);
    expect(read()).toEqual(["1.0.0", "1.0.1", "1.0.2"]);
    await publish("@pk/lean", "1.0.3", 20);
    const second = json((await get(app, "/@pk%2flean", ABBREVIATED)).body);
    expect(read()).toEqual(["1.0.3"]);
    for (const version of ["1.0.0", "1.0.1", "1.0.2"]) expect(second.versions[version].dist.countersign).toEqual(first.versions[version].dist.countersign);
    const served = await (await call("GET", "/-/countersign/v1/packages/@pk%2flean/1.0.3")).text();
    expect(second.versions["1.0.3"].dist.countersign.sha256).toBe(await hex256(served));
  });

  it("a digest remembered for another review count is not used, and is replaced", async () => {
    await publish("@pk/stale", "1.0.0");
    const meta = d1MetaStore(env.DB);
    const served = await (await call("GET", "/-/countersign/v1/packages/@pk%2fstale/1.0.0")).text();
    // What a build that read before a review, and wrote after it, would leave behind.
    await meta.rememberBundleDigests([{ name: "@pk/stale", version: "1.0.0", reviews: 3, sha256: "0".repeat(64) }]);
    const { app, sources } = recordingApp();
    const doc = json((await get(app, "/@pk%2fstale", ABBREVIATED)).body);
    expect(sources.at(-1)!.versions[0]!.bundle).not.toBeNull();
    expect(doc.versions["1.0.0"].dist.countersign.sha256).toBe(await hex256(served));
    const row = await env.DB.prepare("SELECT reviews, sha256 FROM bundle_digests WHERE name = ? AND version = ?").bind("@pk/stale", "1.0.0").first();
    expect(row).toEqual({ reviews: 0, sha256: await hex256(served) });
  });

  it("a review drops the version's remembered digest", async () => {
    await publish("@pk/dropped", "1.0.0");
    const { app } = recordingApp();
    await get(app, "/@pk%2fdropped", ABBREVIATED);
    const count = () => env.DB.prepare("SELECT COUNT(*) AS n FROM bundle_digests WHERE name = ?").bind("@pk/dropped").first<{ n: number }>();
    expect(await count()).toEqual({ n: 1 });
    const bytes = tarballs.get("@pk/dropped@1.0.0")!;
    const review = await signReview({ name: "@pk/dropped", version: "1.0.0", digests: { sha256: await hex256(bytes), sha512: await sha512Of(bytes) } }, (await newPublisher()).signer);
    expect((await call("POST", "/-/countersign/v1/packages/@pk%2fdropped/1.0.0/reviews", { body: review, token })).status).toBe(201);
    expect(await count()).toEqual({ n: 0 });
  });
});

describe("failure paths", () => {
  it("unknown names and non-npm artifacts are 404s in npm's shape, and nothing is cached for them", async () => {
    const { app, calls } = recordingApp();
    for (let i = 0; i < 2; i++) {
      const res = await get(app, "/@pk%2fnothing", ABBREVIATED);
      expect(res.status).toBe(404);
      expect(json(res.body)).toMatchObject({ code: "not_found" });
    }
    expect(calls.filter((c) => c === "packumentSource")).toHaveLength(2);
    expect((await publishParts("@pk/blob", "1.0.0", await signedParts(publisher, "@pk/blob", "1.0.0", new Uint8Array([1, 2, 3])), token)).status).toBe(201);
    expect((await get(app, "/@pk%2fblob", ABBREVIATED)).status).toBe(404);
    expect((await get(app, "/@pk%2fblob", FULL)).status).toBe(404);
    expect(await env.DB.prepare("SELECT COUNT(*) AS n FROM bundle_digests WHERE name = ?").bind("@pk/blob").first()).toEqual({ n: 0 });
  });

  it("the bundle route 404s a version that does not exist", async () => {
    expect(await errorOf(await call("GET", "/-/countersign/v1/packages/@pk%2ffiles-1/9.9.9"))).toMatchObject({ status: 404, code: "not_found" });
  });
});
