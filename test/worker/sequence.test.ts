/**
 * Sequence numbers are allocated at the commit point (docs/PROTOCOL.md §6, §12): consecutive, in
 * commit order (a publish's version, then its package's metadata record, §19.1), whatever is refused or fails in between and however many publishes run at once;
 * each countersignature carries the number its version row has.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { fromBase64, keyPairFromSeed, toHex, utf8, verifyBundle, type Bundle } from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import type { StoreFactories } from "../../src/worker/context.js";
import type { Env } from "../../src/worker/env.js";
import { r2BlobStore } from "../../src/worker/storage/blobs.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import type { MetaStore, PublishContext } from "../../src/worker/storage/meta.js";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { call, enrol, errorOf, logSequences, ORIGIN, packagePath, publishParts, putUpload, record, SIGNING_KEY } from "./helpers.js";

let registryKeyid: string;
let alice: Publisher;
let aliceToken: string;

beforeAll(async () => {
  registryKeyid = (await keyPairFromSeed(fromBase64(SIGNING_KEY)!)).keyid;
  alice = await newPublisher();
  aliceToken = await enrol("@seq", alice);
});

const bytesOf = (text: string) => utf8(`artifact ${text}`);

/** Every committed number: versions', registry statements' and metadata records' (each publish records its package's new serial), one sequence. */
const sequences = logSequences;

/** Distinct numbers above `before`: with the metadata record each publish adds, gap-free (expectGapless). */
function expectDistinctAfter(numbers: number[], before: number) {
  expect(new Set(numbers).size).toBe(numbers.length);
  for (const n of numbers) expect(n).toBeGreaterThan(before);
}

/** Every committed number, in order: 1, 2, 3, … with nothing missing. */
async function expectGapless() {
  const all = await sequences();
  expect(all).toEqual(all.map((_, i) => i + 1));
}

/** A 201 whose countersignature verifies and carries the sequence number the registry answered and stored. */
async function published(res: Response, name: string, version: string, bytes: Uint8Array): Promise<number> {
  expect(res.status, await res.clone().text()).toBe(201);
  const body = (await res.json()) as { sequence: number; bundle: Bundle };
  const sha512 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-512", bytes)));
  const verified = await verifyBundle({ name, version, artifact: { sha512 }, bundle: body.bundle, pinned: [registryKeyid] });
  expect(verified.ok && verified.value.sequence).toBe(body.sequence);
  const row = await env.DB.prepare("SELECT sequence FROM versions WHERE name = ? AND version = ?").bind(name, version).first<{ sequence: number }>();
  expect(row?.sequence).toBe(body.sequence);
  return body.sequence;
}

async function publish(name: string, version: string, bytes: Uint8Array): Promise<Response> {
  return publishParts(name, version, await signedParts(alice, name, version, bytes), aliceToken);
}

async function through(factories: StoreFactories, name: string, version: string, bytes: Uint8Array): Promise<Response> {
  const body = await uploadBody(await signedParts(alice, name, version, bytes));
  const ctx = createExecutionContext();
  const res = await createApp(factories).fetch(new Request(`${ORIGIN}${packagePath(name, version)}`, { method: "PUT", body, headers: { authorization: `Bearer ${aliceToken}` } }), env, ctx);
  await waitOnExecutionContext(ctx);
  return record(res);
}

