/**
 * Fault injection at every storage call of publish, dist-tag and token operations.
 *
 * How: the app is built with stores wrapped around the real ones (createApp's factories):
 *   meta    a Proxy over d1MetaStore that records each MetaStore method call and can reject the Nth
 *           call of a method;
 *   D1      the D1Database given to d1MetaStore is a Proxy whose `batch` can replace statement k of
 *           the Nth batch by one that fails inside D1 (so the batch's other statements must roll back),
 *           and whose single statements (run/all/first/raw) can fail inside D1 the same way;
 *   blobs   a Proxy over r2BlobStore that can reject the Nth call before it reaches R2, after R2 has
 *           stored the bytes, or hand R2 a body stream that errors after 1, size/2 or size-1 bytes.
 * Each operation runs once, successfully, through recording wrappers; every recorded call (and every
 * statement of every recorded batch, and every single D1 statement) then becomes a fault point, so a
 * new storage call is covered without editing this file. For each point: the response is a JSON 5xx
 * with a generic code and no secret or storage detail, the stored and served state is exactly as
 * before (no sequence number taken, no version without its blob), and the same request succeeds once
 * the fault is removed.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBase64, toHex } from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import { blobKey, r2BlobStore, type BlobStore } from "../../src/worker/storage/blobs.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import type { MetaStore, PublishContext } from "../../src/worker/storage/meta.js";
import { encodeName, newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { ADMIN_TOKEN, call, enrol, logSequences, ORIGIN, packagePath, publishParts, record, seen, SIGNING_KEY } from "./helpers.js";

/** In every injected error, so a test can tell it never reaches a client. */
const INJECTED = "INJECTED-FAULT-7f3a: SQLITE_BUSY at /srv/secret/path";
const FAILING_TABLE = "countersign_injected_fault";

type FaultPoint =
  | { layer: "meta"; method: string; nth: number }
  | { layer: "d1"; batch: number; statement: number; sql: string }
  | { layer: "d1"; exec: number; sql: string }
  | { layer: "blobs"; method: string; nth: number; mode: "reject" | "reject-after-write" }
  | { layer: "blobs"; method: "put"; nth: number; mode: "mid-stream"; afterBytes: number };

function describePoint(p: FaultPoint): string {
  if (p.layer === "meta") return `meta.${p.method}#${p.nth}`;
  if (p.layer === "d1") return "exec" in p ? `d1.exec#${p.exec} (${p.sql})` : `d1.batch#${p.batch}[${p.statement}] (${p.sql})`;
  if (p.mode === "mid-stream") return `blobs.${p.method}#${p.nth} body errors after ${p.afterBytes} bytes`;
  return `blobs.${p.method}#${p.nth} ${p.mode}`;
}

/** The statements of recording a metadata serial (storage/d1.ts `metadataSources`, `recordMetadata`). */
const RECORDING_METADATA = /^(INSERT INTO metadata_records|SELECT s\.name, s\.serial, m\.sequence AS recorded)/;

/** What a recording run saw, in order. */
interface Recording {
  calls: { layer: "meta" | "blobs"; method: string; nth: number; size?: number }[];
  /** `failed`: the batch failed on its own (a commit that lost the race for its sequence number). */
  /** `metadataLog`: the batch records a package's metadata serial, or reads it for that (metadata-log.ts). */
  batches: { nth: number; sql: string[]; failed: boolean; metadataLog: boolean }[];
  execs: { nth: number; sql: string }[];
}

interface InjectorOptions {
  /**
   * publishContext reports one less than the highest committed sequence number, as if another
   * publish had committed between this one's read and its commit: the commit then loses the race
   * for its number, reads the highest again, countersigns again and commits.
   */
  staleSequence?: boolean;
}

const sqlOf = (statement: unknown) => String((statement as { statement?: unknown }).statement ?? "?").replace(/\s+/g, " ").trim().split(" ").slice(0, 3).join(" ");

