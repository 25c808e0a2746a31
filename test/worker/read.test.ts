import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import { fromBase64, generateKeyPair, keyPairFromSeed, openIdentity, toHex, utf8, WELL_KNOWN_PATH } from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import { blobKey } from "../../src/worker/storage/blobs.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import { newPublisher, signedParts } from "../helpers/publisher.js";
import { admin, call, enrol, errorOf, ORIGIN, packagePath, publishParts, SIGNING_KEY } from "./helpers.js";

let registryKeyid: string;
const bytes = utf8("downloadable bytes ".repeat(100));
let sha512: string;

beforeAll(async () => {
  registryKeyid = (await keyPairFromSeed(fromBase64(SIGNING_KEY)!)).keyid;
  const publisher = await newPublisher();
  const token = await enrol("@read", publisher);
  expect((await publishParts("@read/pkg", "1.0.0", await signedParts(publisher, "@read/pkg", "1.0.0", bytes), token)).status).toBe(201);
  sha512 = toHex(new Uint8Array(await crypto.subtle.digest("SHA-512", bytes)));
});

describe(`GET ${WELL_KNOWN_PATH}`, () => {
  it("is self-signed by the registry key and lists its namespaces", async () => {
    const res = await call("GET", WELL_KNOWN_PATH);
    expect(res.headers.get("cache-control")).toContain("max-age=60");
    const opened = await openIdentity(await res.json(), [registryKeyid]);
    expect(opened.ok && opened.value.document).toMatchObject({ name: "acme-registry", origin: ORIGIN, namespaces: expect.arrayContaining(["@read"]), keys: [{ keyid: registryKeyid, algorithm: "ed25519" }] });
  });

  it("does not verify against another pinned fingerprint", async () => {
    const other = await generateKeyPair();
    const opened = await openIdentity(await (await call("GET", WELL_KNOWN_PATH)).json(), [other.keyid]);
    expect(opened.ok).toBe(false);
    expect(!opened.ok && opened.error).toContain(registryKeyid);
  });
});

describe("GET /-/countersign/v1/packages/:name/:version/artifact", () => {
  const path = `${packagePath("@read/pkg", "1.0.0")}/artifact`;

  it("streams the bytes with a strong ETag, Content-Length and immutable caching", async () => {
    const res = await call("GET", path);
    expect(res.status).toBe(200);
    expect(res.headers.get("etag")).toBe(`"sha512-${sha512}"`);
    expect(res.headers.get("content-length")).toBe(String(bytes.length));
    expect(res.headers.get("cache-control")).toBe("public, max-age=31536000, immutable");
    expect(res.headers.get("x-content-type-options")).toBe("nosniff");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(bytes);
  });

  it("answers If-None-Match with 304 and no body", async () => {
    const res = await call("GET", path, { headers: { "if-none-match": `W/"other", "sha512-${sha512}"` } });
    expect(res.status).toBe(304);
    expect(await res.text()).toBe("");
    expect((await call("GET", path, { headers: { "if-none-match": '"sha512-other"' } })).status).toBe(200);
  });

  it("serves repeat downloads from the isolate or the Cache API, keyed by digest, in front of R2", async () => {
    const app = createApp();
    const fetchVia = async () => {
      const ctx = createExecutionContext();
      const res = await app.fetch(new Request(`${ORIGIN}${path}`), env, ctx);
      const body = await res.text();
      await waitOnExecutionContext(ctx);
      return body;
    };
    const first = await fetchVia();
    await env.ARTIFACTS.delete(blobKey(sha512)); // R2 no longer has it…
    expect(await fetchVia()).toBe(first); // …memory and the edge cache do
  });

  it("404s unknown packages and versions with JSON", async () => {
    expect(await errorOf(await call("GET", `${packagePath("@read/nope", "1.0.0")}/artifact`))).toMatchObject({ status: 404, code: "not_found" });
    expect(await errorOf(await call("GET", packagePath("@read/pkg", "9.9.9")))).toMatchObject({ status: 404 });
    expect(await errorOf(await call("GET", packagePath("@read/nope")))).toMatchObject({ status: 404 });
  });
});

describe("routing and error hygiene", () => {
  it("unknown routes are JSON 404s: countersign's shape under /-/countersign/ and /.well-known/, npm's elsewhere", async () => {
    for (const [method, path] of [["POST", "/-/countersign/v1/packages/x"], ["DELETE", WELL_KNOWN_PATH], ["GET", "/-/countersign/v1/nothing"]] as const) {
      const res = await call(method, path);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      expect(await errorOf(res)).toMatchObject({ status: 404, code: "not_found" });
    }
    for (const [method, path] of [["GET", "/no/such/route/at/all"], ["POST", "/-/npm/v1/nothing"], ["GET", "/-/all"]] as const) {
      const res = await call(method, path);
      expect(res.headers.get("content-type")).toMatch(/^application\/json/);
      // npm prints `body.error` as a string: an object would print as "[object Object]".
      expect({ status: res.status, ...((await res.json()) as object) }).toEqual({ status: 404, code: "not_found", error: expect.stringContaining(`no route for ${method} ${path}`) });
    }
  });

  it("an unexpected failure is a bare 500 with no stack trace or detail", async () => {
    const app = createApp({ meta: () => ({ ...d1MetaStore(env.DB), getVersion: () => Promise.reject(new Error("boom at src/worker/storage/d1.ts:42 with secret ctx")) }) });
    const res = await app.fetch(new Request(`${ORIGIN}${packagePath("@read/pkg", "1.0.0")}`), env, createExecutionContext());
    expect(res.status).toBe(500);
    expect(await res.text()).toBe('{"error":{"code":"internal_error","message":"internal error"}}');
  });

  it("READ_ACCESS=token: reads need a token, the identity document stays public", async () => {
    const app = createApp();
    const tokenEnv = { ...env, READ_ACCESS: "token" };
    const get = (path: string, token?: string) => app.fetch(new Request(`${ORIGIN}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} }), tokenEnv, createExecutionContext());
    expect(await errorOf(await get(packagePath("@read/pkg", "1.0.0")))).toMatchObject({ status: 401, code: "unauthorized" });
    const read = (await (await admin("POST", "/tokens", { scope: "read" })).json()) as { token: string };
    const ok = await get(`${packagePath("@read/pkg", "1.0.0")}/artifact`, read.token);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("cache-control")).toBe("private, max-age=31536000, immutable");
    expect((await get(WELL_KNOWN_PATH)).status).toBe(200);
  });

  it("a misconfigured registry says which variable is wrong and never its value", async () => {
    const app = createApp();
    const res = await app.fetch(new Request(`${ORIGIN}${WELL_KNOWN_PATH}`), { ...env, REGISTRY_SIGNING_KEY: "short-secret-value" }, createExecutionContext());
    const body = await res.text();
    expect(res.status).toBe(500);
    expect(body).toContain("REGISTRY_SIGNING_KEY");
    expect(body).not.toContain("short-secret-value");
  });
});
