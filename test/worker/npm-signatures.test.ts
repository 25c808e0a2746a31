/**
 * npm registry signatures (docs/PROTOCOL.md §11, "Registry signatures"), in workerd with real D1:
 *
 * - `GET /-/npm/v1/keys` serves NPM_SIGNING_KEY's public key in npm's exact format (and `{"keys":[]}`
 *   without the secret; a bad secret is a 500 naming the variable, never its value);
 * - every npm version's `dist.signatures`, in the full, abbreviated and single-version documents,
 *   is an ECDSA P-256 DER signature over `<name>@<version>:<integrity>` that WebCrypto verifies
 *   under the served key, signed at publish and stored with the row (same D1 round trips);
 * - versions published before the key existed, or under an earlier key, are signed on the next
 *   packument build and stored once (the backfill), and a signature by any other key is never served;
 * - the signed identity document lists the key (`npmKeys`), vouched for by the Ed25519 key.
 */

import { createExecutionContext, env, waitOnExecutionContext } from "cloudflare:test";
import { beforeAll, describe, expect, it } from "vitest";
import {
  ABBREVIATED_TYPE,
  checkIdentityNpmKeys,
  createNpmSigner,
  fromBase64,
  generateNpmSigningKey,
  keyPairFromSeed,
  npmKeyid,
  openIdentity,
  p1363FromDer,
  sriFromHex,
  utf8,
  verifyNpmSignature,
  WELL_KNOWN_PATH,
} from "../../src/core/index.js";
import { createApp } from "../../src/worker/app.js";
import { d1MetaStore } from "../../src/worker/storage/d1.js";
import { newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";
import { enrol, ORIGIN, packagePath, record, seen, SIGNING_KEY } from "./helpers.js";

const TEST_NPM_SIGNING_KEY = env.NPM_SIGNING_KEY!;

/** An app whose D1 store counts its calls by method. */
function countingApp() {
  const calls: string[] = [];
  const app = createApp({
    meta: (e) =>
      new Proxy(d1MetaStore(e.DB), {
        get(target, prop) {
          const value = Reflect.get(target, prop) as unknown;
          if (typeof value !== "function" || typeof prop !== "string") return value;
          return (...args: unknown[]) => (calls.push(prop), (value as (...a: unknown[]) => unknown).apply(target, args));
        },
      }),
  });
  return { app, calls };
}

const plain = createApp();

/** A request through the app with NPM_SIGNING_KEY set to `key` ("" for none); waits for background work. */
async function send(path: string, init: { method?: string; body?: Uint8Array; headers?: Record<string, string>; key?: string; vars?: Record<string, string>; app?: ReturnType<typeof createApp> } = {}) {
  const ctx = createExecutionContext();
  const request = new Request(`${ORIGIN}${path}`, { method: init.method ?? "GET", body: init.body, headers: init.headers });
  const res = await record(await (init.app ?? plain).fetch(request, { ...env, NPM_SIGNING_KEY: init.key ?? TEST_NPM_SIGNING_KEY, ...init.vars }, ctx));
  const text = await res.text();
  await waitOnExecutionContext(ctx);
  return { status: res.status, text, json: () => JSON.parse(text) as any, headers: res.headers };
}

let publisher: Publisher;
let token: string;
const integrities = new Map<string, string>();

async function publish(name: string, version: string, options: { key?: string; app?: ReturnType<typeof createApp>; bytes?: Uint8Array } = {}) {
  const bytes = options.bytes ?? (await npmTarball({ name, version, main: "index.js" }));
  integrities.set(`${name}@${version}`, sriFromHex("sha512", [...new Uint8Array(await crypto.subtle.digest("SHA-512", bytes))].map((b) => b.toString(16).padStart(2, "0")).join("")));
  const res = await send(packagePath(name, version), {
    method: "PUT",
    body: await uploadBody(await signedParts(publisher, name, version, bytes)),
    headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" },
    key: options.key,
    app: options.app,
  });
  expect(res.status, res.text).toBe(201);
}

const storedSignature = async (name: string, version: string) =>
  (await env.DB.prepare("SELECT npm_signature FROM versions WHERE name = ? AND version = ?").bind(name, version).first<{ npm_signature: string | null }>())!.npm_signature;
const revision = async (name: string) => (await env.DB.prepare("SELECT revision FROM package_revisions WHERE name = ?").bind(name).first<{ revision: string }>())!.revision;

/** WebCrypto's own check of a `dist.signatures` entry (DER → r || s), independent of core's verifier. */
async function webCryptoVerifies(key: string, sig: string, message: string): Promise<boolean> {
  const publicKey = await crypto.subtle.importKey("spki", fromBase64(key)!, { name: "ECDSA", namedCurve: "P-256" }, false, ["verify"]);
  const raw = p1363FromDer(fromBase64(sig)!);
  return raw !== undefined && crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, publicKey, raw, utf8(message));
}