describe("sequence numbers", () => {
  it("refused and failed publishes between two good ones take no number: the second good one gets the next after the first's metadata record", async () => {
    const first = await published(await publish("@seq/a", "1.0.0", bytesOf("a1")), "@seq/a", "1.0.0", bytesOf("a1"));

    const mallory = await newPublisher();
    const refusals: [string, Response][] = [
      ["republish (409)", await publish("@seq/a", "1.0.0", bytesOf("a1 again"))],
      ["a key not enrolled (403)", await publishParts("@seq/a", "1.0.1", await signedParts(mallory, "@seq/a", "1.0.1", bytesOf("m")), aliceToken)],
      ["bytes other than the signed ones (400)", await publishParts("@seq/a", "1.0.2", { ...(await signedParts(alice, "@seq/a", "1.0.2", bytesOf("signed"))), bytes: bytesOf("sent!!") }, aliceToken)],
      // Refused after its bytes were stored: the package.json names another version.
      ["a package refused after storing (400)", await publish("@seq/a", "1.0.3", await npmTarball({ name: "@seq/a", version: "9.9.9" }))],
      ["R2 failing (503)", await through({ blobs: (e) => ({ ...r2BlobStore(e.ARTIFACTS), put: () => Promise.reject(new Error("injected")) }) }, "@seq/a", "1.0.4", bytesOf("r2"))],
      ["the D1 commit failing (500)", await through({ meta: () => ({ ...d1MetaStore(env.DB), commitVersion: () => Promise.reject(new Error("injected")) }) }, "@seq/a", "1.0.5", bytesOf("d1"))],
    ];
    expect(refusals.map(([what, res]) => [what, res.status])).toEqual([
      ["republish (409)", 409],
      ["a key not enrolled (403)", 403],
      ["bytes other than the signed ones (400)", 400],
      ["a package refused after storing (400)", 400],
      ["R2 failing (503)", 503],
      ["the D1 commit failing (500)", 500],
    ]);

    const second = await published(await publish("@seq/a", "1.1.0", bytesOf("a2")), "@seq/a", "1.1.0", bytesOf("a2"));
    expect(second).toBe(first + 2); // first + 1 is the metadata record of the first publish
    await expectGapless();
  });

  it("concurrent publishes that all proposed the same number commit one by one, each countersigned again with its own", async () => {
    // Every publish reads its context before any commits (a barrier), so all propose the same
    // number and all but one lose the race at least once.
    const n = 8;
    let waiting = n;
    let release!: () => void;
    const barrier = new Promise<void>((resolve) => (release = resolve));
    let rereads = 0;
    const meta = (e: Env): MetaStore => {
      const real = d1MetaStore(e.DB);
      return {
        ...real,
        async publishContext(q): Promise<PublishContext> {
          const ctx = await real.publishContext(q);
          if (--waiting === 0) release();
          await barrier;
          return ctx;
        },
        async lastSequence() {
          rereads++;
          return real.lastSequence();
        },
      };
    };
    const before = (await sequences()).at(-1) ?? 0;
    const versions = Array.from({ length: n }, (_, i) => `2.0.${i}`);
    const responses = await Promise.all(versions.map((v) => through({ meta }, "@seq/b", v, bytesOf(`b${v}`))));
    const numbers = await Promise.all(responses.map((res, i) => published(res, "@seq/b", versions[i]!, bytesOf(`b${versions[i]}`))));
    expectDistinctAfter(numbers, before);
    // n proposals of one number: the k-th to commit lost k - 1 races.
    expect(rereads).toBeGreaterThanOrEqual(n - 1);
    await expectGapless();
  });

  it("concurrent publishes through the Worker get distinct numbers, gap-free with their metadata records", async () => {
    const before = (await sequences()).at(-1) ?? 0;
    const versions = Array.from({ length: 12 }, (_, i) => `3.0.${i}`);
    const responses = await Promise.all(versions.map(async (v) => putUpload("@seq/c", v, await uploadBody(await signedParts(alice, "@seq/c", v, bytesOf(`c${v}`))), aliceToken)));
    const numbers = await Promise.all(responses.map((res, i) => published(res, "@seq/c", versions[i]!, bytesOf(`c${versions[i]}`))));
    expectDistinctAfter(numbers, before);
    await expectGapless();
  });

  it("concurrent publishes of one version: one commits, the others are 409 and take no number", async () => {
    const attempts = await Promise.all(["x", "y", "z"].map(async (b) => publish("@seq/d", "1.0.0", bytesOf(`d${b}`))));
    expect(attempts.map((r) => r.status).sort()).toEqual([201, 409, 409]);
    for (const res of attempts.filter((r) => r.status === 409)) expect(await errorOf(res)).toMatchObject({ code: "version_exists" });
    const last = (await sequences()).at(-1)!;
    expect(await published(await publish("@seq/d", "1.0.1", bytesOf("d next")), "@seq/d", "1.0.1", bytesOf("d next"))).toBe(last + 1);
    await expectGapless();
  });

  it("the store refuses a number at or below the highest committed one, writing neither the row nor its tag", async () => {
    expect((await publish("@seq/e", "1.0.0", bytesOf("e1"))).status).toBe(201);
    const meta = d1MetaStore(env.DB);
    const row = (await meta.getVersion("@seq/e", "1.0.0"))!;
    const last = await meta.lastSequence();
    expect(last).toBe((await sequences()).at(-1));
    for (const sequence of [last, last - 1, 1]) {
      expect(await meta.commitVersion({ ...row, version: "2.0.0", sequence }, { tag: "latest", from: "1.0.0" }), `sequence ${sequence}`).toBe("sequence_taken");
    }
    expect(await meta.getVersion("@seq/e", "2.0.0")).toBeNull();
    expect((await meta.listVersions("@seq/e")).tags).toEqual({ latest: "1.0.0" });
    // The version itself existing is told apart from a lost number.
    expect(await meta.commitVersion({ ...row, sequence: last + 1 }, null)).toBe("exists");
    expect(await meta.commitVersion({ ...row, version: "2.0.0", sequence: last + 1 }, { tag: "latest", from: "1.0.0" })).toBe("committed");
    expect((await meta.listVersions("@seq/e")).tags).toEqual({ latest: "2.0.0" });
    await expectGapless();
  });

  it("the response, the stored row and the served bundle agree on the number", async () => {
    const bytes = bytesOf("f");
    const res = await publish("@seq/f", "1.0.0", bytes);
    const sequence = await published(res.clone(), "@seq/f", "1.0.0", bytes);
    const served = (await (await call("GET", packagePath("@seq/f", "1.0.0"))).json()) as Bundle;
    expect(served).toEqual(((await res.json()) as { bundle: Bundle }).bundle);
    const listed = (await (await call("GET", packagePath("@seq/f"))).json()) as { versions: { version: string; sequence: number }[] };
    expect(listed.versions).toEqual([expect.objectContaining({ version: "1.0.0", sequence })]);
  });
});
