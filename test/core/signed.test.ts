/**
 * `openStatement` (src/core/signed.ts): every outcome of its table, each with its exact code, in
 * the order the table gives; the Go `TestOpen` style of a bad-input table. And the statements'
 * fast acceptance path (statement.ts) against the zod schemas it stands in for.
 */

import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  COUNTERSIGN_STATEMENT,
  CountersignStatementSchema,
  fingerprint,
  fromBase64,
  fromUtf8,
  IN_TOTO_PAYLOAD_TYPE,
  isCountersignStatement,
  isPublishStatement,
  openIdentity,
  openStatement,
  PUBLISH_STATEMENT,
  PublishStatementSchema,
  signEnvelope,
  signIdentity,
  toBase64,
  useNativeCrypto,
  utf8,
  type Envelope,
  type MaybePromise,
  type OpenedStatement,
  type OpenOptions,
  type PublishStatement,
  type Result,
  type Signer,
  type SignedObjectCode,
  type SignedObjectProblem,
  type StatementFormat,
} from "../../src/core/index.js";
import { nodeNativeCrypto } from "../../scripts/cli/native-ed25519.js";
import { makeBundle, signerFromSeedByte, type Made } from "../helpers/bundles.js";

let alice: Signer; // the publisher the statement names
let bob: Signer;
let registry: Signer;
let made: Made;
let statement: PublishStatement;

beforeAll(async () => {
  useNativeCrypto(undefined);
  [alice, bob, registry] = (await Promise.all([3, 4, 1].map(signerFromSeedByte))) as [Signer, Signer, Signer];
  made = await makeBundle({ publisher: alice, registry, name: "@acme/utils", version: "1.2.3", bytes: utf8("the tarball") });
  statement = JSON.parse(fromUtf8(fromBase64(made.bundle.publisher.payload)!)) as PublishStatement;
});

const json = (value: unknown) => utf8(JSON.stringify(value));
const withPublisher = (publisher: { keyid: string; publicKey: string }) => ({ ...statement, predicate: { ...statement.predicate, publisher } });
const flipSig = (envelope: Envelope): Envelope => {
  const sig = fromBase64(envelope.signatures[0]!.sig)!;
  sig[10]! ^= 4;
  return { ...envelope, signatures: [{ keyid: envelope.signatures[0]!.keyid, sig: toBase64(sig) }] };
};

type Opening = MaybePromise<Result<OpenedStatement<unknown>, SignedObjectProblem>>;

interface Case {
  name: string;
  value: () => Promise<unknown>;
  options?: () => OpenOptions;
  /** How to open the value, when not as a publish statement. */
  open?: (value: unknown) => Opening;
  code: SignedObjectCode;
  message?: string | (() => string);
}