let keyid: string;
let key: string;

beforeAll(async () => {
  publisher = await newPublisher();
  token = await enrol("@sig", publisher);
  ({ keyid, key } = (await createNpmSigner(TEST_NPM_SIGNING_KEY)).registryKey);
});

describe("GET /-/npm/v1/keys", () => {
  it("serves the key in npm's exact format: keyid = OpenSSH SHA-256 fingerprint, key = base64 SPKI DER of the secret's public key", async () => {
    const res = await send("/-/npm/v1/keys");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(res.json()).toEqual({ keys: [{ expires: null, keyid, keytype: "ecdsa-sha2-nistp256", scheme: "ecdsa-sha2-nistp256", key }] });
    expect(Object.keys(res.json().keys[0])).toEqual(["expires", "keyid", "keytype", "scheme", "key"]);
    // The key is the secret's: WebCrypto's own SPKI export of the PKCS#8 key's public half.
    const jwk = (await crypto.subtle.exportKey("jwk", await crypto.subtle.importKey("pkcs8", fromBase64(TEST_NPM_SIGNING_KEY)!, { name: "ECDSA", namedCurve: "P-256" }, true, ["sign"]))) as JsonWebKey;
    const publicKey = await crypto.subtle.importKey("jwk", { kty: "EC", crv: "P-256", x: jwk.x, y: jwk.y }, { name: "ECDSA", namedCurve: "P-256" }, true, ["verify"]);
    const spki = new Uint8Array((await crypto.subtle.exportKey("spki", publicKey)) as ArrayBuffer);
    expect(key).toBe(btoa(String.fromCharCode(...spki)));
    expect(keyid).toBe(await npmKeyid(spki));
    expect(keyid).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it("without NPM_SIGNING_KEY: 200 {\"keys\":[]} (npm then audits nothing here, as for a 404)", async () => {
    const res = await send("/-/npm/v1/keys", { key: "" });
    expect(res.status).toBe(200);
    expect(res.text).toBe('{"keys":[]}');
  });

  it("is public even with READ_ACCESS=token: it is a public key", async () => {
    expect((await send("/-/npm/v1/keys", { vars: { READ_ACCESS: "token" } })).json().keys).toHaveLength(1);
  });

  it("a bad NPM_SIGNING_KEY is a 500 naming the variable, never its value, wherever the key is used", async () => {
    const bad = "c2VjcmV0LW5wbS1rZXktdmFsdWUtbm90LWEta2V5LXJlYWxseQ==";
    await publish("@sig/before-misconfig", "1.0.0");
    for (const [method, path] of [
      ["GET", "/-/npm/v1/keys"],
      ["GET", "/@sig%2fbefore-misconfig"],
      ["GET", "/@sig%2fbefore-misconfig/1.0.0"],
      ["GET", WELL_KNOWN_PATH],
      ["PUT", packagePath("@sig/never", "1.0.0")],
    ] as const) {
      const res = await send(path, { method, key: bad, ...(method === "PUT" ? { body: new Uint8Array(8), headers: { authorization: `Bearer ${token}` } } : {}) });
      expect(res.status, path).toBe(500);
      expect(res.text).toContain("misconfigured");
      expect(res.text).toContain("NPM_SIGNING_KEY");
      expect(res.text).not.toContain(bad);
      expect(res.text).not.toContain("c2VjcmV0");
    }
  });
});

describe("dist.signatures", () => {
  it("signed at publish and stored with the row, in the same D1 round trips as an unsigned publish", async () => {
    const signed = countingApp();
    await publish("@sig/rounds", "1.0.0", { app: signed.app });
    const unsigned = countingApp();
    await publish("@sig/rounds", "1.0.1", { app: unsigned.app, key: "" });
    expect(signed.calls).toEqual(unsigned.calls);
    expect(signed.calls.filter((c) => c === "rememberNpmSignatures")).toEqual([]);
    const stored = JSON.parse((await storedSignature("@sig/rounds", "1.0.0"))!) as { keyid: string; sig: string };
    expect(stored.keyid).toBe(keyid);
    expect(await webCryptoVerifies(key, stored.sig, `@sig/rounds@1.0.0:${integrities.get("@sig/rounds@1.0.0")}`)).toBe(true);
    expect(await storedSignature("@sig/rounds", "1.0.1")).toBeNull();
  });

  it("full, abbreviated and single-version documents carry [{keyid, sig}] over name@version:integrity, DER, verified by WebCrypto", async () => {
    await publish("@sig/hello", "1.0.0");
    await publish("@sig/hello", "1.1.0");
    const full = (await send("/@sig%2fhello")).json();
    const abbreviated = (await send("/@sig%2fhello", { headers: { accept: ABBREVIATED_TYPE } })).json();
    const one = (await send("/@sig%2fhello/1.1.0")).json();
    for (const [version, doc] of [
      ["1.0.0", full.versions["1.0.0"]],
      ["1.1.0", full.versions["1.1.0"]],
      ["1.0.0", abbreviated.versions["1.0.0"]],
      ["1.1.0", abbreviated.versions["1.1.0"]],
      ["1.1.0", one],
    ] as const) {
      const integrity = integrities.get(`@sig/hello@${version}`)!;
      expect(doc.dist.integrity).toBe(integrity);
      expect(doc.dist.signatures).toEqual([{ keyid, sig: expect.any(String) }]);
      const { sig } = doc.dist.signatures[0];
      const der = fromBase64(sig)!;
      expect(der[0]).toBe(0x30); // DER SEQUENCE, as node:crypto verifies by default — not WebCrypto's 64-byte r || s
      expect(der.length).toBeGreaterThanOrEqual(8);
      expect(der.length).toBeLessThanOrEqual(72);
      expect(await webCryptoVerifies(key, sig, `@sig/hello@${version}:${integrity}`)).toBe(true);
      expect(await verifyNpmSignature(key, doc.dist.signatures[0], "@sig/hello", version, integrity)).toBe(true);
      // Bound to the name, the version and the integrity: any other message fails.
      expect(await webCryptoVerifies(key, sig, `@sig/hello@${version === "1.0.0" ? "1.1.0" : "1.0.0"}:${integrity}`)).toBe(false);
      expect(await webCryptoVerifies(key, sig, `@sig/evil@${version}:${integrity}`)).toBe(false);
      expect(await webCryptoVerifies(key, sig, `@sig/hello@${version}:${integrities.get(`@sig/hello@${version === "1.0.0" ? "1.1.0" : "1.0.0"}`)}`)).toBe(false);
    }
    // The stored signature is the one served (signed once, at publish).
    expect(JSON.parse((await storedSignature("@sig/hello", "1.0.0"))!)).toEqual(full.versions["1.0.0"].dist.signatures[0]);
  });

  it("artifacts that are not npm packages get no npm signature", async () => {
    await publish("@sig/blob", "1.0.0", { bytes: utf8("not a tarball") });
    expect(await storedSignature("@sig/blob", "1.0.0")).toBeNull();
  });

  it("without NPM_SIGNING_KEY no signature is served, not even a stored one (npm would find no key for it)", async () => {
    const doc = (await send("/@sig%2fhello", { key: "" })).json();
    expect(doc.versions["1.0.0"].dist.signatures).toBeUndefined();
    expect(JSON.parse((await storedSignature("@sig/hello", "1.0.0"))!).keyid).toBe(keyid);
  });
});

describe("backfill", () => {
  it("versions published before the key existed are signed on the next packument build, stored once, and then read as is", async () => {
    await publish("@sig/old", "1.0.0", { key: "" });
    await publish("@sig/old", "2.0.0", { key: "" });
    expect(await storedSignature("@sig/old", "1.0.0")).toBeNull();
    expect((await send("/@sig%2fold", { key: "" })).json().versions["1.0.0"].dist.signatures).toBeUndefined();

    const first = countingApp();
    const served = (await send("/@sig%2fold", { headers: { accept: ABBREVIATED_TYPE }, app: first.app })).json();
    expect(first.calls).toContain("rememberNpmSignatures");
    for (const version of ["1.0.0", "2.0.0"]) {
      const [signature] = served.versions[version].dist.signatures;
      expect(signature.keyid).toBe(keyid);
      expect(await webCryptoVerifies(key, signature.sig, `@sig/old@${version}:${integrities.get(`@sig/old@${version}`)}`)).toBe(true);
      expect(JSON.parse((await storedSignature("@sig/old", version))!)).toEqual(signature); // what was served is what was stored
    }

    // Now constant work: nothing left to sign, nothing written, the revision stays.
    const before = await revision("@sig/old");
    const second = countingApp();
    const again = (await send("/@sig%2fold", { app: second.app })).json();
    expect(second.calls).not.toContain("rememberNpmSignatures");
    expect(await revision("@sig/old")).toBe(before);
    expect(again.versions["2.0.0"].dist.signatures).toEqual(served.versions["2.0.0"].dist.signatures);
  });

  it("the single-version document backfills too", async () => {
    await publish("@sig/single", "1.0.0", { key: "" });
    const doc = (await send("/@sig%2fsingle/1.0.0")).json();
    expect(await webCryptoVerifies(key, doc.dist.signatures[0].sig, `@sig/single@1.0.0:${integrities.get("@sig/single@1.0.0")}`)).toBe(true);
    expect(JSON.parse((await storedSignature("@sig/single", "1.0.0"))!)).toEqual(doc.dist.signatures[0]);
  });

  it("after a key change every version is re-signed with the new key; the old key's signatures are never served", async () => {
    const next = await generateNpmSigningKey();
    const doc = (await send("/@sig%2fhello", { key: next.secret })).json();
    for (const version of ["1.0.0", "1.1.0"]) {
      const [signature] = doc.versions[version].dist.signatures;
      expect(signature.keyid).toBe(next.keyid);
      expect(await webCryptoVerifies(next.key, signature.sig, `@sig/hello@${version}:${integrities.get(`@sig/hello@${version}`)}`)).toBe(true);
      expect(JSON.parse((await storedSignature("@sig/hello", version))!).keyid).toBe(next.keyid);
    }
    expect((await send("/-/npm/v1/keys", { key: next.secret })).json().keys.map((k: { keyid: string }) => k.keyid)).toEqual([next.keyid]);
    // And back: re-signed again under the test key, on the next build.
    expect((await send("/@sig%2fhello")).json().versions["1.0.0"].dist.signatures[0].keyid).toBe(keyid);
  });
});

describe("identity document", () => {
  it("lists the npm key (npmKeys), signed by the registry's Ed25519 key: the keys endpoint adds no trust root", async () => {
    const fingerprint = (await keyPairFromSeed(fromBase64(SIGNING_KEY)!)).keyid;
    const opened = await openIdentity((await send(WELL_KNOWN_PATH)).json(), [fingerprint]);
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.value.document.npmKeys).toEqual([{ keyid, keytype: "ecdsa-sha2-nistp256", key }]);
    expect(await checkIdentityNpmKeys(opened.value.document)).toBeUndefined();
    const served = (await send("/-/npm/v1/keys")).json().keys[0];
    expect(opened.value.document.npmKeys![0]).toEqual({ keyid: served.keyid, keytype: served.keytype, key: served.key });
  });

  it("has no npmKeys without NPM_SIGNING_KEY", async () => {
    const opened = await openIdentity((await send(WELL_KNOWN_PATH, { key: "" })).json());
    expect(opened.ok && opened.value.document.npmKeys).toBeUndefined();
  });

  it("a listed key whose keyid is not its fingerprint is caught", async () => {
    const other = await generateNpmSigningKey();
    expect(await checkIdentityNpmKeys({ npmKeys: [{ keyid, keytype: "ecdsa-sha2-nistp256", key: other.key }] } as never)).toBe(`npm key listed as ${keyid} has keyid ${other.keyid}`);
  });
});

it("no response of this file ever contained the npm signing key", () => {
  expect(seen.length).toBeGreaterThan(20);
  for (const response of seen) expect(`${response.headers}${response.body}`).not.toContain(TEST_NPM_SIGNING_KEY.slice(40, 80));
});
