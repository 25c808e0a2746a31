/**
 * The transparency log served by the real Worker and its Durable Object sequencer (issue 10,
 * PROTOCOL §18): every publish answers with a tlog-proof that verifies offline, the checkpoint
 * and tiles describe exactly the committed countersignatures (checked against an independent
 * RFC 6962 implementation), bundles and packuments carry proofs, a publish whose log round
 * failed is covered by the next round (its bundle gets its proof), a failed commit leaves no leaf.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import {
  countersignatureEntry,
  fromBase64,
  keyPairFromSeed,
  logOrigin,
  logVerifier,
  newNoteVerifier,
  openCheckpoint,
  openIdentity,
  parseEntryBundle,
  parseLogEntry,
  tileHashReader,
  tilesForSize,
  formatTilePath,
  treeHash,
  verifyTlogProof,
  newEntryBundles,
  formatEntriesPath,
  type Bundle,
  type Checkpoint,
  type KeyPair,
  type NoteVerifier,
  utf8,
} from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import type { StoreFactories } from "../../src/worker/context.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import { npmTarball } from "../helpers/tarball.js";
import { referenceLeaf, referenceRoot } from "./reference-merkle.js";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { call, enrol, errorOf, ORIGIN, packagePath, publishParts, record, SIGNING_KEY } from "./helpers.js";

let registry: KeyPair;
let verifier: NoteVerifier;
let alice: Publisher;
let token: string;

beforeAll(async () => {
  registry = await keyPairFromSeed(fromBase64(SIGNING_KEY)!);
  const made = await logVerifier(ORIGIN, registry.publicKey);
  if (!made.ok) throw new Error(made.error);
  verifier = made.value;
  alice = await newPublisher();
  token = await enrol("@log", alice);
});

const LOG = "/-/countersign/v1/log/";
const bytesOf = (text: string) => new TextEncoder().encode(`artifact ${text}`);

interface PublishAnswer {
  sequence: number;
  logIndex: number;
  tlogProof?: string;
  logPending?: true;
  bundle: Bundle & { tlogProof?: string };
}

async function publish(name: string, version: string, factories?: StoreFactories, bytes = bytesOf(`${name}@${version}`)): Promise<PublishAnswer> {
  const parts = await signedParts(alice, name, version, bytes);
  let res: Response;
  if (factories) {
    const ctx = createExecutionContext();
    res = await createApp(factories).fetch(new Request(`${ORIGIN}${packagePath(name, version)}`, { method: "PUT", body: await uploadBody(parts), headers: { authorization: `Bearer ${token}` } }), env, ctx);
    await waitOnExecutionContext(ctx);
    await record(res);
  } else {
    res = await publishParts(name, version, parts, token);
  }
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as PublishAnswer;
}

async function checkpoint(): Promise<{ text: string; value: Checkpoint }> {
  const res = await call("GET", `${LOG}checkpoint`);
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toMatch(/^text\/plain/);
  const text = await res.text();
  const opened = await openCheckpoint(text, logOrigin(ORIGIN), verifier);
  if (!opened.ok) throw new Error(JSON.stringify(opened.error));
  return { text, value: opened.value.checkpoint };
}

async function tile(path: string): Promise<Uint8Array> {
  const res = await call("GET", `${LOG}${path}`);
  expect(res.status, path).toBe(200);
  expect(res.headers.get("cache-control")).toContain("immutable");
  return new Uint8Array(await res.arrayBuffer());
}

/** Entry bytes of a served bundle: the countersignature payload. */
function entryOf(bundle: Bundle): Uint8Array {
  const entry = countersignatureEntry(bundle.countersignature);
  if (!entry.ok) throw new Error(entry.error);
  return entry.value;
}

