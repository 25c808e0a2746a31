/**
 * The blob collector (src/worker/gc.ts), run by the Cron Trigger: deletes R2 blobs that no version
 * references once they are older than the grace period, a bounded number per run, resuming where
 * the last run stopped; never a blob a version references or is about to reference.
 */

import { createExecutionContext, createScheduledController, env, waitOnExecutionContext } from "cloudflare:test";
import { exports } from "cloudflare:workers";
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import { toHex, utf8 } from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import { collectBlobs, GC_DELETE_DEADLINE_MS, GC_GRACE_MS, type GcOptions } from "../../src/worker/gc.js";
import worker from "../../src/worker/index.js";
import { blobKey, r2BlobStore, type BlobStore } from "../../src/worker/storage/blobs.js";
import { BLOB_CLAIM_SECONDS, d1MetaStore } from "../../src/worker/storage/d1.js";
import type { MetaStore } from "../../src/worker/storage/meta.js";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { call, enrol, errorOf, ORIGIN, packagePath, publishParts, record } from "./helpers.js";

let alice: Publisher;
let aliceToken: string;

beforeAll(async () => {
  alice = await newPublisher();
  aliceToken = await enrol("@gc", alice);
});

const HOUR = 60 * 60 * 1000;
const later = (ms: number) => new Date(Date.now() + ms);
const sha512Of = async (bytes: Uint8Array) => toHex(new Uint8Array(await crypto.subtle.digest("SHA-512", bytes)));

/** Blobs as a failed publish leaves them: content-addressed, referenced by no version. */
async function orphans(label: string, n: number): Promise<string[]> {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    const bytes = utf8(`orphan ${label} ${i}`);
    const sha512 = await sha512Of(bytes);
    await env.ARTIFACTS.put(blobKey(sha512), bytes, { sha512 });
    keys.push(sha512);
  }
  return keys;
}

/** A published version: its blob is referenced. */
async function published(name: string, version: string): Promise<string> {
  const bytes = utf8(`published ${name}@${version}`);
  expect((await publishParts(name, version, await signedParts(alice, name, version, bytes), aliceToken)).status).toBe(201);
  return sha512Of(bytes);
}

async function present(sha512s: string[]): Promise<boolean[]> {
  return Promise.all(sha512s.map(async (s) => (await env.ARTIFACTS.head(blobKey(s))) !== null));
}

/** Every version's blob is still there. */
async function expectVersionsIntact() {
  const { results } = await env.DB.prepare("SELECT sha512 FROM versions").all<{ sha512: string }>();
  expect(await present(results.map((r) => r.sha512))).not.toContain(false);
}

const stores = () => ({ meta: d1MetaStore(env.DB), blobs: r2BlobStore(env.ARTIFACTS) });

beforeEach(async () => {
  // Each test starts a fresh cycle, with no claims and no unreferenced blobs left by another test.
  await collectBlobs(stores(), { now: later(GC_GRACE_MS + HOUR), maxExamined: 100_000 });
  await env.DB.batch([env.DB.prepare("DELETE FROM gc_state"), env.DB.prepare("DELETE FROM blob_claims")]);
});

/** The Worker's own `scheduled`, through the runtime, as a Cron Trigger fires it. */
const fire = (scheduledTime: Date) =>
  (exports as unknown as { default: { scheduled(options: { scheduledTime: Date; cron: string }): Promise<unknown> } }).default.scheduled({ scheduledTime, cron: "17 * * * *" });

describe("the scheduled handler", () => {
  it("runs the collector: deletes old unreferenced blobs, keeps referenced, young and foreign objects", async () => {
    const kept = [await published("@gc/a", "1.0.0"), await published("@gc/a", "1.0.1")];
    const old = await orphans("old", 3);
    await env.ARTIFACTS.put("artifacts/sha512/not-a-digest", "x");
    await env.ARTIFACTS.put("elsewhere/file", "y");

    // 23 hours on: inside the grace period, nothing goes.
    await fire(later(GC_GRACE_MS - HOUR));
    expect(await present([...kept, ...old])).toEqual([true, true, true, true, true]);

    // 25 hours on: the orphans go, the versions' blobs stay.
    await fire(later(GC_GRACE_MS + HOUR));
    expect(await present([...kept, ...old])).toEqual([true, true, false, false, false]);
    expect(await env.ARTIFACTS.head("artifacts/sha512/not-a-digest")).not.toBeNull();
    expect(await env.ARTIFACTS.head("elsewhere/file")).not.toBeNull();
    for (const [i, sha512] of kept.entries()) {
      const served = await call("GET", `${packagePath("@gc/a", `1.0.${i}`)}/artifact`);
      expect(served.status).toBe(200);
      expect(await sha512Of(new Uint8Array(await served.arrayBuffer()))).toBe(sha512);
    }

    // Idempotent: running again finds nothing to do and fails on nothing.
    await fire(later(GC_GRACE_MS + 2 * HOUR));
    expect(await present(kept)).toEqual([true, true]);
    expect(await d1MetaStore(env.DB).gcCursor()).toBeNull();
    await env.ARTIFACTS.delete(["artifacts/sha512/not-a-digest", "elsewhere/file"]);
  });

  it("is the module's default export, taking the grace period from the controller's scheduled time", async () => {
    const [blob] = await orphans("controller", 1);
    await worker.scheduled(createScheduledController({ scheduledTime: later(GC_GRACE_MS - HOUR), cron: "17 * * * *" }), env);
    expect(await present([blob!])).toEqual([true]);
    await worker.scheduled(createScheduledController({ scheduledTime: later(GC_GRACE_MS + HOUR), cron: "17 * * * *" }), env);
    expect(await present([blob!])).toEqual([false]);
  });
});

