/**
 * The isolate's memory (src/worker/hot-cache.ts): bounded, least recently used out first. A
 * repeat download touches no storage; what does not exist yet is never remembered, so a version
 * published a moment later downloads at once. A packument just served is served again for
 * PACKUMENT_MEMORY_MS without D1, forgotten at once after a write through the isolate, and never
 * without the read token a private registry asks for.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { createApp } from "../../src/worker/app.js";
import { artifactBytes, BoundedCache, PACKUMENT_MEMORY_MS } from "../../src/worker/hot-cache.js";
import { r2BlobStore } from "../../src/worker/storage/blobs.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import { newPublisher, signedParts, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { admin, enrol, ORIGIN, publishParts } from "./helpers.js";

describe("BoundedCache", () => {
  it("keeps at most its budget, dropping the least recently used first", () => {
    const cache = new BoundedCache<string, Uint8Array>(10, (v) => v.byteLength);
    cache.set("a", new Uint8Array(4));
    cache.set("b", new Uint8Array(4));
    expect(cache.get("a")).toBeDefined(); // a is now the most recent
    cache.set("c", new Uint8Array(4)); // 12 > 10: b goes
    expect(cache.get("b")).toBeUndefined();
    expect(cache.get("a")).toBeDefined();
    expect(cache.get("c")).toBeDefined();
    expect(cache.used).toBe(8);
  });

  it("never holds an entry larger than the whole budget, and replacing an entry re-counts it", () => {
    const cache = new BoundedCache<string, Uint8Array>(10, (v) => v.byteLength);
    cache.set("big", new Uint8Array(11));
    expect(cache.get("big")).toBeUndefined();
    cache.set("x", new Uint8Array(6));
    cache.set("x", new Uint8Array(2));
    expect(cache.used).toBe(2);
    expect(cache.size).toBe(1);
  });
});

describe("tarball downloads from memory", () => {
  let publisher: Publisher;
  let token: string;
  beforeAll(async () => {
    publisher = await newPublisher();
    token = await enrol("@hot", publisher);
  });

  /** An app whose stores count their calls. */
  function countingApp(vars: Record<string, string> = {}) {
    const calls = { getVersion: 0, blobGet: 0 };
    const app = createApp({
      meta: (e) => {
        const meta = d1MetaStore(e.DB);
        return { ...meta, getVersion: (name, version) => (calls.getVersion++, meta.getVersion(name, version)) };
      },
      blobs: (e) => {
        const blobs = r2BlobStore(e.ARTIFACTS);
        return { ...blobs, get: (sha512) => (calls.blobGet++, blobs.get(sha512)) };
      },
    });
    const get = async (path: string) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(`${ORIGIN}${path}`), { ...env, ...vars }, ctx);
      const body = new Uint8Array(await res.arrayBuffer());
      await waitOnExecutionContext(ctx);
      return { status: res.status, body, etag: res.headers.get("etag"), length: res.headers.get("content-length") };
    };
    return { calls, get };
  }

  it("a repeat download reads neither D1 nor R2, and serves the same bytes and headers", async () => {
    const bytes = await npmTarball({ name: "@hot/once", version: "1.0.0" });
    expect((await publishParts("@hot/once", "1.0.0", await signedParts(publisher, "@hot/once", "1.0.0", bytes), token)).status).toBe(201);
    const { calls, get } = countingApp();
    const first = await get("/@hot/once/-/once-1.0.0.tgz");
    expect(first.status).toBe(200);
    expect(first.body).toEqual(bytes);
    const before = { ...calls };
    const second = await get("/@hot/once/-/once-1.0.0.tgz");
    expect(second).toEqual(first);
    expect(calls).toEqual(before);
  });

  it("a tarball the edge cache holds but memory lost is taken into memory from the edge copy, not asked of the edge again", async () => {
    const bytes = await npmTarball({ name: "@hot/edge", version: "1.0.0" });
    expect((await publishParts("@hot/edge", "1.0.0", await signedParts(publisher, "@hot/edge", "1.0.0", bytes), token)).status).toBe(201);
    const { calls, get } = countingApp();
    const first = await get("/@hot/edge/-/edge-1.0.0.tgz"); // from R2: into memory and the edge cache
    const sha512 = /^"sha512-(.+)"$/.exec(first.etag!)![1]!;
    expect(artifactBytes.get(sha512)).toBeDefined();
    artifactBytes.clear(); // as in a new isolate, whose edge cache is warm
    const before = calls.blobGet;
    const second = await get("/@hot/edge/-/edge-1.0.0.tgz");
    expect(second).toEqual(first);
    expect(calls.blobGet).toBe(before); // the edge copy, not R2
    expect(artifactBytes.get(sha512)).toEqual(bytes); // and memory again, for the next one
  });

  it("a version that did not exist is looked up again once it is published", async () => {
    const { get } = countingApp();
    expect((await get("/@hot/later/-/later-1.0.0.tgz")).status).toBe(404);
    const bytes = await npmTarball({ name: "@hot/later", version: "1.0.0" });
    expect((await publishParts("@hot/later", "1.0.0", await signedParts(publisher, "@hot/later", "1.0.0", bytes), token)).status).toBe(201);
    const after = await get("/@hot/later/-/later-1.0.0.tgz");
    expect(after.status).toBe(200);
    expect(after.body).toEqual(bytes);
  });

  it("memory never answers for another name or version, only for the exact tarball path", async () => {
    const { get } = countingApp();
    expect((await get("/@hot/once/-/once-1.0.0.tgz")).status).toBe(200);
    expect((await get("/@hot/once/-/once-1.0.1.tgz")).status).toBe(404);
    expect((await get("/@hot/other/-/once-1.0.0.tgz")).status).toBe(404);
    expect((await get("/@hot/once/-/other-1.0.0.tgz")).status).toBe(404);
  });

  it("HOT_CACHE=off looks the version up on every download; any other value is a misconfiguration", async () => {
    const { calls, get } = countingApp({ HOT_CACHE: "off" });
    expect((await get("/@hot/once/-/once-1.0.0.tgz")).status).toBe(200);
    expect((await get("/@hot/once/-/once-1.0.0.tgz")).status).toBe(200);
    expect(calls.getVersion).toBe(2); // (the bytes come from the Cache API, which earlier downloads filled)
    const bad = await countingApp({ HOT_CACHE: "maybe" }).get("/@hot/once/-/once-1.0.0.tgz");
    expect(bad.status).toBe(500);
    expect(new TextDecoder().decode(bad.body)).toContain("HOT_CACHE");
  });
});

