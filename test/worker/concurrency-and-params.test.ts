/**
 * Three reproduced bugs: malformed search parameters answered 500; concurrent publishes of
 * different versions lost `latest` updates; with REGISTRY_ORIGIN unset the request's Host header
 * chose the origin the registry signed.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import semverCompare from "semver/functions/compare.js";
import { beforeAll, describe, expect, it } from "vitest";
import { fromBase64, keyPairFromSeed, openIdentity, verifyBundle, WELL_KNOWN_PATH, type Bundle } from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import { semverSortKey } from "../../src/worker/storage/d1.js";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { call, enrol, ORIGIN, packagePath, publishParts, putUpload, record, SIGNING_KEY } from "./helpers.js";

let registryKeyid: string;
let publisher: Publisher;
let token: string;

beforeAll(async () => {
  registryKeyid = (await keyPairFromSeed(fromBase64(SIGNING_KEY)!)).keyid;
  publisher = await newPublisher();
  token = await enrol("@cc", publisher);
});

const bytesOf = (text: string) => new TextEncoder().encode(text);

async function publish(name: string, version: string, tag?: string): Promise<Response> {
  return putUpload(name, version, await uploadBody(await signedParts(publisher, name, version, bytesOf(`${name}@${version}`))), token, tag ? `?tag=${tag}` : "");
}

async function distTags(name: string): Promise<Record<string, string>> {
  return ((await (await call("GET", packagePath(name))).json()) as { distTags: Record<string, string> }).distTags;
}

describe("GET /-/v1/search parameters", () => {
  beforeAll(async () => {
    const bytes = await npmTarball({ name: "@cc/searchable", version: "1.0.0", description: "found by search" });
    expect((await publishParts("@cc/searchable", "1.0.0", await signedParts(publisher, "@cc/searchable", "1.0.0", bytes), token)).status).toBe(201);
  });

  const malformed = [
    "size=1.5",
    "size=0",
    "size=251",
    "size=-1",
    "size=1e2",
    "size=abc",
    "size=",
    "size=%2010",
    "from=1e20",
    "from=Infinity",
    "from=-1",
    "from=0.5",
    "from=100001",
    "from=99999999999999999999",
    "from=0x10",
    `text=${"a".repeat(257)}`,
    `text=${"a".repeat(10_000)}`,
    `text=${"%F0%9F%98%80".repeat(200)}`,
  ];
  for (const query of malformed) {
    it(`answers 400 in npm's error shape for ${query.slice(0, 40)}`, async () => {
      const res = await call("GET", `/-/v1/search?${query}`);
      expect(res.status).toBe(400);
      const body = (await res.json()) as Record<string, unknown>;
      expect(body).toEqual({ error: expect.stringMatching(/^(size|from|text) must be/), code: "invalid_query" });
    });
  }

  it("accepts the bounds themselves and npm's own parameters", async () => {
    for (const query of ["size=1", "size=250", "from=0", "from=100000", `text=${"a".repeat(256)}`, "text=cc&size=20&from=0&quality=0.65&popularity=0.98&maintenance=0.5"]) {
      expect((await call("GET", `/-/v1/search?${query}`)).status, query).toBe(200);
    }
  });

  it("still finds by a long text, a substring, and treats LIKE wildcards literally", async () => {
    const names = async (query: string) => ((await (await call("GET", `/-/v1/search?${query}`)).json()) as { objects: { package: { name: string } }[] }).objects.map((o) => o.package.name);
    expect(await names("text=searchable")).toEqual(["@cc/searchable"]);
    expect(await names("text=%40CC%2FSEARCH")).toEqual(["@cc/searchable"]);
    expect(await names(`text=${encodeURIComponent("@cc/searchable".padEnd(60, "x"))}`)).toEqual([]);
    expect(await names("text=%25")).toEqual([]);
    expect(await names("text=_")).toEqual([]);
    expect(await names("text=searchable&from=1")).toEqual([]);
  });
});

describe("concurrent publishes and latest", () => {
  it("20 concurrent publishes of different versions all succeed and latest ends at the highest", async () => {
    const versions = Array.from({ length: 20 }, (_, i) => `1.${i + 1}.0`);
    const statuses = await Promise.all(versions.map(async (v) => (await publish("@cc/fanout", v)).status));
    expect(statuses).toEqual(versions.map(() => 201));
    expect(await distTags("@cc/fanout")).toEqual({ latest: "1.20.0" });
  });

  it("concurrent publishes over an existing latest, in shuffled order with prereleases, end at the highest", async () => {
    expect((await publish("@cc/shuffle", "0.1.0")).status).toBe(201);
    const versions = ["2.0.0-rc.1", "1.9.0", "2.0.0", "1.10.0", "2.0.0-beta.11", "1.2.3", "0.9.0", "2.0.0-beta.2", "1.0.0", "0.0.1"];
    const statuses = await Promise.all(versions.map(async (v) => (await publish("@cc/shuffle", v)).status));
    expect(statuses).toEqual(versions.map(() => 201));
    expect(await distTags("@cc/shuffle")).toEqual({ latest: "2.0.0" });
  });

  it("an explicit dist-tag set may move latest backwards; a later lower publish does not move it, a higher one does", async () => {
    for (const v of ["1.0.0", "3.0.0"]) expect((await publish("@cc/explicit", v)).status).toBe(201);
    const set = await call("PUT", "/-/package/@cc%2fexplicit/dist-tags/latest", { body: JSON.stringify("1.0.0"), token });
    expect(set.status).toBe(201);
    expect(await distTags("@cc/explicit")).toEqual({ latest: "1.0.0" });
    expect((await publish("@cc/explicit", "0.5.0")).status).toBe(201);
    expect(await distTags("@cc/explicit")).toEqual({ latest: "1.0.0" });
    expect((await publish("@cc/explicit", "2.0.0")).status).toBe(201);
    expect(await distTags("@cc/explicit")).toEqual({ latest: "2.0.0" });
  });

  it("other tags still move to what is published with them, and latest is untouched by them", async () => {
    for (const [v, tag] of [["1.0.0", undefined], ["2.0.0-beta.2", "next"], ["2.0.0-beta.1", "next"]] as const) expect((await publish("@cc/tags", v, tag)).status).toBe(201);
    expect(await distTags("@cc/tags")).toEqual({ latest: "1.0.0", next: "2.0.0-beta.1" });
  });

  it("a latest row from before migration 0003 (no sort key) still moves forward, never back", async () => {
    expect((await publish("@cc/legacy", "1.0.0")).status).toBe(201);
    await env.DB.prepare("UPDATE dist_tags SET sort_key = NULL WHERE name = ?").bind("@cc/legacy").run();
    expect((await publish("@cc/legacy", "0.9.0")).status).toBe(201);
    expect(await distTags("@cc/legacy")).toEqual({ latest: "1.0.0" });
    expect((await publish("@cc/legacy", "1.1.0")).status).toBe(201);
    expect(await distTags("@cc/legacy")).toEqual({ latest: "1.1.0" });
    const row = await env.DB.prepare("SELECT sort_key FROM dist_tags WHERE name = ? AND tag = 'latest'").bind("@cc/legacy").first<{ sort_key: string }>();
    expect(row?.sort_key).toBe(semverSortKey("1.1.0"));
  });

  it("the sort key orders versions exactly as semver precedence does", () => {
    const versions = [
      "0.0.0", "0.0.1", "0.1.0", "1.0.0-0", "1.0.0-9", "1.0.0-10", "1.0.0-100", "1.0.0--", "1.0.0-0a", "1.0.0-A", "1.0.0-Z", "1.0.0-a",
      "1.0.0-a-", "1.0.0-alpha", "1.0.0-alpha.0", "1.0.0-alpha.1", "1.0.0-alpha.1.0", "1.0.0-alpha.beta", "1.0.0-alpha-x", "1.0.0-alpha0",
      "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.0.1-0", "1.0.1", "1.0.10", "1.2.0", "1.10.0", "2.0.0",
      "9.0.0", "10.0.0", "99.99.99", "100.0.0", "9007199254740991.0.0", "1.0.0-9007199254740991", "1.0.0-99999999999999999999",
    ];
    for (let i = 0; i < 2000; i++) {
      const id = () => (Math.random() < 0.5 ? String(Math.floor(Math.random() * 30)) : ["a", "b", "B", "a-", "-", "x1", "alpha", "rc"][Math.floor(Math.random() * 8)]!);
      const pre = Math.random() < 0.6 ? `-${Array.from({ length: 1 + Math.floor(Math.random() * 3) }, id).join(".")}` : "";
      versions.push(`${Math.floor(Math.random() * 3)}.${Math.floor(Math.random() * 12)}.${Math.floor(Math.random() * 3)}${pre}`);
    }
    const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
    for (let i = 0; i < versions.length; i++) {
      for (const j of [i + 1, Math.floor(Math.random() * versions.length)]) {
        const [a, b] = [versions[i]!, versions[j % versions.length]!];
        expect(cmp(semverSortKey(a), semverSortKey(b)), `${a} vs ${b}`).toBe(semverCompare(a, b));
      }
    }
  });
});

describe("the signed origin never comes from a request", () => {
  const unconfigured = () => ({ ...env, REGISTRY_ORIGIN: undefined });

  async function fetchApp(request: Request, bindings: typeof env): Promise<Response> {
    const ctx = createExecutionContext();
    const res = await createApp({}).fetch(request, bindings, ctx);
    await waitOnExecutionContext(ctx);
    return record(res);
  }

  it("with REGISTRY_ORIGIN set, a forged Host changes neither the countersignature nor the identity document", async () => {
    const parts = await signedParts(publisher, "@cc/host", "1.0.0", bytesOf("host"));
    const res = await fetchApp(new Request(`http://evil.example${packagePath("@cc/host", "1.0.0")}`, { method: "PUT", body: await uploadBody(parts), headers: { authorization: `Bearer ${token}` } }), env);
    expect(res.status).toBe(201);
    const { bundle } = (await res.json()) as { bundle: Bundle };
    const sha512 = [...new Uint8Array(await crypto.subtle.digest("SHA-512", bytesOf("host")))].map((b) => b.toString(16).padStart(2, "0")).join("");
    const verified = await verifyBundle({ name: "@cc/host", version: "1.0.0", artifact: { sha512 }, bundle, pinned: [registryKeyid] });
    expect(verified.ok && verified.value.registry.origin).toBe(ORIGIN);
    const identity = await fetchApp(new Request(`http://evil.example${WELL_KNOWN_PATH}`), env);
    const opened = await openIdentity(await identity.json(), [registryKeyid]);
    expect(opened.ok && opened.value.document.origin).toBe(ORIGIN);
  });

  it("without REGISTRY_ORIGIN, publishes answer 503 naming the variable and store nothing", async () => {
    const parts = await signedParts(publisher, "@cc/unsigned", "1.0.0", bytesOf("unsigned"));
    const res = await fetchApp(new Request(`http://evil.example${packagePath("@cc/unsigned", "1.0.0")}`, { method: "PUT", body: await uploadBody(parts), headers: { authorization: `Bearer ${token}` } }), unconfigured());
    expect(res.status).toBe(503);
    expect(await res.json()).toEqual({ error: { code: "origin_not_configured", message: expect.stringContaining("REGISTRY_ORIGIN must be set") } });
    expect((await call("GET", packagePath("@cc/unsigned", "1.0.0"))).status).toBe(404);
  });

  it("without REGISTRY_ORIGIN, the identity document is not signed (503) but reads keep working", async () => {
    const identity = await fetchApp(new Request(`http://evil.example${WELL_KNOWN_PATH}`), unconfigured());
    expect(identity.status).toBe(503);
    expect(((await identity.json()) as { error: { code: string } }).error.code).toBe("origin_not_configured");
    expect((await publish("@cc/readable", "1.0.0")).status).toBe(201);
    for (const path of [packagePath("@cc/readable"), packagePath("@cc/readable", "1.0.0"), `${packagePath("@cc/readable", "1.0.0")}/artifact`, "/-/v1/search?text=readable"]) {
      expect((await fetchApp(new Request(`http://evil.example${path}`), unconfigured())).status, path).toBe(200);
    }
  });

  it("a REGISTRY_ORIGIN that is not an http(s) URL is a configuration error, never an opaque origin", async () => {
    for (const value of ["not a url", "data:text/plain,x", "javascript:alert(1)"]) {
      const res = await fetchApp(new Request(`${ORIGIN}${WELL_KNOWN_PATH}`), { ...env, REGISTRY_ORIGIN: value });
      expect(res.status, value).toBe(500);
      expect(((await res.json()) as { error: { code: string; message: string } }).error).toMatchObject({ code: "misconfigured", message: expect.stringContaining("REGISTRY_ORIGIN") });
    }
  });
});