describe("collectBlobs", () => {
  it("examines at most maxExamined blobs per run, resumes where it stopped, and starts over after the last", async () => {
    const referenced = [await published("@gc/b", "1.0.0"), await published("@gc/b", "1.0.1")];
    const old = await orphans("bounded", 7);
    const total = (await env.ARTIFACTS.list({ prefix: blobKey("") })).objects.filter((o) => /\/[0-9a-f]{128}$/.test(o.key)).length;
    expect(total).toBeGreaterThanOrEqual(referenced.length + old.length);
    const listed: number[] = [];
    const counting = (blobs: BlobStore): BlobStore => ({
      ...blobs,
      async list(after, limit) {
        const page = await blobs.list(after, limit);
        listed.push(page.blobs.length);
        return page;
      },
    });
    const run = () => collectBlobs({ meta: d1MetaStore(env.DB), blobs: counting(r2BlobStore(env.ARTIFACTS)) }, { now: later(GC_GRACE_MS + HOUR), maxExamined: 3, pageSize: 2 });

    const reports = [];
    for (let i = 0; i < Math.ceil(total / 3); i++) {
      listed.length = 0;
      const report = await run();
      expect(report.examined).toBeLessThanOrEqual(3);
      expect(listed.reduce((a, b) => a + b, 0)).toBe(report.examined);
      expect(Math.max(...listed)).toBeLessThanOrEqual(2);
      reports.push(report);
    }
    // One pass over every blob, in key order, each examined once.
    expect(reports.reduce((sum, r) => sum + r.examined, 0)).toBe(total);
    expect(reports.at(-1)!.next).toBeNull();
    expect(reports.slice(0, -1).every((r) => r.next !== null)).toBe(true);
    expect(reports.reduce((sum, r) => sum + r.deleted, 0)).toBe(old.length);
    expect(await present(old)).not.toContain(true);
    expect(await present(referenced)).toEqual([true, true]);

    // The next run starts over from the first key, and the next cycle collects what is new.
    const fresh = await orphans("bounded-2", 1);
    const cycle = [await run()];
    expect(cycle[0]!.examined).toBe(3);
    while (cycle.at(-1)!.next !== null && cycle.length <= total) cycle.push(await run());
    expect(cycle.reduce((sum, r) => sum + r.examined, 0)).toBe(total - old.length + fresh.length);
    expect(await present(fresh)).toEqual([false]);
    expect(await present(referenced)).toEqual([true, true]);
  });

  it("claims and deletes only what no version references, even when handed referenced blobs as candidates", async () => {
    const referenced = await published("@gc/c", "1.0.0");
    const [orphan] = await orphans("claim", 1);
    expect(await d1MetaStore(env.DB).claimUnreferencedBlobs([referenced, orphan!])).toEqual([orphan]);
  });

  it("leaves claimed blobs alone when the delete deadline has passed, and a later cycle deletes them", async () => {
    const [blob] = await orphans("deadline", 1);
    let now = 0;
    const slow: GcOptions["clock"] = () => (now += GC_DELETE_DEADLINE_MS + 1);
    const report = await collectBlobs(stores(), { now: later(GC_GRACE_MS + HOUR), clock: slow });
    expect(report).toMatchObject({ claimed: 1, deleted: 0, next: null });
    expect(await present([blob!])).toEqual([true]);
    expect(await collectBlobs(stores(), { now: later(GC_GRACE_MS + HOUR) })).toMatchObject({ claimed: 1, deleted: 1 });
    expect(await present([blob!])).toEqual([false]);
  });

  const failures = ["gcCursor", "list", "claimUnreferencedBlobs", "delete", "saveGcCursor"] as const;
  for (const method of failures) {
    it(`a storage failure in ${method} fails the run, loses no referenced blob, and the next run finishes the work`, async () => {
      const referenced = await published("@gc/d", `1.0.${failures.indexOf(method)}`);
      const old = await orphans(`fault-${method}`, 2);
      const cursorBefore = await d1MetaStore(env.DB).gcCursor();
      const broken = <T extends object>(store: T): T =>
        new Proxy(store, {
          get(target, prop) {
            const value = Reflect.get(target, prop) as unknown;
            if (prop === method) return () => Promise.reject(new Error("injected"));
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          },
        });
      const faulty = { meta: broken<MetaStore>(d1MetaStore(env.DB)), blobs: broken<BlobStore>(r2BlobStore(env.ARTIFACTS)) };
      await expect(collectBlobs(faulty, { now: later(GC_GRACE_MS + HOUR) })).rejects.toThrow("injected");
      expect(await d1MetaStore(env.DB).gcCursor()).toBe(cursorBefore);
      await expectVersionsIntact();
      expect(await present([referenced])).toEqual([true]);

      const report = await collectBlobs(stores(), { now: later(GC_GRACE_MS + HOUR) });
      expect(report.next).toBeNull();
      expect(await present(old)).toEqual([false, false]);
      expect(await present([referenced])).toEqual([true]);
    });
  }
});

