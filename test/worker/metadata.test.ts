/**
 * Signed package metadata served by the Worker (src/worker/metadata.ts, PROTOCOL §19): in the
 * batch API, the native package route and the full packument; listing every version with its
 * sequence number and sha512, the dist-tags the packument serves, deprecations; a serial that
 * rises with every change (and only then); the same bytes for a package within a window; and
 * every served serial a log entry (PROTOCOL §19.1).
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { fromBase64, fromUtf8, logOrigin, logVerifier, metadataRecordEntry, openPackageMetadata, verifyTlogProof, type Envelope, type PackageMetadata } from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import { METADATA_WINDOW_MS } from "../../src/worker/metadata.js";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { admin, call, logSequences, ORIGIN } from "./helpers.js";

let publisher: Publisher;
let token: string;
let registryKeyid: string;

async function publish(name: string, version: string, tag = "latest") {
  const bytes = await npmTarball({ name, version });
  const res = await call("PUT", `/-/countersign/v1/packages/${encodeURIComponent(name)}/${version}?tag=${tag}`, { body: await uploadBody(await signedParts(publisher, name, version, bytes)), token });
  expect(res.status, await res.clone().text()).toBe(201);
  return (await res.json()) as { sequence: number; integrity: string };
}

const statementOf = (envelope: Envelope) => JSON.parse(fromUtf8(fromBase64(envelope.payload)!)) as PackageMetadata;

async function batchMetadata(...specs: string[]): Promise<Record<string, Envelope>> {
  const res = await call("POST", "/-/countersign/v1/bundles", { body: { packages: specs } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { metadata: Record<string, Envelope> }).metadata;
}

beforeAll(async () => {
  publisher = await newPublisher();
  await admin("POST", "/namespaces", { namespace: "@meta" });
  expect((await admin("POST", "/namespaces/@meta/keys", { publicKey: publisher.publicKey })).status).toBe(201);
  token = ((await (await admin("POST", "/tokens", { scope: "publish", namespaces: ["@meta"] })).json()) as { token: string }).token;
  registryKeyid = ((await (await call("GET", "/.well-known/countersign.json")).json()) as { signatures: { keyid: string }[] }).signatures[0]!.keyid;
  await publish("@meta/pkg", "1.0.0");
  await publish("@meta/pkg", "1.1.0");
  await publish("@meta/pkg", "2.0.0-beta.1", "next");
  await publish("@meta/other", "0.1.0");
});

describe("signed package metadata", () => {
  it("the batch API answers each package's metadata, signed by the registry key, listing every version", async () => {
    const metadata = await batchMetadata("@meta/pkg@1.0.0", "@meta/pkg@1.1.0", "@meta/other@0.1.0", "@meta/missing@1.0.0");
    expect(Object.keys(metadata).sort()).toEqual(["@meta/other", "@meta/pkg"]);
    const opened = await openPackageMetadata(metadata["@meta/pkg"], { name: "@meta/pkg", pinned: [registryKeyid], now: new Date() });
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    const m = opened.value.metadata;
    expect(m.versions.map((v) => v.version)).toEqual(["1.0.0", "1.1.0", "2.0.0-beta.1"]);
    expect(m.distTags).toEqual({ latest: "1.1.0", next: "2.0.0-beta.1" });
    expect(m.registry.origin).toBe(ORIGIN);
    const expires = Date.parse(m.expires) - Date.now();
    expect(expires).toBeGreaterThan(18 * 3_600_000 - 60_000);
    expect(expires).toBeLessThanOrEqual(24 * 3_600_000);
  });

  it("is in the full packument (whose dist-tags are the signed ones) and the native route, not in installers' abbreviated one", async () => {
    const full = (await (await call("GET", "/@meta%2fpkg")).json()) as { "dist-tags": Record<string, string>; countersign: { metadata: Envelope } };
    expect(statementOf(full.countersign.metadata).distTags).toEqual(full["dist-tags"]);
    const native = (await (await call("GET", "/-/countersign/v1/packages/@meta%2fpkg")).json()) as { metadata: Envelope };
    expect(native.metadata).toEqual(full.countersign.metadata); // the same bytes within a window
    const abbreviated = (await (await call("GET", "/@meta%2fpkg", { headers: { accept: "application/vnd.npm.install-v1+json" } })).json()) as Record<string, unknown>;
    expect(abbreviated.countersign).toBeUndefined();
  });

  it("the serial rises with a new version, a moved tag and a deprecation, and stays put between reads", async () => {
    const serial = async () => statementOf((await batchMetadata("@meta/other@0.1.0"))["@meta/other"]!).serial;
    const s0 = await serial();
    expect(await serial()).toBe(s0);
    await publish("@meta/other", "0.2.0");
    const s1 = await serial();
    expect(s1).toBeGreaterThan(s0);
    expect((await call("PUT", "/-/package/@meta%2fother/dist-tags/latest", { body: '"0.1.0"', token })).status).toBe(201);
    const s2 = await serial();
    expect(s2).toBeGreaterThan(s1);
    expect(statementOf((await batchMetadata("@meta/other@0.1.0"))["@meta/other"]!).distTags.latest).toBe("0.1.0");
    await call("PUT", "/@meta%2fother", { body: { name: "@meta/other", versions: { "0.2.0": { deprecated: "broken" } } }, token });
    const s3 = await serial();
    expect(s3).toBeGreaterThan(s2);
    const listed = statementOf((await batchMetadata("@meta/other@0.2.0"))["@meta/other"]!).versions.find((v) => v.version === "0.2.0");
    expect(listed?.deprecated).toBe("broken");
  });

  it("signs the same bytes for a package within a window and re-issues it in the next one", async () => {
    const app = createApp();
    const at = (time: number) => createApp({ now: () => new Date(time) });
    const fetchWith = async (a: ReturnType<typeof createApp>) => {
      const ctx = createExecutionContext();
      const res = await a.fetch(new Request(`${ORIGIN}/-/countersign/v1/packages/@meta%2fpkg`), env, ctx);
      await waitOnExecutionContext(ctx);
      return ((await res.json()) as { metadata: Envelope }).metadata;
    };
    const windowStart = Math.floor(Date.now() / METADATA_WINDOW_MS) * METADATA_WINDOW_MS;
    const a = await fetchWith(at(windowStart + 1000));
    const b = await fetchWith(at(windowStart + METADATA_WINDOW_MS - 1000));
    expect(b).toEqual(a);
    const next = await fetchWith(at(windowStart + METADATA_WINDOW_MS));
    expect(statementOf(next).serial).toBe(statementOf(a).serial);
    expect(statementOf(next).issuedAt).toBe(new Date(windowStart + METADATA_WINDOW_MS).toISOString());
    expect(await fetchWith(app)).toEqual(a);
  });

  it("without REGISTRY_ORIGIN nothing is signed: reads answer without metadata", async () => {
    const { REGISTRY_ORIGIN: _origin, ...unconfigured } = env as unknown as Record<string, unknown>;
    const res = await createApp().fetch(new Request(`${ORIGIN}/-/countersign/v1/bundles`, { method: "POST", body: JSON.stringify({ packages: ["@meta/pkg@1.0.0"] }), headers: { "content-type": "application/json" } }), unconfigured as unknown as typeof env, createExecutionContext());
    expect(res.status).toBe(200);
    expect(((await res.json()) as { metadata: unknown }).metadata).toEqual({});
  });

  it("every served serial is a log entry: the batch answer's metadataLog proves the record recomputed from the statement", async () => {
    const res = await call("POST", "/-/countersign/v1/bundles", { body: { packages: ["@meta/pkg@1.0.0", "@meta/other@0.1.0"] } });
    const answer = (await res.json()) as { metadata: Record<string, Envelope>; metadataLog: Record<string, { index: number; tlogProof?: string }> };
    expect(Object.keys(answer.metadataLog).sort()).toEqual(["@meta/other", "@meta/pkg"]);
    const registry = fromBase64(statementOf(answer.metadata["@meta/pkg"]!).registry.publicKey)!;
    const verifier = await logVerifier(ORIGIN, registry);
    if (!verifier.ok) throw new Error(verifier.error);
    for (const name of ["@meta/pkg", "@meta/other"]) {
      const opened = await openPackageMetadata(answer.metadata[name], { name, pinned: [registryKeyid], now: new Date() });
      if (!opened.ok) throw new Error(opened.error.message);
      const entry = metadataRecordEntry({ name, serial: opened.value.metadata.serial, contentSha256: opened.value.contentSha256 });
      const ref = answer.metadataLog[name]!;
      const proved = await verifyTlogProof(ref.tlogProof!, entry, { origin: logOrigin(ORIGIN), verifier: verifier.value });
      expect(proved.ok && proved.value.index, name).toBe(ref.index);
      // The row the sequencer read is that exact entry, at that number.
      const row = await env.DB.prepare("SELECT entry FROM metadata_records WHERE sequence = ?").bind(ref.index).first<{ entry: string }>();
      expect(row?.entry).toBe(fromUtf8(entry));
    }
    // Reads record nothing twice: the same answer, the same indexes.
    const again = (await (await call("POST", "/-/countersign/v1/bundles", { body: { packages: ["@meta/pkg@1.0.0", "@meta/other@0.1.0"] } })).json()) as typeof answer;
    expect(Object.fromEntries(Object.entries(again.metadataLog).map(([n, r]) => [n, r.index]))).toEqual(Object.fromEntries(Object.entries(answer.metadataLog).map(([n, r]) => [n, r.index])));
    // The native route and the full packument name the same index.
    expect(((await (await call("GET", "/-/countersign/v1/packages/@meta%2fpkg")).json()) as { metadataLog: { index: number } }).metadataLog.index).toBe(answer.metadataLog["@meta/pkg"]!.index);
    const full = (await (await call("GET", "/@meta%2fpkg", { headers: { accept: "application/json" } })).json()) as { countersign: { metadataLog: { index: number; tlogProof: string } } };
    expect(full.countersign.metadataLog.index).toBe(answer.metadataLog["@meta/pkg"]!.index);
    expect(full.countersign.metadataLog.tlogProof).toMatch(/^c2sp.org\/tlog-proof@v1\n/);
  });

  it("a change no publish recorded (a revocation raising a namespace's serials) is recorded by the first read, many at once, at consecutive numbers", async () => {
    for (const v of ["0.1.0", "0.2.0", "0.3.0"]) await publish("@meta/many-" + v.split(".")[1], v);
    const key = await newPublisher();
    expect((await admin("POST", "/namespaces/@meta/keys", { publicKey: key.publicKey })).status).toBe(201);
    const before = (await env.DB.prepare("SELECT COALESCE(MAX(sequence), 0) AS n FROM metadata_records").first<{ n: number }>())!.n;
    expect((await admin("DELETE", `/namespaces/@meta/keys/${encodeURIComponent(key.key.keyid)}`)).status).toBe(200);
    const specs = ["@meta/many-1@0.1.0", "@meta/many-2@0.2.0", "@meta/many-3@0.3.0", "@meta/pkg@1.0.0"];
    const answer = (await (await call("POST", "/-/countersign/v1/bundles", { body: { packages: specs } })).json()) as { metadataLog: Record<string, { index: number; tlogProof?: string }> };
    const indexes = Object.values(answer.metadataLog).map((r) => r.index).sort((a, b) => a - b);
    expect(indexes).toHaveLength(4);
    expect(indexes[0]).toBeGreaterThan(before);
    expect(indexes).toEqual(indexes.map((_, i) => indexes[0]! + i));
    for (const ref of Object.values(answer.metadataLog)) expect(ref.tlogProof).toBeTruthy();
    const all = await logSequences();
    expect(all).toEqual(all.map((_, i) => i + 1));
  });
});