/** A body that delivers `limit` bytes of `body`, then errors (and releases the rest). */
function failAfter(body: ReadableStream<Uint8Array>, limit: number): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent >= limit) {
        await reader.cancel().catch(() => undefined);
        controller.error(new Error(INJECTED));
        return;
      }
      const { done, value } = await reader.read();
      if (done) return controller.close();
      const take = Math.min(value.length, limit - sent);
      controller.enqueue(take === value.length ? value : value.slice(0, take));
      sent += take;
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** Store factories that record every call and inject `fault`, if any. */
function injector(fault: FaultPoint | null, options: InjectorOptions = {}) {
  const recording: Recording = { calls: [], batches: [], execs: [] };
  const counts = new Map<string, number>();
  const count = (key: string) => {
    const n = (counts.get(key) ?? 0) + 1;
    counts.set(key, n);
    return n;
  };
  let triggered = false;
  const fire = () => {
    triggered = true;
    return new Error(INJECTED);
  };

  /** Runs D1 work in which a statement may have been replaced by a failing one; marks the fault as reached only if D1 really ran it. */
  const reaching = async <T,>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (err) {
      if (String(err).includes(FAILING_TABLE)) triggered = true;
      throw err;
    }
  };

  const wrapDb = (db: D1Database): D1Database => {
    const unwrapped = new WeakMap<object, D1PreparedStatement>();
    const failing = () => db.prepare(`SELECT broken FROM ${FAILING_TABLE}`);
    const wrapStatement = (statement: D1PreparedStatement): D1PreparedStatement => {
      const proxy = new Proxy(statement, {
        get(target, prop) {
          if (prop === "bind") return (...values: unknown[]) => wrapStatement(target.bind(...values));
          const value = Reflect.get(target, prop) as unknown;
          if (typeof value !== "function") return value;
          if (prop !== "run" && prop !== "all" && prop !== "first" && prop !== "raw") return (value as (...a: unknown[]) => unknown).bind(target);
          return async (...args: unknown[]) => {
            const nth = count("d1.exec");
            recording.execs.push({ nth, sql: sqlOf(target) });
            if (fault?.layer === "d1" && "exec" in fault && fault.exec === nth) await reaching(() => failing().all());
            return (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          };
        },
      });
      unwrapped.set(proxy, statement);
      return proxy;
    };
    return new Proxy(db, {
      get(target, prop) {
        if (prop === "prepare") return (sql: string) => wrapStatement(target.prepare(sql));
        if (prop === "batch") {
          return async (wrapped: D1PreparedStatement[]) => {
            const statements = wrapped.map((st) => unwrapped.get(st) ?? st);
            const nth = count("d1.batch");
            const entry = { nth, sql: statements.map(sqlOf), failed: false, metadataLog: statements.some((st) => RECORDING_METADATA.test(String((st as { statement?: unknown }).statement).replace(/\s+/g, " ").trim())) };
            recording.batches.push(entry);
            if (fault?.layer === "d1" && "batch" in fault && fault.batch === nth && fault.statement < statements.length) {
              const replaced = [...statements];
              replaced[fault.statement] = failing();
              return reaching(() => target.batch(replaced));
            }
            try {
              return await target.batch(statements);
            } catch (err) {
              entry.failed = true;
              throw err;
            }
          };
        }
        const value = Reflect.get(target, prop) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };

  const wrapMeta = (meta: MetaStore): MetaStore =>
    new Proxy(meta, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== "function" || typeof prop !== "string") return value;
        return async (...args: unknown[]) => {
          const nth = count(`meta.${prop}`);
          recording.calls.push({ layer: "meta", method: prop, nth });
          if (fault?.layer === "meta" && fault.method === prop && fault.nth === nth) throw fire();
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (prop === "publishContext" && options.staleSequence) {
            const context = result as PublishContext;
            expect(context.lastSequence, "a stale read needs a committed version").toBeGreaterThan(0);
            return { ...context, lastSequence: context.lastSequence - 1 };
          }
          return result;
        };
      },
    });

  const wrapBlobs = (blobs: BlobStore): BlobStore =>
    new Proxy(blobs, {
      get(target, prop) {
        const value = Reflect.get(target, prop) as unknown;
        if (typeof value !== "function" || typeof prop !== "string") return value;
        return async (...args: unknown[]) => {
          const nth = count(`blobs.${prop}`);
          recording.calls.push({ layer: "blobs", method: prop, nth, ...(prop === "put" ? { size: args[2] as number } : {}) });
          const here = fault?.layer === "blobs" && fault.method === prop && fault.nth === nth ? fault : null;
          if (here?.mode === "reject") throw fire();
          if (here?.mode === "mid-stream") {
            triggered = true;
            args = [args[0], failAfter(args[1] as ReadableStream<Uint8Array>, here.afterBytes), args[2]];
          }
          const result = await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
          if (here?.mode === "reject-after-write") throw fire();
          return result;
        };
      },
    });

  const app = createApp({ meta: (e) => wrapMeta(d1MetaStore(wrapDb(e.DB))), blobs: (e) => wrapBlobs(r2BlobStore(e.ARTIFACTS)) });
  return { app, recording, triggered: () => triggered };
}

