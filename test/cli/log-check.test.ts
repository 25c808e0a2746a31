/**
 * The client's transparency-log check (scripts/cli/log/), against a fake log server
 * (test/helpers/fake-log.ts): inclusion by a bundle's tlog-proof and from the log's tiles, the
 * stored checkpoint and the consistent view, and every way it must fail closed: a proof for
 * another entry or index (not_in_log), a log that forks or is rewritten under a stored
 * checkpoint (split_view naming both checkpoints), a checkpoint signed by another key
 * (bad_checkpoint), tiles that do not match (bad_tiles), a log that is down (an outage, never a
 * pass).
 */

import { mkdtempSync, readFileSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import "../../scripts/cli/native-ed25519.js";
import { fromBase64, gapEntry, toBase64, type Bundle, type Signer } from "../../src/core/index.js";
import { bundleLogItem, checkLog, checkProof, type LogItem } from "../../scripts/cli/log/check.js";
import { LogReader } from "../../scripts/cli/log/reader.js";
import { checkpointPath, checkpointStore, fingerprintFileName, LOG_STATE_DIR_ENV, logStateDir } from "../../scripts/cli/log/store.js";
import { LogTree, publisherKey, registryKey, startFakeLog, withProof, type FakeLogServer } from "../helpers/fake-log.js";

let server: FakeLogServer;
let registry: Signer;
let publisher: Signer;

beforeAll(async () => {
  server = await startFakeLog();
  registry = await registryKey();
  publisher = await publisherKey();
});
afterAll(() => server.close());

const freshStore = () => checkpointStore(mkdtempSync(join(tmpdir(), "cs-log-")));
const reader = async (base = server.url) => {
  const made = await LogReader.create({ base, registryOrigin: base, publicKey: registry.publicKey });
  if (!made.ok) throw new Error(made.error);
  return made.value;
};
const item = (bundle: unknown, sequence: number, label = `pkg@${sequence}`): LogItem => bundleLogItem(bundle, sequence, label);

/** A tree with genesis, `count` publications of @acme packages and `filler` gap entries after each. */
async function tree(count: number, filler = 0): Promise<{ tree: LogTree; published: { bundle: Bundle; index: number }[] }> {
  const t = new LogTree(server.url, registry);
  await t.genesis();
  const published: { bundle: Bundle; index: number }[] = [];
  for (let i = 0; i < count; i++) {
    published.push(await t.publish(`@acme/pkg-${i}`, "1.0.0", publisher));
    for (let f = 0; f < filler; f++) await t.append(gapEntry(t.size));
  }
  return { tree: t, published };
}

describe("store", () => {
  it("names files by the hex of the fingerprint's digest, under checkpoints/ of the state directory", () => {
    const name = fingerprintFileName(registry.keyid);
    expect(name).toMatch(/^sha256-[0-9a-f]{64}$/);
    expect(toBase64(Buffer.from(name.slice(7), "hex")).replace(/=$/, "")).toBe(registry.keyid.slice(7));
    const before = process.env[LOG_STATE_DIR_ENV];
    process.env[LOG_STATE_DIR_ENV] = "/tmp/somewhere";
    try {
      expect(logStateDir()).toBe("/tmp/somewhere");
      expect(checkpointPath(registry.keyid)).toBe(`/tmp/somewhere/checkpoints/${name}`);
    } finally {
      if (before === undefined) delete process.env[LOG_STATE_DIR_ENV];
      else process.env[LOG_STATE_DIR_ENV] = before;
    }
    expect(() => fingerprintFileName("../../etc/passwd")).toThrow(/not a key fingerprint/);
  });

  it("writes atomically, mode 0600, and reads back the note text verbatim", () => {
    const store = freshStore();
    expect(store.read(registry.keyid)).toBeUndefined();
    store.write(registry.keyid, "a\n");
    store.write(registry.keyid, "b\n");
    expect(store.read(registry.keyid)).toBe("b\n");
    expect(statSync(store.path(registry.keyid)).mode & 0o777).toBe(0o600);
  });
});

describe("inclusion", () => {
  it("by the bundle's tlog-proof: verified, the checkpoint stored, no tile fetched", async () => {
    const { tree: t, published } = await tree(5);
    await server.serve(t);
    const checkpoint = await t.checkpoint();
    const items = await Promise.all(published.map(async (p) => item(withProof(p.bundle, await t.tlogProof(p.index, t.size, checkpoint)), p.index)));
    const store = freshStore();
    server.requests.length = 0;
    const result = await checkLog(await reader(), registry.keyid, store, items);
    expect(result.group).toBeUndefined();
    expect(result.items.every((o) => o?.ok && o.via === "tlog-proof")).toBe(true);
    expect(store.read(registry.keyid)).toBe(checkpoint);
    expect(server.requests).toEqual(["/-/countersign/v1/log/checkpoint"]);
  });

  it("from the tiles when the bundle has no tlog-proof (a tree of several tiles)", async () => {
    const { tree: t, published } = await tree(4, 100); // ~405 entries: two level-0 tiles and a partial one
    await server.serve(t);
    const result = await checkLog(await reader(), registry.keyid, freshStore(), published.map((p) => item(p.bundle, p.index)));
    expect(result.group).toBeUndefined();
    expect(result.items.map((o) => o?.ok && o.via)).toEqual(["tiles", "tiles", "tiles", "tiles"]);
    expect(server.requests.some((r) => r.includes("/tile/0/"))).toBe(true);
  });

  it("proofs against older checkpoints: each proved consistent with the log's current one", async () => {
    const { tree: t, published } = await tree(6);
    const items: LogItem[] = [];
    for (const p of published) items.push(item(withProof(p.bundle, await t.tlogProof(p.index, p.index + 1)), p.index));
    await t.append(gapEntry(t.size));
    await server.serve(t);
    const store = freshStore();
    const result = await checkLog(await reader(), registry.keyid, store, items);
    expect(result.group).toBeUndefined();
    expect(result.items.every((o) => o?.ok)).toBe(true);
    expect(result.stored?.size).toBe(t.size);
  });

  it("a checkpoint proved a prefix of the stored one is remembered with it: the next run fetches no tiles for it", async () => {
    const { tree: t, published } = await tree(6);
    const items: LogItem[] = [];
    for (const p of published) items.push(item(withProof(p.bundle, await t.tlogProof(p.index, p.index + 1)), p.index));
    for (let i = 0; i < 300; i++) await t.append(gapEntry(t.size));
    await server.serve(t);
    const store = freshStore();
    server.requests.length = 0;
    expect((await checkLog(await reader(), registry.keyid, store, items)).group).toBeUndefined();
    expect(server.requests.filter((r) => r.includes("/tile/")).length).toBeGreaterThan(0);
    server.requests.length = 0;
    expect((await checkLog(await reader(), registry.keyid, store, items)).group).toBeUndefined();
    expect(server.requests).toEqual(["/-/countersign/v1/log/checkpoint"]);
    // Bound to the stored checkpoint's exact text: another stored checkpoint, and they are proved again.
    const grown = await t.checkpoint(t.size - 1);
    store.write(registry.keyid, grown);
    server.requests.length = 0;
    expect((await checkLog(await reader(), registry.keyid, store, items)).group).toBeUndefined();
    expect(server.requests.filter((r) => r.includes("/tile/")).length).toBeGreaterThan(0);
  });

  it("a proof for another entry, for another index, or beyond its checkpoint: not_in_log", async () => {
    const { tree: t, published } = await tree(4);
    await server.serve(t);
    const [a, b] = published as [{ bundle: Bundle; index: number }, { bundle: Bundle; index: number }];
    const cases: [string, LogItem][] = [
      ["b's proof on a's bundle (same index claimed)", item(withProof(a.bundle, (await t.tlogProof(b.index)).replace(`index ${b.index}\n`, `index ${a.index}\n`)), a.index)],
      ["b's proof on a's bundle", item(withProof(a.bundle, await t.tlogProof(b.index)), a.index)],
      ["a's proof with the index of b", item(withProof(a.bundle, (await t.tlogProof(a.index)).replace(`index ${a.index}\n`, `index ${b.index}\n`)), a.index)],
      ["a bundle whose sequence is not its entry's index", item(withProof(a.bundle, await t.tlogProof(a.index)), b.index)],
      ["garbage", item(withProof(a.bundle, "not a proof"), a.index)],
      // A field of another type (what a mirror or a newer registry might send) is not skipped.
      ["a number", item({ ...a.bundle, tlogProof: 42 } as unknown as Bundle, a.index)],
      ["an object", item({ ...a.bundle, tlogProof: { index: a.index } } as unknown as Bundle, a.index)],
      ["an empty string", item(withProof(a.bundle, ""), a.index)],
    ];
    for (const [label, it] of cases) {
      const result = await checkLog(await reader(), registry.keyid, freshStore(), [it]);
      expect(result.items[0], label).toMatchObject({ ok: false, problem: { code: "not_in_log" } });
    }
  });

  it("an entry the log does not have (beyond its size, or another entry there): not_in_log from the tiles", async () => {
    const { tree: t, published } = await tree(3);
    await server.serve(t, t.size - 1);
    const last = published[2]!;
    let result = await checkLog(await reader(), registry.keyid, freshStore(), [item(last.bundle, last.index)]);
    expect(result.items[0]).toMatchObject({ ok: false, problem: { code: "not_in_log", actual: `the log's size is ${t.size - 1}` } });
    await server.serve(t);
    result = await checkLog(await reader(), registry.keyid, freshStore(), [item(last.bundle, published[1]!.index)]);
    expect(result.items[0]).toMatchObject({ ok: false, problem: { code: "not_in_log" } });
  });

  it("any changed byte of the tlog-proof or of the entry fails (fast-check)", async () => {
    const { tree: t, published } = await tree(5, 3);
    await server.serve(t);
    const p = published[3]!;
    const proof = await t.tlogProof(p.index);
    const r = await reader();
    const leafOf = async (bundle: Bundle) => (await import("../../src/core/index.js")).leafHash(fromBase64(bundle.countersignature.payload)!);
    const seen = new Map();
    expect((await checkProof(r, item(p.bundle, p.index), proof, await leafOf(p.bundle), seen)).ok).toBe(true);
    expect(Buffer.from(proof, "utf8").toString("utf8")).toBe(proof);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: Buffer.byteLength(proof) - 1 }), fc.integer({ min: 1, max: 255 }), async (at, delta) => {
        const bytes = Buffer.from(proof, "utf8");
        bytes[at] = (bytes[at]! + delta) % 256;
        const changed = bytes.toString("utf8");
        const outcome = await checkProof(r, item(p.bundle, p.index), changed, await leafOf(p.bundle), seen);
        expect(outcome.ok).toBe(false);
      }),
      { numRuns: 300 },
    );
    const payload = fromBase64(p.bundle.countersignature.payload)!;
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: payload.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, delta) => {
        const changed = Uint8Array.from(payload);
        changed[at] = (changed[at]! + delta) % 256;
        const bundle = { ...p.bundle, countersignature: { ...p.bundle.countersignature, payload: toBase64(changed) } };
        const outcome = await checkProof(r, item(bundle, p.index), proof, await leafOf(bundle), seen);
        expect(outcome).toMatchObject({ ok: false, problem: { code: "not_in_log" } });
      }),
      { numRuns: 200 },
    );
  });
});