describe("a publish and the collector, on the same bytes at once", () => {
  /** Publishes through an app whose commit first lets `between` run (the collector, mid-publish). */
  async function publishWith(between: (sha512: string) => Promise<void>, name: string, version: string, bytes: Uint8Array): Promise<Response> {
    const app = createApp({
      meta: (e) => {
        const real = d1MetaStore(e.DB);
        return { ...real, commitVersion: async (row, tag, readAt) => (await between(row.sha512), real.commitVersion(row, tag, readAt)) };
      },
    });
    const body = await uploadBody(await signedParts(alice, name, version, bytes));
    const ctx = createExecutionContext();
    const res = await app.fetch(new Request(`${ORIGIN}${packagePath(name, version)}`, { method: "PUT", body, headers: { authorization: `Bearer ${aliceToken}` } }), env, ctx);
    await waitOnExecutionContext(ctx);
    return record(res);
  }

  it("a blob claimed and deleted between a publish's read and its commit refuses the commit (503); a retry after the claim window publishes", async () => {
    // A refused publish left these bytes; a day later the same bytes are published again, and the
    // collector runs on them (listed as old before the re-upload) while that publish is in flight.
    const bytes = await npmTarball({ name: "@gc/e", version: "1.0.0" });
    const refused = await publishParts("@gc/e-typo", "1.0.0", await signedParts(alice, "@gc/e-typo", "1.0.0", bytes), aliceToken);
    expect(await errorOf(refused)).toMatchObject({ status: 400, code: "manifest_mismatch" });
    const sha512 = await sha512Of(bytes);
    expect(await present([sha512])).toEqual([true]);
    const collector = async (s: string) => {
      const claimed = await d1MetaStore(env.DB).claimUnreferencedBlobs([s]);
      expect(claimed).toEqual([s]);
      await r2BlobStore(env.ARTIFACTS).delete(claimed);
    };
    const res = await publishWith(collector, "@gc/e", "1.0.0", bytes);
    expect(await errorOf(res)).toMatchObject({ status: 503, code: "storage_unavailable" });
    expect((await call("GET", packagePath("@gc/e", "1.0.0"))).status).toBe(404);
    expect(await present([sha512])).toEqual([false]);
    await expectVersionsIntact();

    // Within the claim window the same upload is still refused: the claim could still be deleting.
    expect((await publishParts("@gc/e", "1.0.0", await signedParts(alice, "@gc/e", "1.0.0", bytes), aliceToken)).status).toBe(503);
    // Once the claim is older than its window, the upload publishes and its bytes are served.
    await env.DB.prepare("UPDATE blob_claims SET claimed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?) WHERE sha512 = ?").bind(`-${BLOB_CLAIM_SECONDS + 1} seconds`, sha512).run();
    expect((await publishParts("@gc/e", "1.0.0", await signedParts(alice, "@gc/e", "1.0.0", bytes), aliceToken)).status).toBe(201);
    const served = await call("GET", `${packagePath("@gc/e", "1.0.0")}/artifact`);
    expect(new Uint8Array(await served.arrayBuffer())).toEqual(bytes);
    await expectVersionsIntact();
  });

  it("a claim that ended before the publish read its context does not refuse it", async () => {
    const bytes = utf8("claimed long ago");
    const sha512 = await sha512Of(bytes);
    await env.DB.prepare("INSERT INTO blob_claims (sha512, claimed_at) VALUES (?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now', ?))").bind(sha512, `-${BLOB_CLAIM_SECONDS + 1} seconds`).run();
    expect((await publishParts("@gc/f", "1.0.0", await signedParts(alice, "@gc/f", "1.0.0", bytes), aliceToken)).status).toBe(201);
  });

  it("a version committed first keeps its blob: the collector's claim finds it referenced", async () => {
    const sha512 = await published("@gc/g", "1.0.0");
    const report = await collectBlobs(stores(), { now: later(GC_GRACE_MS + HOUR) });
    expect(report.claimed).toBe(0);
    expect(await present([sha512])).toEqual([true]);
  });
});