/** Every fault point of a recorded successful run. */
function faultPoints(recording: Recording): FaultPoint[] {
  const points: FaultPoint[] = [];
  for (const c of recording.calls) {
    if (c.layer === "meta") points.push({ layer: "meta", method: c.method, nth: c.nth });
    else {
      points.push({ layer: "blobs", method: c.method, nth: c.nth, mode: "reject" });
      points.push({ layer: "blobs", method: c.method, nth: c.nth, mode: "reject-after-write" });
      if (c.method === "put" && c.size !== undefined) {
        for (const afterBytes of new Set([0, 1, Math.floor(c.size / 2), c.size - 1])) points.push({ layer: "blobs", method: "put", nth: c.nth, mode: "mid-stream", afterBytes });
      }
    }
  }
  for (const b of recording.batches) b.sql.forEach((sql, statement) => points.push({ layer: "d1", batch: b.nth, statement, sql }));
  for (const e of recording.execs) points.push({ layer: "d1", exec: e.nth, sql: e.sql });
  return points;
}

/**
 * A fault after the commit point, in recording the package's new metadata serial in the log
 * (src/worker/metadata-log.ts `recordChange`): best effort by design. The change stands and is
 * answered as done; the first read that serves the serial records it.
 */
const deferred = (point: FaultPoint, recording: Recording) =>
  (point.layer === "meta" && (point.method === "metadataSources" || point.method === "recordMetadata")) ||
  (point.layer === "d1" && "batch" in point && recording.batches.some((b) => b.nth === point.batch && b.metadataLog));

/** The package's current serial is a log entry once something has read it (metadata-log.ts). */
async function expectCurrentSerialRecorded(name: string, label: string) {
  expect((await call("GET", packagePath(name), { token: aliceToken })).status, `${label}: read`).toBe(200);
  const row = await env.DB.prepare("SELECT m.sequence FROM package_serials s JOIN metadata_records m ON m.name = s.name AND m.serial = s.serial WHERE s.name = ?").bind(name).first();
  expect(row, `${label}: the current serial is recorded`).not.toBeNull();
}

/**
 * A fault in a statement that never runs: a later statement of a batch that fails on its own, as
 * recorded (the first commit of a publish that lost the race for its sequence number).
 */
const shadowed = (point: FaultPoint, recording: Recording) =>
  point.layer === "d1" && "batch" in point && point.statement > 0 && recording.batches.some((b) => b.nth === point.batch && b.failed);

async function send(app: ReturnType<typeof createApp>, method: string, path: string, init: { body?: BodyInit; headers?: Record<string, string> } = {}): Promise<Response> {
  const ctx = createExecutionContext();
  const res = await app.fetch(new Request(`${ORIGIN}${path}`, { method, ...init }), env, ctx);
  await waitOnExecutionContext(ctx);
  return record(res);
}

const clean = createApp();
const NAME = "@faults/pkg";
const SECRETS = [SIGNING_KEY, toHex(fromBase64(SIGNING_KEY)!), ADMIN_TOKEN];
let alice: Publisher;
let aliceToken: string;

beforeAll(async () => {
  alice = await newPublisher();
  aliceToken = await enrol("@faults", alice);
  expect((await publishParts(NAME, "1.0.0", await signedParts(alice, NAME, "1.0.0", artifact("1.0.0")), aliceToken)).status).toBe(201);
});