const cases: Case[] = [
  { name: "not an object", value: async () => "envelope", code: "malformed_envelope", message: "envelope is not a JSON object" },
  { name: "an extra field", value: async () => ({ ...made.bundle.publisher, extra: 1 }), code: "malformed_envelope", message: "envelope must have exactly payloadType, payload and signatures" },
  { name: "two signatures", value: async () => ({ ...made.bundle.publisher, signatures: [made.bundle.publisher.signatures[0], made.bundle.publisher.signatures[0]] }), code: "malformed_envelope", message: "envelope must carry exactly one signature" },
  { name: "unpadded base64", value: async () => ({ ...made.bundle.publisher, payload: made.bundle.publisher.payload.replace(/=+$/, "") }), code: "malformed_envelope" },
  { name: "a keyid that is no fingerprint", value: async () => ({ ...made.bundle.publisher, signatures: [{ keyid: "alice", sig: made.bundle.publisher.signatures[0]!.sig }] }), code: "malformed_envelope", message: "signature keyid is not a SHA256: fingerprint" },
  { name: "another signer than expected", value: async () => made.bundle.publisher, options: () => ({ signedBy: [bob.keyid] }), code: "unexpected_signer", message: () => `signed by ${alice.keyid}, expected ${bob.keyid}` },
  {
    name: "an unexpected signer of a wrong payload type (step 2 comes first)",
    value: async () => signEnvelope("text/plain", json(statement), bob),
    options: () => ({ signedBy: [alice.keyid] }),
    code: "unexpected_signer",
  },
  { name: "another payload type", value: async () => signEnvelope("application/json", json(statement), alice), code: "wrong_payload_type", message: "not an in-toto statement" },
  { name: "a payload that is not JSON", value: async () => signEnvelope(IN_TOTO_PAYLOAD_TYPE, utf8("{not json"), alice), code: "malformed_payload", message: "statement: payload is not UTF-8 JSON" },
  { name: "an unknown field", value: async () => signEnvelope(IN_TOTO_PAYLOAD_TYPE, json({ ...statement, extra: true }), alice), code: "malformed_payload" },
  { name: "a namespace that is not the name's", value: async () => signEnvelope(IN_TOTO_PAYLOAD_TYPE, json({ ...statement, predicate: { ...statement.predicate, namespace: "@other" } }), alice), code: "malformed_payload" },
  {
    name: "a malformed statement by an untrusted key (the pin is checked after the statement)",
    value: async () => signEnvelope(IN_TOTO_PAYLOAD_TYPE, json({ ...statement, extra: true }), bob),
    options: () => ({ trusted: [alice.keyid] }),
    code: "malformed_payload",
  },
  {
    name: "a small-order key",
    value: async () => {
      const identity = Uint8Array.of(1, ...new Uint8Array(31));
      return signEnvelope(IN_TOTO_PAYLOAD_TYPE, json(withPublisher({ keyid: await fingerprint(identity), publicKey: toBase64(identity) })), { ...alice, keyid: await fingerprint(identity) });
    },
    code: "bad_key",
    message: "publisher public key rejected: the point has small order (a weak key that verifies forged signatures)",
  },
  {
    name: "a keyid that is not the named key's fingerprint",
    value: async () => signEnvelope(IN_TOTO_PAYLOAD_TYPE, json(withPublisher({ keyid: bob.keyid, publicKey: toBase64(alice.publicKey) })), bob),
    code: "fingerprint_mismatch",
    message: "publisher keyid is not the fingerprint of the publisher public key",
  },
  { name: "a statement re-signed by another key", value: async () => signEnvelope(IN_TOTO_PAYLOAD_TYPE, json(statement), bob), code: "keyid_mismatch", message: "envelope keyid differs from the publisher key in the statement" },
  { name: "an untrusted signer", value: async () => made.bundle.publisher, options: () => ({ trusted: [bob.keyid] }), code: "untrusted_signer" },
  { name: "a signature that does not verify", value: async () => flipSig(made.bundle.publisher), code: "bad_signature", message: () => `signature by ${alice.keyid} does not verify` },
  {
    name: "an identity document signed by a key it does not list",
    value: async () => {
      const doc = await signIdentity({ name: "r", origin: "https://r.test", namespaces: ["@acme"] }, registry);
      return signEnvelope(doc.payloadType, fromBase64(doc.payload)!, bob);
    },
    open: (value) => openStatement(value, IDENTITY_LIKE),
    code: "unknown_key",
  },
  {
    name: "a fixed key: any other signer is refused before the payload is read",
    value: async () => signEnvelope("text/plain", utf8("not even JSON"), bob),
    open: (value) => openStatement(value, { ...PUBLISH_STATEMENT, signer: { role: "receipt", keyid: alice.keyid, publicKey: alice.publicKey } }),
    code: "unexpected_signer",
  },
];

// The identity document's format, rebuilt from its public pieces (openIdentity keeps its own private).
const IDENTITY_LIKE: StatementFormat<unknown> = {
  payloadType: "application/vnd.countersign.identity.v1+json",
  what: "an identity document",
  parse: (payload) => ({ ok: true, value: JSON.parse(fromUtf8(payload)) as unknown }),
  signer: (document, keyid) => {
    const keys = (document as { keys: { keyid: string; publicKey: string }[] }).keys;
    const key = keys.find((k) => k.keyid === keyid);
    return key && { role: "registry", keyid: key.keyid, publicKey: key.publicKey };
  },
};