/** Entries 1…n: the committed countersignatures, registry statements (namespace claims, enrolments) and package metadata records, in sequence order. */
async function committedEntries(): Promise<Uint8Array[]> {
  const { results } = await env.DB.prepare(
    `SELECT json_extract(bundle, '$.countersignature') AS envelope, NULL AS entry, sequence FROM versions
     UNION ALL SELECT envelope, NULL, sequence FROM registry_statements
     UNION ALL SELECT NULL, entry, sequence FROM metadata_records ORDER BY sequence`,
  ).all<{ envelope: string | null; entry: string | null }>();
  return results.map((r) => (r.entry !== null ? utf8(r.entry) : entryOf({ countersignature: JSON.parse(r.envelope!) } as Bundle)));
}

describe("the log as the Worker serves it", () => {
  it("a publish answers with a tlog-proof that verifies offline, for its sequence number", async () => {
    const answer = await publish("@log/a", "1.0.0");
    expect(answer.logIndex).toBe(answer.sequence);
    expect(answer.tlogProof).toBe(answer.bundle.tlogProof);
    const proved = await verifyTlogProof(answer.tlogProof!, entryOf(answer.bundle), { origin: logOrigin(ORIGIN), verifier });
    expect(proved.ok && proved.value.index).toBe(answer.sequence);
    // The proof is for this entry only: another countersignature's payload does not verify there.
    const other = await publish("@log/a", "1.0.1");
    expect((await verifyTlogProof(answer.tlogProof!, entryOf(other.bundle), { origin: logOrigin(ORIGIN), verifier })).ok).toBe(false);
  });

  it("the checkpoint commits to genesis plus every committed countersignature and metadata record, in sequence order", async () => {
    for (const v of ["2.0.0", "2.0.1", "2.0.2"]) await publish("@log/b", v);
    const { value } = await checkpoint();
    const entries = await committedEntries();
    expect(value.size).toBe(entries.length + 1);
    const genesis = await tile("tile/entries/000" + (value.size < 256 ? `.p/${value.size}` : ""));
    const bundle = parseEntryBundle(genesis, value.size);
    if (!bundle.ok) throw new Error(bundle.error);
    expect(parseLogEntry(bundle.value[0]!, 0)).toMatchObject({ ok: true, value: { kind: "genesis", origin: ORIGIN, keyid: registry.keyid } });
    const leaves = await Promise.all([bundle.value[0]!, ...entries].map(referenceLeaf));
    expect([...(await referenceRoot(leaves))]).toEqual([...value.rootHash]);
    // Each entry bundle member is the committed payload at its index.
    entries.forEach((entry, i) => expect([...bundle.value[i + 1]!]).toEqual([...entry]));
    const parsed = bundle.value.slice(1).map((e, i) => parseLogEntry(e, i + 1));
    // The namespace's claim and its key's enrolment come first, then each version and its package's new metadata serial.
    expect(parsed.map((p) => p.ok && (p.value.kind === "statement" ? p.value.statement.kind : p.value.kind))).toEqual([
      "namespace_claimed",
      "key_enrolled",
      ...Array.from({ length: (parsed.length - 2) / 2 }, () => ["countersignature", "metadata"]).flat(),
    ]);
    const namespaceOfEntry = (p: (typeof parsed)[number]) =>
      p.ok && (p.value.kind === "statement" ? p.value.statement.namespace : p.value.kind === "countersignature" ? p.value.namespace : p.value.kind === "metadata" ? p.value.record.name.split("/")[0] : "");
    expect(parsed.every((p) => namespaceOfEntry(p) === "@log")).toBe(true);
    // Each metadata record names the serial its package had right after that publish, in order.
    const serials = parsed.flatMap((p) => (p.ok && p.value.kind === "metadata" && p.value.record.name === "@log/b" ? [p.value.record.serial] : []));
    expect(serials).toEqual([...serials].sort((a, b) => a - b));
    expect(new Set(serials).size).toBe(3);
  });

  it("the hash tiles reproduce the checkpoint's root; every tile and entry bundle of the size is served", async () => {
    const { value } = await checkpoint();
    const reader = tileHashReader(value.size, { readTiles: (tiles) => Promise.all(tiles.map((t) => tile(formatTilePath(t)))) });
    const root = await treeHash(value.size, reader);
    expect(root.ok && [...root.value]).toEqual([...value.rootHash]);
    for (const t of tilesForSize(value.size)) expect((await tile(formatTilePath(t))).length).toBe(t.width * 32);
    for (const b of newEntryBundles(0, value.size)) expect(parseEntryBundle(await tile(formatEntriesPath(b)), b.width).ok).toBe(true);
  });

  it("stored bundles, the bundle route and the full packument carry the proof", async () => {
    const answer = await publish("@log/c", "1.0.0", undefined, await npmTarball({ name: "@log/c", version: "1.0.0" }));
    const served = (await (await call("GET", packagePath("@log/c", "1.0.0"))).json()) as { tlogProof?: string };
    expect(served.tlogProof).toBe(answer.tlogProof);
    const packument = (await (await call("GET", "/@log%2Fc")).json()) as { versions: Record<string, { dist: { countersign: { tlogProof?: string } } }> };
    expect(packument.versions["1.0.0"]!.dist.countersign.tlogProof).toBe(answer.tlogProof);
  });

  it("the identity document names the log and its verifier key, which opens the checkpoint", async () => {
    const opened = await openIdentity(await (await call("GET", "/.well-known/countersign.json")).json(), [registry.keyid]);
    if (!opened.ok) throw new Error(opened.error);
    const log = opened.value.document.log!;
    expect(log).toMatchObject({ url: `${ORIGIN}${LOG}`, origin: logOrigin(ORIGIN) });
    const named = await newNoteVerifier(log.key);
    if (!named.ok) throw new Error(named.error);
    const { text } = await checkpoint();
    expect((await openCheckpoint(text, log.origin, named.value)).ok).toBe(true);
  });

  it("a log with no checkpoint yet is not started without REGISTRY_ORIGIN: 503 naming the variable", async () => {
    const empty = { ...env, REGISTRY_ORIGIN: undefined, ARTIFACTS: { get: async () => null } as unknown as R2Bucket };
    const ctx = createExecutionContext();
    const res = await createApp().fetch(new Request(`${ORIGIN}${LOG}checkpoint`), empty, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("origin_not_configured");
  });

  it("non-canonical and unpublished tile paths are JSON 404s", async () => {
    for (const path of ["tile/0/x000/001", "tile/00/000", "tile/0/000.p/256", "tile/0/000.p/0", "tile/entries/../checkpoint", "tile/", "tile/9/000"]) {
      const res = await call("GET", `${LOG}${path}`);
      expect(res.status, path).toBe(404);
      expect((await errorOf(res)).code).toBe("not_found");
    }
  });
});

describe("batched provenance: one checkpoint for every bundle of an answer", () => {
  const batch = async (packages: string[], factories?: StoreFactories) => {
    const request = new Request(`${ORIGIN}/-/countersign/v1/bundles`, { method: "POST", body: JSON.stringify({ packages }), headers: { "content-type": "application/json" } });
    if (!factories) return (await (await call("POST", "/-/countersign/v1/bundles", { body: { packages } })).json()) as { bundles: Record<string, (Bundle & { tlogProof?: string }) | null> };
    const ctx = createExecutionContext();
    const res = await createApp(factories).fetch(request, env, ctx);
    await waitOnExecutionContext(ctx);
    return (await res.json()) as { bundles: Record<string, (Bundle & { tlogProof?: string }) | null> };
  };

  it("bundles published in different rounds are proved against the latest checkpoint, each verifying", async () => {
    for (const v of ["1.0.0", "1.0.1", "1.0.2"]) await publish("@log/g", v); // three rounds, three checkpoints
    const specs = ["@log/g@1.0.0", "@log/g@1.0.1", "@log/g@1.0.2", "@log/g@9.9.9"];
    const { bundles } = await batch(specs);
    expect(bundles["@log/g@9.9.9"]).toBeNull();
    const { text, value } = await checkpoint();
    for (const spec of specs.slice(0, 3)) {
      const bundle = bundles[spec]!;
      expect(bundle.tlogProof!.endsWith(text)).toBe(true);
      const proved = await verifyTlogProof(bundle.tlogProof!, entryOf(bundle), { origin: logOrigin(ORIGIN), verifier });
      expect(proved.ok && proved.value.checkpoint.size).toBe(value.size);
    }
    // The stored bundles keep the proof against the checkpoint that first covered them.
    const stored = (await (await call("GET", packagePath("@log/g", "1.0.0"))).json()) as { tlogProof: string };
    expect(stored.tlogProof).not.toBe(bundles["@log/g@1.0.0"]!.tlogProof);
  });

  it("with the sequencer down, the stored proofs are served", async () => {
    const down: StoreFactories = { log: () => ({ logged: () => Promise.reject(new Error("injected")), sync: () => Promise.reject(new Error("injected")), proofs: () => Promise.reject(new Error("injected: sequencer unreachable")) }) };
    const { bundles } = await batch(["@log/g@1.0.0"], down);
    const stored = (await (await call("GET", packagePath("@log/g", "1.0.0"))).json()) as { tlogProof: string };
    expect(bundles["@log/g@1.0.0"]!.tlogProof).toBe(stored.tlogProof);
  });
});

describe("the log and the commit point", () => {
  it("a version whose log round failed is committed, says its proof is pending, and the next round proves it", async () => {
    const down: StoreFactories = { log: () => ({ logged: () => Promise.reject(new Error("injected: sequencer unreachable")), sync: () => Promise.reject(new Error("injected")), proofs: () => Promise.reject(new Error("injected")) }) };
    const pending = await publish("@log/d", "1.0.0", down);
    expect(pending).toMatchObject({ logPending: true, logIndex: pending.sequence });
    expect(pending.tlogProof).toBeUndefined();
    expect(pending.bundle.tlogProof).toBeUndefined();
    // Whoever runs the next round (here another publish) logs it and writes its proof into its bundle.
    await publish("@log/d", "1.0.1");
    const served = (await (await call("GET", packagePath("@log/d", "1.0.0"))).json()) as Bundle & { tlogProof?: string };
    const proved = await verifyTlogProof(served.tlogProof!, entryOf(served), { origin: logOrigin(ORIGIN), verifier });
    expect(proved.ok && proved.value.index).toBe(pending.sequence);
  });

  it("a commit that fails leaves no leaf: the log holds exactly the committed versions", async () => {
    const failing: StoreFactories = { meta: () => ({ ...d1MetaStore(env.DB), commitVersion: () => Promise.reject(new Error("injected")) }) };
    const parts = await signedParts(alice, "@log/e", "1.0.0", bytesOf("never"));
    const ctx = createExecutionContext();
    const res = await createApp(failing).fetch(new Request(`${ORIGIN}${packagePath("@log/e", "1.0.0")}`, { method: "PUT", body: await uploadBody(parts), headers: { authorization: `Bearer ${token}` } }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(res.status).toBeGreaterThanOrEqual(500);
    await publish("@log/e", "1.0.1");
    const { value } = await checkpoint();
    expect(value.size).toBe((await committedEntries()).length + 1);
  });

  it("concurrent publishes all get proofs, in one consistent tree", async () => {
    const answers = await Promise.all(Array.from({ length: 16 }, (_, i) => publish("@log/f", `1.0.${i}`)));
    const { value } = await checkpoint();
    for (const answer of answers) {
      const proved = await verifyTlogProof(answer.tlogProof!, entryOf(answer.bundle), { origin: logOrigin(ORIGIN), verifier });
      expect(proved.ok, answer.tlogProof).toBe(true);
      if (proved.ok) expect(proved.value.checkpoint.size).toBeLessThanOrEqual(value.size);
    }
    expect(new Set(answers.map((a) => a.sequence)).size).toBe(16);
  });
});