/** 48 KiB, distinct per version: several stream chunks, so a mid-stream fault is really mid-stream. */
function artifact(seed: string): Uint8Array {
  const bytes = new Uint8Array(48 * 1024);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + seed.charCodeAt(i % seed.length)) & 0xff;
  return bytes;
}

/** Everything stored and what is served of package `name`. */
async function snapshot(name: string): Promise<unknown> {
  const tables: Record<string, string[]> = {};
  for (const table of ["namespaces", "publisher_keys", "versions", "dist_tags", "tokens", "reviews", "registry_statements", "package_serials"]) {
    const { results } = await env.DB.prepare(`SELECT * FROM ${table}`).all();
    tables[table] = results.map((r) => JSON.stringify(r)).sort();
  }
  const served = async (path: string, token: string) => {
    const res = await call("GET", path, { token });
    return { status: res.status, body: await res.text() };
  };
  return {
    tables,
    packument: await served(packagePath(name), aliceToken),
    npmPackument: await served(`/${encodeName(name)}`, aliceToken),
    distTags: await served(`/-/package/${encodeName(name)}/dist-tags`, aliceToken),
    tokens: await served("/-/countersign/v1/admin/tokens", ADMIN_TOKEN),
  };
}

/**
 * What must hold after every request, failed or not: sequence numbers are consecutive (a failed
 * publish took none), and every version's bytes are in R2, complete.
 */
async function expectConsistent(label: string) {
  const { results } = await env.DB.prepare("SELECT name, version, sequence, sha512, size FROM versions ORDER BY sequence").all<{ name: string; version: string; sequence: number; sha512: string; size: number }>();
  // Versions and registry statements (namespace claims, enrolments) share one sequence.
  const numbers = { results: (await logSequences()).map((sequence) => ({ sequence })) };
  expect(
    numbers.results.map((r) => r.sequence),
    `${label}: sequence numbers`,
  ).toEqual(numbers.results.map((_, i) => i + 1));
  const stored = new Map<string, number>();
  let listed: R2Objects | undefined;
  do {
    listed = await env.ARTIFACTS.list({ prefix: blobKey(""), ...(listed?.truncated ? { cursor: listed.cursor } : {}) });
    for (const object of listed.objects) stored.set(object.key, object.size);
  } while (listed.truncated);
  for (const row of results) expect(stored.get(blobKey(row.sha512)), `${label}: the blob of ${row.name}@${row.version}`).toBe(row.size);
}

/** A JSON 5xx with a generic code: no stack, no storage message, no secret, no token. */
async function expectCleanFailure(res: Response, label: string, style: "countersign" | "npm", extraSecrets: string[] = []) {
  const text = await res.clone().text();
  expect(res.status, `${label}: status, body ${text.slice(0, 300)}`).toBeGreaterThanOrEqual(500);
  expect(res.headers.get("content-type"), `${label}: content-type`).toMatch(/^application\/json/);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new Error(`${label}: the error body is not JSON: ${text.slice(0, 300)}`);
  }
  const error = style === "npm" ? { code: body.code, message: body.error } : (body.error as { code: unknown; message: unknown });
  if (res.status === 503) expect(error, label).toMatchObject({ code: "storage_unavailable" });
  else expect({ status: res.status, ...error }, label).toEqual({ status: 500, code: "internal_error", message: "internal error" });
  for (const secret of [...SECRETS, ...extraSecrets, "INJECTED-FAULT", "/srv/secret", FAILING_TABLE, "SQLITE", "D1_ERROR", "    at "]) {
    expect(`${JSON.stringify([...res.headers])}${text}`, `${label}: leaks ${secret.slice(0, 12)}`).not.toContain(secret);
  }
  expect(text, `${label}: a bearer token in the body`).not.toMatch(/cs_[A-Za-z0-9_-]{20,}/);
}

/**
 * One operation under every fault point: `attempt(i)` prepares a fresh instance (any setup through
 * the clean app) and returns how to send it and check that it took effect.
 */