describe("packuments just served, from memory", () => {
  let publisher: Publisher;
  let token: string;
  beforeAll(async () => {
    publisher = await newPublisher();
    token = await enrol("@recent", publisher);
    const bytes = await npmTarball({ name: "@recent/pkg", version: "1.0.0" });
    expect((await publishParts("@recent/pkg", "1.0.0", await signedParts(publisher, "@recent/pkg", "1.0.0", bytes), token)).status).toBe(201);
  });

  function recordingApp(vars: Record<string, string> = {}) {
    const calls: string[] = [];
    const app = createApp({
      meta: (e) => {
        const meta = d1MetaStore(e.DB);
        return new Proxy(meta, {
          get(target, prop: keyof typeof meta) {
            const value = target[prop];
            return typeof value === "function" ? (...args: unknown[]) => (calls.push(String(prop)), (value as (...a: unknown[]) => unknown).apply(target, args)) : value;
          },
        });
      },
    });
    const get = async (path: string, headers: Record<string, string> = {}) => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(`${ORIGIN}${path}`, { headers }), { ...env, ...vars }, ctx);
      const body = await res.text();
      await waitOnExecutionContext(ctx);
      return { status: res.status, body, etag: res.headers.get("etag") };
    };
    return { calls, get };
  }

  it(`a repeat within ${PACKUMENT_MEMORY_MS} ms asks D1 nothing; after that, D1 is asked again`, async () => {
    const { calls, get } = recordingApp();
    const first = await get("/@recent%2fpkg");
    expect(first.status).toBe(200);
    calls.length = 0;
    expect(await get("/@recent%2fpkg")).toEqual(first);
    expect(calls).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, PACKUMENT_MEMORY_MS + 100));
    expect(await get("/@recent%2fpkg")).toEqual(first);
    expect(calls).toContain("packumentRevision");
  });

  it("a write accepted by this isolate is in the very next answer", async () => {
    const { get } = recordingApp();
    expect(JSON.parse((await get("/@recent%2fpkg")).body)["dist-tags"]).toEqual({ latest: "1.0.0" });
    const bytes = await npmTarball({ name: "@recent/pkg", version: "1.1.0" });
    expect((await publishParts("@recent/pkg", "1.1.0", await signedParts(publisher, "@recent/pkg", "1.1.0", bytes), token)).status).toBe(201);
    expect(JSON.parse((await get("/@recent%2fpkg")).body)["dist-tags"]).toEqual({ latest: "1.1.0" });
  });

  it("READ_ACCESS=token: a packument in memory is never served without a valid token", async () => {
    const reader = ((await (await admin("POST", "/tokens", { scope: "read" })).json()) as { token: string }).token;
    const { calls, get } = recordingApp({ READ_ACCESS: "token" });
    const served = await get("/@recent%2fpkg", { authorization: `Bearer ${reader}` });
    expect(served.status).toBe(200);
    for (const headers of [{}, { authorization: "Bearer cs_not_a_token" }, { authorization: `Bearer ${reader}x` }] as Record<string, string>[]) {
      const denied = await get("/@recent%2fpkg", headers);
      expect(denied.status).toBe(401);
      expect(denied.body).not.toContain("pkg-1.");
    }
    calls.length = 0;
    expect((await get("/@recent%2fpkg", { authorization: `Bearer ${reader}` })).body).toBe(served.body);
    expect(calls).toEqual(["findToken"]); // the token, every time; the document from memory
  });
});