describe("the consistent view", () => {
  it("a log that grows: consistent with the stored checkpoint, which advances", async () => {
    const { tree: t, published } = await tree(3);
    await server.serve(t);
    const store = freshStore();
    await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);
    const first = store.read(registry.keyid);
    for (let i = 0; i < 300; i++) await t.append(gapEntry(t.size));
    await server.serve(t);
    const result = await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);
    expect(result.group).toBeUndefined();
    expect(store.read(registry.keyid)).not.toBe(first);
    expect(store.read(registry.keyid)).toBe(await t.checkpoint());
  });

  it("a checkpoint behind the stored one (a cache serving an old one): proved a prefix of it, the stored one kept", async () => {
    const { tree: t, published } = await tree(4);
    await server.serve(t);
    const store = freshStore();
    await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);
    await server.serve(t, t.size - 2, undefined, t.size);
    const result = await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);
    expect(result.group).toBeUndefined();
    expect(store.read(registry.keyid)).toBe(await t.checkpoint());
  });

  it("a fork of the same size after the client stored a checkpoint: split_view naming both", async () => {
    const { tree: honest, published } = await tree(3);
    await server.serve(honest);
    const store = freshStore();
    await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);
    const stored = store.read(registry.keyid);

    const fork = new LogTree(server.url, registry);
    for (const entry of honest.entries.slice(0, 2)) await fork.append(entry);
    await fork.publish("@acme/evil", "6.6.6", publisher);
    await fork.publish("@acme/evil", "6.6.7", publisher);
    await server.serve(fork, honest.size);
    const result = await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);
    expect(result.group).toMatchObject({ kind: "rejected", problem: { code: "split_view" } });
    const message = (result.group as { problem: { message: string } }).problem.message;
    expect(message).toContain(`size ${honest.size} root ${toBase64(await honest.root())}`);
    expect(message).toContain(`size ${honest.size} root ${toBase64(await fork.root(honest.size))}`);
    expect(message).toMatch(/SPLIT VIEW/);
    expect(store.read(registry.keyid)).toBe(stored); // never stored on failure
  });

  it("a log rewritten under a stored checkpoint (a larger tree with another prefix): split_view naming both", async () => {
    const { tree: honest, published } = await tree(5);
    await server.serve(honest);
    const store = freshStore();
    await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);

    const rewritten = new LogTree(server.url, registry);
    for (const entry of honest.entries.slice(0, 3)) await rewritten.append(entry);
    await rewritten.append(gapEntry(3)); // the version at index 3 disappears
    for (let i = 0; i < 300; i++) await rewritten.append(gapEntry(rewritten.size));
    await server.serve(rewritten);
    const result = await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);
    expect(result.group).toMatchObject({ kind: "rejected", problem: { code: "split_view" } });
    const { message, expected, actual } = (result.group as { problem: { message: string; expected: string; actual: string } }).problem;
    expect(expected).toContain(`size ${honest.size} root ${toBase64(await honest.root())}`);
    expect(actual).toContain(`size ${rewritten.size} root ${toBase64(await rewritten.root())}`);
    expect(message).toContain(store.path(registry.keyid));
  });

  it("a bundle's tlog-proof checkpoint from a fork: split_view, though its own proof is fine", async () => {
    const { tree: honest, published } = await tree(3);
    const fork = new LogTree(server.url, registry);
    for (const entry of honest.entries.slice(0, 2)) await fork.append(entry);
    await fork.publish("@acme/evil", "1.0.0", publisher);
    await server.serve(honest);
    const bundle = withProof(published[0]!.bundle, await fork.tlogProof(1));
    const result = await checkLog(await reader(), registry.keyid, freshStore(), [item(bundle, 1, "@acme/pkg-0@1.0.0")]);
    expect(result.items[0]?.ok).toBe(true);
    expect(result.group).toMatchObject({ kind: "rejected", problem: { code: "split_view" } });
    expect((result.group as { problem: { message: string } }).problem.message).toContain("tlog-proof of @acme/pkg-0@1.0.0");
  });

  it("tiles that do not match the log's own checkpoint: bad_tiles, not a pass", async () => {
    const { tree: t, published } = await tree(3);
    await server.serve(t);
    const store = freshStore();
    await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);
    for (let i = 0; i < 10; i++) await t.append(gapEntry(t.size));
    await server.serve(t);
    server.tamper = (path, body) => (path.startsWith("tile/0/") ? body.map((b) => b ^ 1) : body);
    try {
      const result = await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);
      expect(result.group?.kind).toBe("rejected");
      expect(["bad_tiles", "split_view"]).toContain((result.group as { problem: { code: string } }).problem.code);
      expect((result.group as { problem: { code: string } }).problem.code).toBe("bad_tiles");
    } finally {
      server.tamper = undefined;
    }
  });
});

