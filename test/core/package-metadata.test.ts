/**
 * Signed package metadata (src/core/package-metadata.ts, PROTOCOL §19): the statement opens only
 * under the pinned key, for its package, within its validity window, never older than what was
 * seen (rollback) nor different under the same serial (equivocation); a statement that is not
 * self-consistent is refused however it is signed; any changed byte fails.
 */
import { describe, expect, it } from "vitest";
import { expectAnyChangedByteFails } from "../helpers/tamper.js";
import {
  checkListed,
  createSigner,
  fromBase64,
  fromUtf8,
  METADATA_RECORD_TYPE,
  metadataRecordEntry,
  metadataRecordOf,
  parseLogEntry,
  parseMetadataRecord,
  generateKeyPair,
  METADATA_PAYLOAD_TYPE,
  METADATA_TYPE,
  openPackageMetadata,
  signEnvelope,
  signPackageMetadata,
  toBase64,
  utf8,
  type Envelope,
  type MetadataVersion,
  type Signer,
} from "../../src/core/index.js";

const HOUR = 3_600_000;
const T0 = new Date("2026-11-26T12:00:00.000Z");
const A = "a".repeat(128);
const B = "b".repeat(128);
const VERSIONS: MetadataVersion[] = [
  { version: "1.0.0", sequence: 3, sha512: A, publishedAt: "2026-11-20T00:00:00.000Z" },
  { version: "1.1.0", sequence: 9, sha512: B, publishedAt: "2026-11-25T00:00:00.000Z", deprecated: "use 1.2" },
];

const signer: Signer = await createSigner(await generateKeyPair());
const other: Signer = await createSigner(await generateKeyPair());

async function sign(overrides: Partial<Parameters<typeof signPackageMetadata>[0]> = {}, by = signer): Promise<Envelope> {
  return signPackageMetadata({ name: "@acme/utils", origin: "https://npm.acme.dev", serial: 4, versions: VERSIONS, distTags: { latest: "1.1.0" }, issuedAt: T0, ...overrides }, by);
}

/** A statement signed as-is, bypassing signPackageMetadata's own construction. */
async function signRaw(statement: Record<string, unknown>): Promise<Envelope> {
  return signEnvelope(METADATA_PAYLOAD_TYPE, utf8(JSON.stringify(statement)), signer);
}

const open = (envelope: unknown, options: { now?: Date; seen?: { serial: number; contentSha256: string }; pinned?: string[]; name?: string } = {}) =>
  openPackageMetadata(envelope, { name: options.name ?? "@acme/utils", pinned: options.pinned ?? [signer.keyid], now: options.now ?? new Date(T0.getTime() + HOUR), seen: options.seen });

