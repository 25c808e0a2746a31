/**
 * The client's packument path (scripts/cli/registry-client.ts), against local HTTP servers: a
 * registry without the batch API is asked for its FULL packuments, whose `dist.countersign`
 * may hold the bundle inline or the abbreviated document's link `{ url, sha256 }`. A link is
 * followed only to the same registry and only to bytes with that digest; every link it cannot
 * follow is "no bundle", so the package fails as not countersigned, never passes unchecked. An
 * outage while following one is an outage.
 */

import { createHash } from "node:crypto";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { ABBREVIATED_TYPE } from "../../src/core/index.js";
import { UnreachableError } from "../../scripts/cli/http.js";
import { provenanceForm, RegistryClient } from "../../scripts/cli/registry-client.js";
import { findProvenance } from "../../scripts/cli/verification/provenance.js";

const servers: Server[] = [];
afterAll(() => {
  for (const server of servers) server.close();
});

interface Seen {
  path: string;
  headers: IncomingHttpHeaders;
}

/** A registry with no batch API: `routes` maps a path to [status, body]. */
async function registry(routes: (base: string) => Record<string, [number, string]>): Promise<{ base: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  let table: Record<string, [number, string]> = {};
  const server = createServer((req, res) => {
    seen.push({ path: req.url ?? "", headers: req.headers });
    const [status, body] = table[req.url ?? ""] ?? [404, '{"error":"not found"}'];
    res.writeHead(status, { "content-type": "application/json" }).end(body);
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  table = routes(base);
  return { base, seen };
}

const BUNDLE = { mediaType: "application/vnd.countersign.bundle.v1+json", publisher: { payloadType: "x", payload: "", signatures: [] }, countersignature: { payloadType: "y", payload: "", signatures: [] } };
const BUNDLE_TEXT = JSON.stringify(BUNDLE);
const DIGEST = createHash("sha256").update(BUNDLE_TEXT).digest("hex");
const packument = (countersign: unknown) => JSON.stringify({ name: "@acme/lib", versions: { "1.0.0": { name: "@acme/lib", version: "1.0.0", dist: { tarball: "x", integrity: "sha512-x", countersign } } } });
const SPEC = { name: "@acme/lib", version: "1.0.0" };

describe("provenanceForm", () => {
  it.each([
    ["a bundle", BUNDLE, "inline"],
    ["an object that is not a link (verification judges it)", { publisher: 1 }, "inline"],
    ["a link", { url: "http://r/-/countersign/v1/packages/@acme/lib/1.0.0", sha256: DIGEST }, "link"],
    ["a link without a digest", { url: "http://r/x" }, "none"],
    ["a link with an uppercase digest", { url: "http://r/x", sha256: DIGEST.toUpperCase() }, "none"],
    ["a link whose url is not a string", { url: 7, sha256: DIGEST }, "none"],
    ["nothing", undefined, "none"],
    ["a string", "bundle", "none"],
    ["an array", [BUNDLE], "none"],
    ["null", null, "none"],
  ])("%s → %s", (_label, value, form) => {
    expect(provenanceForm(value).form).toBe(form);
  });
});

describe("RegistryClient.packumentBundles", () => {
  it("asks for the full packument (Accept: application/json) and takes an inline bundle", async () => {
    const { base, seen } = await registry(() => ({ "/@acme%2flib": [200, packument(BUNDLE)] }));
    const bundles = await new RegistryClient(base).packumentBundles([SPEC]);
    expect(bundles.get("@acme/lib@1.0.0")).toEqual(BUNDLE);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.headers.accept).toBe("application/json");
    expect(seen[0]!.headers.accept).not.toContain(ABBREVIATED_TYPE);
  });

  it("follows a link to the same registry, with its token, when the bytes have the digest", async () => {
    const { base, seen } = await registry((b) => ({
      "/@acme%2flib": [200, packument({ url: `${b}/-/countersign/v1/packages/@acme/lib/1.0.0`, sha256: DIGEST })],
      "/-/countersign/v1/packages/@acme/lib/1.0.0": [200, BUNDLE_TEXT],
    }));
    const bundles = await new RegistryClient(base, "cs_token").packumentBundles([SPEC]);
    expect(bundles.get("@acme/lib@1.0.0")).toEqual(BUNDLE);
    expect(seen.map((s) => [s.path, s.headers.authorization])).toEqual([
      ["/@acme%2flib", "Bearer cs_token"],
      ["/-/countersign/v1/packages/@acme/lib/1.0.0", "Bearer cs_token"],
    ]);
  });

  it("a link whose bytes have another digest is no bundle", async () => {
    const { base } = await registry((b) => ({
      "/@acme%2flib": [200, packument({ url: `${b}/bundle`, sha256: DIGEST })],
      "/bundle": [200, BUNDLE_TEXT.replace("}", ',"reviews":[]}')],
    }));
    expect((await new RegistryClient(base).packumentBundles([SPEC])).size).toBe(0);
  });

  it("a link to another host is not followed (no request reaches it), and is no bundle", async () => {
    const other = await registry(() => ({ "/bundle": [200, BUNDLE_TEXT] }));
    const { base } = await registry(() => ({ "/@acme%2flib": [200, packument({ url: `${other.base}/bundle`, sha256: DIGEST })] }));
    expect((await new RegistryClient(base, "cs_secret").packumentBundles([SPEC])).size).toBe(0);
    expect(other.seen).toEqual([]);
  });

  it("a link that climbs out of the registry's path with .. is not followed", async () => {
    const { base, seen } = await registry(() => ({ "/npm/@acme%2flib": [200, packument(undefined)], "/bundle": [200, BUNDLE_TEXT] }));
    const client = new RegistryClient(`${base}/npm`, "cs_secret");
    expect(await client.bundleFrom(SPEC, { url: `${base}/npm/../bundle`, sha256: DIGEST })).toBeUndefined();
    expect(await client.bundleFrom(SPEC, { url: "not a url", sha256: DIGEST })).toBeUndefined();
    expect(await client.bundleFrom(SPEC, { url: `${base}@evil.invalid/npm/x`, sha256: DIGEST })).toBeUndefined();
    expect(seen).toEqual([]);
  });

  it.each([
    ["404", 404, BUNDLE_TEXT],
    ["401", 401, '{"error":"unauthorized"}'],
    ["200 that is not JSON (with the right digest)", 200, "not json"],
  ])("a link answered with %s is no bundle", async (_label, status, body) => {
    const digest = createHash("sha256").update(body).digest("hex");
    const { base } = await registry((b) => ({ "/@acme%2flib": [200, packument({ url: `${b}/bundle`, sha256: digest })], "/bundle": [status, body] }));
    expect((await new RegistryClient(base).packumentBundles([SPEC])).size).toBe(0);
  });

  it("an outage while following a link is an outage, not a verdict", async () => {
    const { base } = await registry((b) => ({ "/@acme%2flib": [200, packument({ url: `${b}/bundle`, sha256: DIGEST })], "/bundle": [503, "{}"] }));
    await expect(new RegistryClient(base).packumentBundles([SPEC])).rejects.toBeInstanceOf(UnreachableError);
  });
});

describe("provenance: a link the client cannot follow fails the package", () => {
  it("not_countersigned (binding), never verified and never skipped", async () => {
    const other = await registry(() => ({ "/bundle": [200, BUNDLE_TEXT] }));
    const { base } = await registry(() => ({ "/@acme%2flib": [200, packument({ url: `${other.base}/bundle`, sha256: DIGEST })] }));
    const [outcome] = await findProvenance(
      [{ spec: SPEC, namespace: "@acme", pin: { registry: "team", url: base, fingerprints: ["SHA256:x"] }, sha512: "0".repeat(128), locators: [] }],
      { policy: undefined, token: undefined },
    );
    expect(outcome).toMatchObject({ status: "failed", failure: { layer: "binding", code: "not_countersigned", actual: "none" } });
  });

  it("uses the batch API where there is one, and the packuments only where there is none", async () => {
    const batch = await registry(() => ({ "/-/countersign/v1/bundles": [200, JSON.stringify({ bundles: { "@acme/lib@1.0.0": BUNDLE } })], "/@acme%2flib": [200, packument(null)] }));
    expect((await new RegistryClient(batch.base).provenance([SPEC])).get("@acme/lib@1.0.0")).toEqual(BUNDLE);
    expect(batch.seen.map((s) => s.path)).toEqual(["/-/countersign/v1/bundles"]);

    const plain = await registry(() => ({ "/@acme%2flib": [200, packument(BUNDLE)] }));
    expect((await new RegistryClient(plain.base).provenance([SPEC])).get("@acme/lib@1.0.0")).toEqual(BUNDLE);
    expect(plain.seen.map((s) => s.path)).toEqual(["/-/countersign/v1/bundles", "/@acme%2flib"]);
  });
});

describe("signed metadata travels with the bundles (read as served, judged by verification/metadata.ts)", () => {
  const METADATA = { payloadType: "application/vnd.countersign.package-metadata.v1+json", payload: "e30=", signatures: [] };

  const LOGGED = { index: 12, tlogProof: "proof" };

  it("the batch answer's metadata map and where each is in the log, for the names asked only", async () => {
    const answer = JSON.stringify({ bundles: { "@acme/lib@1.0.0": BUNDLE }, metadata: { "@acme/lib": METADATA, "@acme/other": METADATA }, metadataLog: { "@acme/lib": LOGGED, "@acme/other": LOGGED } });
    const { base } = await registry(() => ({ "/-/countersign/v1/bundles": [200, answer] }));
    const got = await new RegistryClient(base).provenanceAnswer([SPEC]);
    expect(got.bundles.get("@acme/lib@1.0.0")).toEqual(BUNDLE);
    expect([...got.metadata]).toEqual([["@acme/lib", METADATA]]);
    expect([...got.metadataLog]).toEqual([["@acme/lib", LOGGED]]);
  });

  it("a plain mirror: the full packument's countersign.metadata and .metadataLog; none there is none", async () => {
    const withMetadata = JSON.stringify({ ...JSON.parse(packument(BUNDLE)), countersign: { metadata: METADATA, metadataLog: LOGGED } });
    const plain = await registry(() => ({ "/@acme%2flib": [200, withMetadata] }));
    const got = await new RegistryClient(plain.base).provenanceAnswer([SPEC]);
    expect(got.metadata.get("@acme/lib")).toEqual(METADATA);
    expect(got.metadataLog.get("@acme/lib")).toEqual(LOGGED);
    const bare = await registry(() => ({ "/@acme%2flib": [200, packument(BUNDLE)] }));
    expect((await new RegistryClient(bare.base).provenanceAnswer([SPEC])).metadata.size).toBe(0);
  });

  it("packageMetadata: the native package route, else the full packument", async () => {
    const native = await registry(() => ({ "/-/countersign/v1/packages/@acme%2flib": [200, JSON.stringify({ name: "@acme/lib", metadata: METADATA, metadataLog: LOGGED })] }));
    expect(await new RegistryClient(native.base).packageMetadata("@acme/lib")).toEqual({ envelope: METADATA, log: LOGGED });
    const mirror = await registry(() => ({ "/@acme%2flib": [200, JSON.stringify({ ...JSON.parse(packument(BUNDLE)), countersign: { metadata: METADATA } })] }));
    expect(await new RegistryClient(mirror.base).packageMetadata("@acme/lib")).toEqual({ envelope: METADATA, log: undefined });
    expect(mirror.seen.map((s) => s.path)).toEqual(["/-/countersign/v1/packages/@acme%2flib", "/@acme%2flib"]);
    const none = await registry(() => ({}));
    expect(await new RegistryClient(none.base).packageMetadata("@acme/lib")).toBeUndefined();
  });
});