describe("checkpoints that do not open, and outages", () => {
  it("a checkpoint signed by another key: bad_checkpoint, nothing stored", async () => {
    const { tree: t, published } = await tree(2);
    const other = await registryKey().then(() => publisherKey(9));
    await server.serve(t, t.size, await t.checkpoint(t.size, other));
    const store = freshStore();
    const result = await checkLog(await reader(), registry.keyid, store, [item(withProof(published[0]!.bundle, await t.tlogProof(1)), 1)]);
    expect(result.group).toMatchObject({ kind: "rejected", problem: { code: "bad_checkpoint" } });
    expect(store.read(registry.keyid)).toBeUndefined();
  });

  it("a tlog-proof whose checkpoint is signed by another key, or for another origin: bad_checkpoint", async () => {
    const { tree: t, published } = await tree(2);
    await server.serve(t);
    const other = await publisherKey(9);
    const byOther = await t.tlogProof(1, t.size, await t.checkpoint(t.size, other));
    const otherOrigin = await t.tlogProof(1, t.size, await t.checkpoint(t.size, registry, "example.com/-/countersign/v1/log"));
    for (const proof of [byOther, otherOrigin]) {
      const result = await checkLog(await reader(), registry.keyid, freshStore(), [item(withProof(published[0]!.bundle, proof), 1)]);
      expect(result.items[0]).toMatchObject({ ok: false, problem: { code: "bad_checkpoint" } });
    }
  });

  it("a stored checkpoint someone edited: bad_checkpoint naming the file", async () => {
    const { tree: t, published } = await tree(2);
    await server.serve(t);
    const store = freshStore();
    store.write(registry.keyid, (await t.checkpoint()).replace(/\n(\d+)\n/, "\n1\n"));
    const result = await checkLog(await reader(), registry.keyid, store, [item(published[0]!.bundle, 1)]);
    expect(result.group).toMatchObject({ kind: "rejected", problem: { code: "bad_checkpoint" } });
    expect((result.group as { problem: { message: string } }).problem.message).toContain(store.path(registry.keyid));
  });

  it("a log that answers 503, or a closed port: an outage, and the items with valid proofs are not passed", async () => {
    const { tree: t, published } = await tree(2);
    await server.serve(t);
    server.down = true;
    try {
      const result = await checkLog(await reader(), registry.keyid, freshStore(), [item(withProof(published[0]!.bundle, await t.tlogProof(1)), 1), item(published[1]!.bundle, 2)]);
      expect(result.group).toMatchObject({ kind: "outage" });
      expect((result.group as { message: string }).message).toMatch(/HTTP 503/);
      expect(result.items[1]).toBeUndefined();
    } finally {
      server.down = false;
    }
    const closed = await startFakeLog();
    await closed.close();
    const result = await checkLog(await reader(closed.url), registry.keyid, freshStore(), [item(published[0]!.bundle, 1)]);
    expect(result.group).toMatchObject({ kind: "outage" });
  });

  it("a tile the log does not serve: an outage (HTTP 404), not a pass", async () => {
    const { tree: t, published } = await tree(2);
    await server.serve(t);
    server.tamper = undefined;
    const r = await reader();
    const real = server.serve.bind(server);
    await real(t);
    // Serve the checkpoint of a larger size than the tiles exist for.
    const bigger = new LogTree(server.url, registry);
    for (const e of t.entries) await bigger.append(e);
    await bigger.append(gapEntry(bigger.size));
    server.serveCheckpointText(await bigger.checkpoint());
    const result = await checkLog(r, registry.keyid, freshStore(), [item(published[0]!.bundle, 1)]);
    expect(result.group).toMatchObject({ kind: "outage" });
    expect((result.group as { message: string }).message).toMatch(/404/);
  });
});

it("reads stored files as text (the note verbatim)", async () => {
  const { tree: t } = await tree(1);
  await server.serve(t);
  const store = freshStore();
  await checkLog(await reader(), registry.keyid, store, []);
  expect(readFileSync(store.path(registry.keyid), "utf8")).toBe(await t.checkpoint());
});