interface Attempt {
  send(app: ReturnType<typeof createApp>): Promise<Response>;
  succeeded(res: Response): Promise<void>;
  /** Extra checks after a failed attempt, beyond the snapshot. */
  unchanged?(label: string): Promise<void>;
  /** The package whose served documents the snapshot compares (default: NAME). */
  name?: string;
  secrets?: string[];
}

async function underEveryFault(
  style: "countersign" | "npm",
  attempt: (i: number) => Promise<Attempt>,
  expected: string[],
  options: InjectorOptions & { only?: RegExp } = {},
): Promise<string[]> {
  const recorder = injector(null, options);
  const first = await attempt(0);
  await first.succeeded(await first.send(recorder.app));
  const points = faultPoints(recorder.recording).filter((p) => !options.only || options.only.test(describePoint(p)));
  const labels = points.map(describePoint);
  // The enumeration found (at least) the calls this operation is known to make.
  for (const call of expected) expect(labels.some((l) => l.startsWith(call)), `recorded ${labels.join(", ")}; expected ${call}`).toBe(true);

  for (const [i, point] of points.entries()) {
    const label = describePoint(point);
    const op = await attempt(i + 1);
    const before = await snapshot(op.name ?? NAME);
    const faulty = injector(point, options);
    const res = await op.send(faulty.app);
    if (shadowed(point, recorder.recording)) {
      // Never reached: the request goes on exactly as recorded.
      expect(faulty.triggered(), `${label}: a statement after one that fails on its own`).toBe(false);
      await op.succeeded(res);
      await expectConsistent(label);
      continue;
    }
    expect(faulty.triggered(), `${label}: the fault point was reached`).toBe(true);
    if (deferred(point, recorder.recording)) {
      await op.succeeded(res);
      await expectConsistent(label);
      await expectCurrentSerialRecorded(op.name ?? NAME, label);
      continue;
    }
    await expectCleanFailure(res, label, style, op.secrets);
    expect(await snapshot(op.name ?? NAME), `${label}: state after the failed call`).toEqual(before);
    await expectConsistent(label);
    await op.unchanged?.(label);
    await op.succeeded(await op.send(clean));
    await expectConsistent(`${label}, then a retry`);
  }
  return labels;
}

const covered: Record<string, string[]> = {};