describe("package metadata", () => {
  it("opens under the pinned key and says what it lists", async () => {
    const opened = await open(await sign());
    expect(opened.ok).toBe(true);
    if (!opened.ok) return;
    expect(opened.value.metadata).toMatchObject({ _type: METADATA_TYPE, name: "@acme/utils", namespace: "@acme", serial: 4, distTags: { latest: "1.1.0" }, expires: "2026-11-27T12:00:00.000Z" });
    expect(opened.value.metadata.versions.map((v) => v.version)).toEqual(["1.0.0", "1.1.0"]);
    expect(opened.value.contentSha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it("refuses a key that is not pinned, naming both fingerprints, and a statement for another package", async () => {
    const foreign = await open(await sign({}, other));
    expect(!foreign.ok && foreign.error).toMatchObject({ code: "metadata_untrusted", expected: signer.keyid, actual: other.keyid });
    const elsewhere = await open(await sign(), { name: "@acme/other" });
    expect(!elsewhere.ok && elsewhere.error).toMatchObject({ code: "metadata_mismatch", expected: "@acme/other", actual: "@acme/utils" });
    expect(!(await open(undefined)).ok && (await open(undefined))).toMatchObject({ ok: false, error: { code: "metadata_missing" } });
  });

  it("freeze: an expired statement fails; one issued in the future (beyond clock skew) too", async () => {
    const expired = await open(await sign(), { now: new Date(T0.getTime() + 24 * HOUR) });
    expect(!expired.ok && expired.error).toMatchObject({ code: "metadata_expired", actual: "2026-11-27T12:00:00.000Z" });
    const future = await open(await sign(), { now: new Date(T0.getTime() - HOUR) });
    expect(!future.ok && future.error.code).toBe("metadata_invalid");
    expect((await open(await sign(), { now: new Date(T0.getTime() - 60_000) })).ok).toBe(true);
  });

  it("rollback: a lower serial than seen fails; equivocation: the same serial with other contents fails; a re-signed one passes", async () => {
    const first = await open(await sign());
    if (!first.ok) throw new Error("setup");
    const seen = { serial: 4, contentSha256: first.value.contentSha256 };
    const older = await open(await sign({ serial: 3 }), { seen });
    expect(!older.ok && older.error).toMatchObject({ code: "metadata_rollback", expected: "serial ≥ 4", actual: "serial 3" });
    const forked = await open(await sign({ distTags: { latest: "1.0.0" } }), { seen });
    expect(!forked.ok && forked.error.code).toBe("metadata_equivocation");
    // Re-signed later for a new expiry: same serial, same contents.
    const resigned = await open(await sign({ issuedAt: new Date(T0.getTime() + 2 * HOUR) }), { seen, now: new Date(T0.getTime() + 3 * HOUR) });
    expect(resigned.ok).toBe(true);
    expect((await open(await sign({ serial: 5, distTags: { latest: "1.0.0" } }), { seen })).ok).toBe(true);
  });

  it("refuses statements that are not self-consistent, however they are signed", async () => {
    const base = {
      _type: METADATA_TYPE,
      registry: { keyid: signer.keyid, publicKey: toBase64(signer.publicKey), origin: "https://npm.acme.dev" },
      name: "@acme/utils",
      namespace: "@acme",
      serial: 4,
      issuedAt: T0.toISOString(),
      expires: new Date(T0.getTime() + 24 * HOUR).toISOString(),
      versions: VERSIONS,
      distTags: { latest: "1.1.0" },
    };
    expect((await open(await signRaw(base))).ok).toBe(true);
    const bad: [string, Record<string, unknown>][] = [
      ["valid for more than a day", { expires: new Date(T0.getTime() + 24 * HOUR + 1).toISOString() }],
      ["expires before issued", { expires: T0.toISOString() }],
      ["a tag to an unlisted version", { distTags: { latest: "2.0.0" } }],
      ["a version listed twice", { versions: [VERSIONS[0], { ...VERSIONS[1], version: "1.0.0" }] }],
      ["versions out of sequence order", { versions: [VERSIONS[1], VERSIONS[0]] }],
      ["another namespace", { namespace: "@evil" }],
      ["an unknown field", { mirrors: ["https://x"] }],
      ["a serial of 0", { serial: 0 }],
      ["a short digest", { versions: [{ ...VERSIONS[0], sha512: "ab" }] }],
    ];
    for (const [what, change] of bad) {
      const opened = await open(await signRaw({ ...base, ...change }));
      expect(opened.ok, what).toBe(false);
      expect(!opened.ok && opened.error.code, what).toBe("metadata_invalid");
    }
  });

  it("any changed payload or signature byte fails", async () => {
    await expectAnyChangedByteFails(await sign(), (changed) => open(changed));
  });

  it("checkListed: a locked version must be listed with its bytes and sequence", async () => {
    const opened = await open(await sign());
    if (!opened.ok) throw new Error("setup");
    const m = opened.value.metadata;
    expect(checkListed(m, { version: "1.1.0", sha512: B, sequence: 9 })).toBeUndefined();
    expect(checkListed(m, { version: "1.2.0", sha512: B })).toMatchObject({ code: "version_not_listed", actual: "1.2.0" });
    expect(checkListed(m, { version: "1.1.0", sha512: A })).toMatchObject({ code: "version_not_listed", expected: `sha512:${B}`, actual: `sha512:${A}` });
    expect(checkListed(m, { version: "1.1.0", sha512: B, sequence: 8 })).toMatchObject({ code: "version_not_listed", expected: "9", actual: "8" });
  });

  it("checkListed: a revoked publisher key voids its versions from `since` on, and only those", async () => {
    const stolen = (await generateKeyPair()).keyid;
    const honest = (await generateKeyPair()).keyid;
    const opened = await open(await sign({ revokedKeys: [{ keyid: stolen, since: 9, sequence: 12, revokedAt: "2026-11-26T00:00:00.000Z" }] }));
    if (!opened.ok) throw new Error(opened.error.message);
    const m = opened.value.metadata;
    // Before `since`: countersigned while the key was trusted, and the log fixes that order.
    expect(checkListed(m, { version: "1.0.0", sha512: A, sequence: 3, publisherKeyid: stolen })).toBeUndefined();
    expect(checkListed(m, { version: "1.1.0", sha512: B, sequence: 9, publisherKeyid: stolen })).toMatchObject({ code: "publisher_revoked", expected: "a version before sequence 9, or another publisher key", actual: `sequence 9 by ${stolen}` });
    expect(checkListed(m, { version: "1.1.0", sha512: B, sequence: 9, publisherKeyid: honest })).toBeUndefined();
    // The statement without revocations signs the same bytes as before revocations existed.
    const plain = JSON.parse(new TextDecoder().decode(fromBase64((await sign()).payload)!)) as Record<string, unknown>;
    expect("revokedKeys" in plain).toBe(false);
  });

  it("a revocation list that contradicts itself is refused however it is signed", async () => {
    const keyid = (await generateKeyPair()).keyid;
    const revoked = { keyid, since: 3, sequence: 12, revokedAt: "2026-11-26T00:00:00.000Z" };
    const base = JSON.parse(new TextDecoder().decode(fromBase64((await sign()).payload)!)) as Record<string, unknown>;
    for (const [what, revokedKeys] of [
      ["the same key twice", [revoked, { ...revoked, sequence: 13 }]],
      ["since after the revocation", [{ ...revoked, since: 13 }]],
      ["an empty list", []],
      ["not a fingerprint", [{ ...revoked, keyid: "alice" }]],
    ] as const) {
      const opened = await open(await signRaw({ ...base, revokedKeys }));
      expect(!opened.ok && opened.error.code, what).toBe("metadata_invalid");
    }
  });

  it("a serial re-signed by the rotated key's successor keeps its contents digest (and so its log record)", async () => {
    const before = await open(await sign());
    const after = await open(await sign({ origin: "https://npm.acme.dev" }, other), { pinned: [other.keyid] });
    if (!before.ok || !after.ok) throw new Error("setup");
    expect(after.value.contentSha256).toBe(before.value.contentSha256);
    const moved = await open(await sign({ distTags: { latest: "1.0.0" } }));
    expect(moved.ok && moved.value.contentSha256).not.toBe(before.value.contentSha256);
  });

  it("a metadata record (PROTOCOL §19.1): recomputed from the signed statement, canonical, and a log entry of its own kind", async () => {
    const envelope = await sign();
    const opened = await open(envelope);
    if (!opened.ok) throw new Error("setup");
    const record = await metadataRecordOf(envelope);
    expect(record).toEqual({ ok: true, value: { name: "@acme/utils", serial: 4, contentSha256: opened.value.contentSha256 } });
    const entry = metadataRecordEntry(record.ok ? record.value : (undefined as never));
    expect(fromUtf8(entry)).toBe(`{"_type":"${METADATA_RECORD_TYPE}","name":"@acme/utils","serial":4,"contentSha256":"${opened.value.contentSha256}"}`);
    expect(parseMetadataRecord(entry)).toEqual(record);
    expect(parseLogEntry(entry, 12)).toEqual({ ok: true, value: { kind: "metadata", index: 12, record: record.ok && record.value } });
    // The same record in another byte form, another field, or a bad name is not an entry a consumer would recompute.
    const fields = { _type: METADATA_RECORD_TYPE, name: "@acme/utils", serial: 4, contentSha256: opened.value.contentSha256 };
    for (const [what, bytes] of [
      ["spaced", utf8(JSON.stringify(fields, null, 1))],
      ["reordered", utf8(JSON.stringify({ name: fields.name, _type: fields._type, serial: 4, contentSha256: fields.contentSha256 }))],
      ["an extra field", utf8(JSON.stringify({ ...fields, extra: 1 }))],
      ["a bad name", utf8(JSON.stringify({ ...fields, name: "@ACME/x" }))],
      ["a short digest", utf8(JSON.stringify({ ...fields, contentSha256: "ab" }))],
    ] as const) {
      expect(parseMetadataRecord(bytes).ok, what).toBe(false);
      expect(parseLogEntry(bytes, 12).ok, what).toBe(false);
    }
  });
});