describe("openStatement: one code per outcome", () => {
  it.each(cases)("$name → $code", async (c) => {
    const value = await c.value();
    const result = await (c.open ? c.open(value) : openStatement(value, PUBLISH_STATEMENT, c.options?.()));
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.error.code).toBe(c.code);
    if (c.message !== undefined) expect(result.error.message).toBe(typeof c.message === "function" ? c.message() : c.message);
    if (c.code !== "malformed_envelope") expect(result.error).toHaveProperty("keyid");
  });

  it("opens a genuine statement, naming the key whose signature verified", async () => {
    const result = await openStatement(made.bundle.publisher, PUBLISH_STATEMENT, { signedBy: [alice.keyid], trusted: [alice.keyid] });
    expect(result.ok && result.value.keyid).toBe(alice.keyid);
    expect(result.ok && result.value.statement).toEqual(statement);
    expect(result.ok && result.value.envelope.envelope).toEqual(made.bundle.publisher);
  });

  it("carries the statement, unverified, only past the point where the signer is known", async () => {
    const untrusted = await openStatement(made.bundle.publisher, PUBLISH_STATEMENT, { trusted: [bob.keyid] });
    const forged = await openStatement(flipSig(made.bundle.publisher), PUBLISH_STATEMENT);
    for (const result of [untrusted, forged]) {
      expect(!result.ok && "unverified" in result.error && result.error.unverified.statement).toEqual(statement);
    }
    const countersigned = await openStatement(made.bundle.countersignature, COUNTERSIGN_STATEMENT, { trusted: [bob.keyid] });
    expect(!countersigned.ok && countersigned.error.code === "untrusted_signer" && countersigned.error.unverified.statement.predicate.registry.keyid).toBe(registry.keyid);
  });

  it("answers the identity document's pin after its key is found, as before", async () => {
    const doc = await signIdentity({ name: "r", origin: "https://r.test", namespaces: ["@acme"] }, registry);
    expect(await openIdentity(doc, [bob.keyid])).toEqual({ ok: false, error: `identity document is signed by ${registry.keyid}, expected ${bob.keyid}` });
    expect((await openIdentity(doc, [registry.keyid])).ok).toBe(true);
  });

  describe("with a synchronous native verifier", () => {
    beforeAll(() => useNativeCrypto(nodeNativeCrypto));
    afterAll(() => useNativeCrypto(undefined));

    it("answers synchronously once the key has been vetted, and asynchronously for the noble re-check", async () => {
      await openStatement(made.bundle.publisher, PUBLISH_STATEMENT); // vets alice's key
      const now = openStatement(made.bundle.publisher, PUBLISH_STATEMENT);
      expect(now).not.toBeInstanceOf(Promise);
      expect(!(now instanceof Promise) && now.ok).toBe(true);
      const later = openStatement(flipSig(made.bundle.publisher), PUBLISH_STATEMENT);
      expect(later).toBeInstanceOf(Promise);
      expect(await later).toMatchObject({ ok: false, error: { code: "bad_signature" } });
    });
  });
});

describe("the statements' fast acceptance path", () => {
  type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
  const EDGE_VALUES: Json[] = [-1, 0, 1.5, 2 ** 53, "", "SHA256:x", "A".repeat(64), "a".repeat(63), "2026-11-24T12:00:00Z", "2026-11-24T12:00:00.000+00:00", [], {}, null, true];

  function pathsOf(value: Json, prefix: string[] = []): string[][] {
    if (value === null || typeof value !== "object") return [prefix];
    return [prefix, ...Object.entries(value).flatMap(([key, child]) => pathsOf(child, [...prefix, key]))];
  }

  function mutate(value: Json, path: string[], kind: "delete" | "replace" | "add", replacement: Json, key: string): Json {
    const copy = structuredClone(value);
    if (path.length === 0) return kind === "replace" ? replacement : copy;
    let parent: Json = copy;
    for (const part of path.slice(0, -1)) parent = (parent as Record<string, Json>)[part]!;
    const last = path[path.length - 1]!;
    const target = parent as Record<string, Json>;
    if (kind === "delete") {
      if (Array.isArray(target)) target.splice(Number(last), 1);
      else delete target[last];
    } else if (kind === "replace") target[last] = replacement;
    else if (target[last] !== null && typeof target[last] === "object" && !Array.isArray(target[last])) (target[last] as Record<string, Json>)[key] = replacement;
    return copy;
  }

  it.each([
    { kind: "publish", payload: () => made.bundle.publisher.payload, accept: isPublishStatement, schema: PublishStatementSchema },
    { kind: "countersign", payload: () => made.bundle.countersignature.payload, accept: isCountersignStatement, schema: CountersignStatementSchema },
  ])("property ($kind): accepts exactly what the zod schema accepts, unchanged", async ({ payload, accept, schema }) => {
    const valid = JSON.parse(fromUtf8(fromBase64(payload())!)) as Json;
    expect(accept(valid)).toBe(true);
    fc.assert(
      fc.property(
        fc.constantFrom(...pathsOf(valid)),
        fc.constantFrom("delete" as const, "replace" as const, "add" as const),
        fc.oneof(fc.jsonValue() as fc.Arbitrary<Json>, fc.constantFrom(...EDGE_VALUES)),
        fc.oneof(fc.string(), fc.constantFrom("name", "__proto__", "size")),
        (path, kind, replacement, key) => {
          const candidate = JSON.parse(JSON.stringify(mutate(valid, path, kind, replacement, key))) as unknown;
          const zod = schema.safeParse(candidate);
          expect(accept(candidate)).toBe(zod.success);
          if (accept(candidate)) expect(zod.data).toEqual(candidate);
        },
      ),
      { numRuns: 1000 },
    );
  });
});