describe("faults at every storage call", () => {
  const publishes = [
    { title: "native publish (tag latest)", tag: "latest", minor: 1, options: {} },
    { title: "native publish (tag beta)", tag: "beta", minor: 2, options: {} },
    // The calls before the commit are those of the first test: here, the commit path only.
    { title: "native publish that loses the race for its sequence number", tag: "latest", minor: 3, options: { staleSequence: true, only: /^(meta\.(commitVersion|lastSequence)|d1\.batch#[23]|d1\.exec)/ } },
  ];
  for (const { title, tag, minor, options } of publishes) {
    it(`${title}: no half-visible version, no sequence number taken, a retry succeeds`, async () => {
      const race = options.staleSequence === true;
      // A package per test, so that what the snapshots serve stays small.
      const name = `${NAME}-${minor}`;
      covered[title] = await underEveryFault(
        "countersign",
        async (i) => {
          const version = `1.${minor}.${i}`;
          const bytes = artifact(version);
          const body = await uploadBody(await signedParts(alice, name, version, bytes));
          const sha512 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-512", bytes)));
          const path = `${packagePath(name, version)}?tag=${tag}`;
          return {
            name,
            send: (app) => send(app, "PUT", path, { body, headers: { authorization: `Bearer ${aliceToken}`, "content-type": "application/x-tar" } }),
            async succeeded(res) {
              expect(res.status, `publish ${version}: ${await res.clone().text()}`).toBe(201);
              // The next number: whatever failed before took none (expectConsistent checks the rest).
              const { sequence } = (await res.clone().json()) as { sequence: number };
              const last = await env.DB.prepare("SELECT MAX(sequence) AS last FROM versions").first<{ last: number }>();
              expect(sequence, `publish ${version}: sequence`).toBe(last!.last);
              expect((await call("GET", packagePath(name, version), { token: aliceToken })).status).toBe(200);
              const served = await call("GET", `${packagePath(name, version)}/artifact`, { token: aliceToken });
              expect(new Uint8Array(await served.arrayBuffer())).toEqual(bytes);
            },
            async unchanged(label) {
              expect((await call("GET", packagePath(name, version), { token: aliceToken })).status, `${label}: version visible`).toBe(404);
              // An unreferenced blob may stay behind, but only ever the complete, signed bytes.
              const object = await env.ARTIFACTS.get(blobKey(sha512));
              if (object) expect(new Uint8Array(await object.arrayBuffer()), `${label}: partial blob`).toEqual(bytes);
            },
            secrets: [aliceToken],
          };
        },
        race
          ? [
              "meta.commitVersion#1",
              "meta.lastSequence#1",
              "meta.commitVersion#2",
              "d1.batch#2[0] (INSERT INTO versions",
              "d1.batch#2[1] (INSERT INTO dist_tags",
              "d1.exec#1 (SELECT max((SELECT COALESCE",
              "d1.batch#3[0] (INSERT INTO versions",
              "d1.batch#3[1] (INSERT INTO dist_tags",
            ]
          : [
              "meta.publishContext",
              "blobs.put#1 reject",
              "blobs.put#1 reject-after-write",
              "blobs.put#1 body errors after 0 bytes",
              "blobs.put#1 body errors after 1 bytes",
              `blobs.put#1 body errors after ${24 * 1024} bytes`,
              `blobs.put#1 body errors after ${48 * 1024 - 1} bytes`,
              "meta.commitVersion#1",
              // The reads before the commit, one by one, then each statement of the commit batch.
              ...["SELECT id, scope,", "SELECT 1 AS", "SELECT * FROM", "SELECT 1 AS", "SELECT version FROM", "SELECT max((SELECT COALESCE"].map((sql, i) => `d1.batch#1[${i}] (${sql}`),
              "d1.batch#2[0] (INSERT INTO versions",
              tag === "latest" ? "d1.batch#2[1] (INSERT INTO dist_tags" : "d1.batch#2[1]",
            ],
        options,
      );
    }, 60_000);
  }

  const tagsPath = (tag: string) => `/-/package/${encodeName(NAME)}/dist-tags/${tag}`;
  const tags = async () => (await (await call("GET", `/-/package/${encodeName(NAME)}/dist-tags`, { token: aliceToken })).json()) as Record<string, string>;

  it("dist-tag set (npm route): the tag does not move, a retry sets it", async () => {
    covered["dist-tag set"] = await underEveryFault(
      "npm",
      async () => {
        await send(clean, "DELETE", tagsPath("stable"), { headers: { authorization: `Bearer ${aliceToken}` } });
        return {
          send: (app) => send(app, "PUT", tagsPath("stable"), { body: '"1.0.0"', headers: { authorization: `Bearer ${aliceToken}`, "content-type": "application/json" } }),
          async succeeded(res) {
            expect(res.status).toBe(201);
            expect((await tags()).stable).toBe("1.0.0");
          },
          secrets: [aliceToken],
        };
      },
      ["meta.findToken", "meta.setTag"],
    );
  }, 30_000);

  it("dist-tag delete (npm route): the tag stays, a retry removes it", async () => {
    covered["dist-tag delete"] = await underEveryFault(
      "npm",
      async () => {
        expect((await send(clean, "PUT", tagsPath("stable"), { body: '"1.0.0"', headers: { authorization: `Bearer ${aliceToken}` } })).status).toBe(201);
        return {
          send: (app) => send(app, "DELETE", tagsPath("stable"), { headers: { authorization: `Bearer ${aliceToken}` } }),
          async succeeded(res) {
            expect(res.status).toBe(200);
            expect((await tags()).stable).toBeUndefined();
          },
          secrets: [aliceToken],
        };
      },
      ["meta.findToken", "meta.deleteTag"],
    );
  }, 30_000);

  const adminHeaders = { authorization: `Bearer ${ADMIN_TOKEN}`, "content-type": "application/json" };
  const whoami = (token: string) => call("GET", "/-/whoami", { token });

  it("token create (admin API): no token stored or shown, a retry creates one", async () => {
    covered["token create"] = await underEveryFault(
      "countersign",
      async (i) => ({
        send: (app) => send(app, "POST", "/-/countersign/v1/admin/tokens", { body: JSON.stringify({ scope: "read", label: `fault-${i}` }), headers: adminHeaders }),
        async succeeded(res) {
          expect(res.status).toBe(201);
          const { token } = (await res.json()) as { token: string };
          expect((await whoami(token)).status).toBe(200);
        },
      }),
      ["meta.createToken"],
    );
  }, 30_000);

  // Enrolments and revocations are registry statements (PROTOCOL §20): the key row and its signed,
  // sequenced statement are one batch, so a fault leaves neither.
  const keysOf = async (namespace: string) =>
    ((await (await send(clean, "GET", `/-/countersign/v1/admin/namespaces/${encodeURIComponent(namespace)}/keys`, { headers: adminHeaders })).json()) as { keys: { keyid: string; revokedAt: string | null }[] }).keys;

  it("key enrol (admin API): no key and no statement, a retry enrols it", async () => {
    covered["key enrol"] = await underEveryFault(
      "countersign",
      async () => {
        const key = await newPublisher();
        return {
          send: (app) => send(app, "POST", "/-/countersign/v1/admin/namespaces/@faults/keys", { body: JSON.stringify({ publicKey: key.publicKey, label: "fault" }), headers: adminHeaders }),
          async succeeded(res) {
            expect(res.status, await res.clone().text()).toBe(201);
            expect((await keysOf("@faults")).some((k) => k.keyid === key.key.keyid && k.revokedAt === null)).toBe(true);
          },
          async unchanged(label) {
            expect((await keysOf("@faults")).some((k) => k.keyid === key.key.keyid), `${label}: key enrolled`).toBe(false);
          },
        };
      },
      ["meta.statementContext", "meta.enrolKey"],
    );
  }, 30_000);

  it("key revoke (admin API): the key stays active and no statement is logged, a retry revokes it", async () => {
    covered["key revoke"] = await underEveryFault(
      "countersign",
      async () => {
        const key = await newPublisher();
        expect((await send(clean, "POST", "/-/countersign/v1/admin/namespaces/@faults/keys", { body: JSON.stringify({ publicKey: key.publicKey }), headers: adminHeaders })).status).toBe(201);
        return {
          send: (app) => send(app, "DELETE", `/-/countersign/v1/admin/namespaces/@faults/keys/${encodeURIComponent(key.key.keyid)}?since=1`, { headers: adminHeaders }),
          async succeeded(res) {
            expect(res.status, await res.clone().text()).toBe(200);
            expect((await keysOf("@faults")).find((k) => k.keyid === key.key.keyid)?.revokedAt).not.toBeNull();
          },
          async unchanged(label) {
            expect((await keysOf("@faults")).find((k) => k.keyid === key.key.keyid)?.revokedAt, `${label}: key revoked`).toBeNull();
          },
        };
      },
      ["meta.statementContext", "meta.revokeKey"],
    );
  }, 30_000);

  it("token revoke (admin API): the token keeps working, a retry revokes it", async () => {
    covered["token revoke"] = await underEveryFault(
      "countersign",
      async (i) => {
        const created = await send(clean, "POST", "/-/countersign/v1/admin/tokens", { body: JSON.stringify({ scope: "publish", namespaces: ["@faults"], label: `revoke-${i}` }), headers: adminHeaders });
        const { id, token } = (await created.json()) as { id: string; token: string };
        return {
          send: (app) => send(app, "DELETE", `/-/countersign/v1/admin/tokens/${id}`, { headers: adminHeaders }),
          async succeeded(res) {
            expect(res.status).toBe(200);
            expect((await whoami(token)).status).toBe(401);
          },
          async unchanged(label) {
            expect((await whoami(token)).status, `${label}: token still valid`).toBe(200);
          },
          secrets: [token],
        };
      },
      ["meta.revokeToken"],
    );
  }, 30_000);
});

afterAll(() => {
  console.log(`fault points covered:\n${Object.entries(covered).map(([op, labels]) => `  ${op}: ${labels.join("; ")}`).join("\n")}`);
  for (const response of seen) for (const secret of SECRETS) expect(`${response.headers}${response.body}`).not.toContain(secret);
});
