/**
 * The metadata step of provenance (scripts/cli/verification/metadata.ts `checkMetadata`), with
 * fake verified outcomes and statements signed here: one check per package name and registry
 * key, the statement from the place nearest the front of the search order, each version listed
 * with its bytes and sequence, the stored floor respected, and the floor raised only when every
 * version of the package passed; and the statement's record in the log (its outcome injected here:
 * the log check itself is test/cli/log-check.test.ts and the e2e tests').
 */

import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import "../../scripts/cli/native-ed25519.js";
import { fromUtf8, METADATA_RECORD_TYPE, openPackageMetadata, signPackageMetadata, type Envelope, type Signer, type Verified } from "../../src/core/index.js";
import type { LogItem } from "../../scripts/cli/log/check.js";
import { metadataStore, type MetadataStore } from "../../scripts/cli/log/metadata-store.js";
import { checkMetadata, type ServedMetadata } from "../../scripts/cli/verification/metadata.js";
import type { checkLogs, ProvenanceOutcome, ProvenanceRequest } from "../../scripts/cli/verification/provenance.js";
import { signerFromSeedByte } from "../helpers/bundles.js";

const PINNED = "https://npm.acme.dev";
const MIRROR = "https://mirror.example";
const NOW = new Date("2026-11-25T12:00:00.000Z");
const sha = (byte: string) => byte.repeat(128);

let registry: Signer;
let other: Signer;
beforeAll(async () => {
  registry = await signerFromSeedByte(1);
  other = await signerFromSeedByte(3);
});

async function statement(options: { serial?: number; versions?: [string, number, string][]; signer?: Signer; issuedAt?: Date; latest?: string } = {}): Promise<Envelope> {
  const versions = (options.versions ?? [["1.0.0", 1, sha("a")], ["1.1.0", 2, sha("b")]]).map(([version, sequence, sha512]) => ({ version, sequence, sha512, publishedAt: "2026-11-24T12:00:00.000Z" }));
  return signPackageMetadata(
    { name: "@acme/utils", origin: PINNED, serial: options.serial ?? 100, versions, distTags: { latest: options.latest ?? versions.at(-1)!.version }, issuedAt: options.issuedAt ?? new Date("2026-11-25T06:00:00.000Z") },
    options.signer ?? registry,
  );
}

function request(version: string, sha512: string, locators: string[] = []): ProvenanceRequest {
  return { spec: { name: "@acme/utils", version }, namespace: "@acme", pin: { registry: "team", url: PINNED, fingerprints: [registry.keyid] }, sha512, locators };
}

function verified(version: string, sequence: number, sha512: string, source = PINNED, keyid = registry.keyid): ProvenanceOutcome {
  const v = { name: "@acme/utils", version, namespace: "@acme", sequence, registry: { keyid, origin: PINNED }, publisher: { keyid: "SHA256:publisherpublisherpublisherpublisherpublish", createdAt: "2026-11-26T00:00:00.000Z" } } as unknown as Verified;
  return { status: "verified", verified: v, bundle: {}, source, sha512 };
}

/** Each statement served with a log reference (its record's proof is the log layer's concern: `inLog` below stands in for it). */
const servedBy = (entries: [string, Envelope | undefined][], log: unknown = { index: 7 }): ServedMetadata =>
  new Map(entries.map(([place, envelope]) => [place, new Map(envelope ? [["@acme/utils", { envelope, log }]] : [])]));

/** The records' log check: every record is in the log, or (a fault injected) none is. */
const inLog =
  (found = true, seen: LogItem[] = []): typeof checkLogs =>
  async (requests, outcomes, _options, find) => {
    outcomes.forEach((outcome, i) => {
      if (outcome?.status !== "verified") return;
      const item = find!.itemOf(i, outcome);
      if (!item) return;
      seen.push(item);
      if (!found) outcomes[i] = { status: "failed", failure: { layer: "log", code: "not_in_log", message: `${find!.subject!(item)}not in the log`, name: requests[i]!.spec.name, version: requests[i]!.spec.version, namespace: requests[i]!.namespace } };
    });
  };

let store: MetadataStore;
const check = (requests: ProvenanceRequest[], outcomes: ProvenanceOutcome[], served: ServedMetadata, now = NOW, checkRecords = inLog()) => checkMetadata(requests, outcomes, served, { metadata: store, now, checkRecords });
const codes = (outcomes: ProvenanceOutcome[]) => outcomes.map((o) => (o.status === "failed" ? `${o.failure.layer} ${o.failure.code}` : o.status));

describe("checkMetadata", () => {
  const fresh = () => (store = metadataStore(mkdtempSync(join(tmpdir(), "cs-metadata-check-"))));

  it("two locked versions, one statement: both pass, the report carries it, the floor is raised", async () => {
    fresh();
    const outcomes = [verified("1.0.0", 1, sha("a")), verified("1.1.0", 2, sha("b"))];
    await check([request("1.0.0", sha("a")), request("1.1.0", sha("b"))], outcomes, servedBy([[PINNED, await statement()]]));
    expect(codes(outcomes)).toEqual(["verified", "verified"]);
    expect(outcomes[0]).toMatchObject({ metadata: { serial: 100, from: PINNED, expires: "2026-11-26T06:00:00.000Z" } });
    expect(store.read(registry.keyid, "@acme/utils")?.serial).toBe(100);
  });

  it("no statement where the bundles came from: metadata_missing for every version, naming the place", async () => {
    fresh();
    const outcomes = [verified("1.0.0", 1, sha("a"), MIRROR), verified("1.1.0", 2, sha("b"), MIRROR)];
    await check([request("1.0.0", sha("a"), [MIRROR]), request("1.1.0", sha("b"), [MIRROR])], outcomes, servedBy([[MIRROR, undefined]]));
    expect(codes(outcomes)).toEqual(["metadata metadata_missing", "metadata metadata_missing"]);
    expect((outcomes[0] as Extract<ProvenanceOutcome, { status: "failed" }>).failure).toMatchObject({ name: "@acme/utils", version: "1.0.0", namespace: "@acme", message: expect.stringContaining(`(metadata from ${MIRROR})`) });
    expect(store.read(registry.keyid, "@acme/utils")).toBeUndefined();
  });

  it("a version listed with other bytes or another sequence fails alone, and the floor is not raised", async () => {
    fresh();
    const outcomes = [verified("1.0.0", 1, sha("a")), verified("1.1.0", 2, sha("c")), verified("1.2.0", 3, sha("d"))];
    const served = servedBy([[PINNED, await statement({ versions: [["1.0.0", 1, sha("a")], ["1.1.0", 2, sha("b")], ["1.2.0", 4, sha("d")]] })]]);
    await check([request("1.0.0", sha("a")), request("1.1.0", sha("c")), request("1.2.0", sha("d"))], outcomes, served);
    expect(codes(outcomes)).toEqual(["verified", "metadata version_not_listed", "metadata version_not_listed"]);
    expect((outcomes[1] as Extract<ProvenanceOutcome, { status: "failed" }>).failure).toMatchObject({ expected: `sha512:${sha("b")}`, actual: `sha512:${sha("c")}` });
    expect((outcomes[2] as Extract<ProvenanceOutcome, { status: "failed" }>).failure).toMatchObject({ expected: "4", actual: "3" });
    expect(store.read(registry.keyid, "@acme/utils")).toBeUndefined();
  });

  it("against the stored floor: an older serial is a rollback, the same serial with other contents an equivocation, a newer one raises it", async () => {
    fresh();
    const run = async (envelope: Envelope) => {
      const outcomes = [verified("1.0.0", 1, sha("a"))];
      await check([request("1.0.0", sha("a"))], outcomes, servedBy([[PINNED, envelope]]));
      return outcomes;
    };
    expect(codes(await run(await statement({ serial: 100 })))).toEqual(["verified"]);
    expect(codes(await run(await statement({ serial: 99 })))).toEqual(["metadata metadata_rollback"]);
    expect(codes(await run(await statement({ serial: 100, latest: "1.0.0" })))).toEqual(["metadata metadata_equivocation"]);
    // The same serial re-issued for a new window (only issuedAt and expires differ) is the same statement.
    expect(codes(await run(await statement({ serial: 100, issuedAt: new Date("2026-11-25T00:00:00.000Z") })))).toEqual(["verified"]);
    expect(codes(await run(await statement({ serial: 101 })))).toEqual(["verified"]);
    expect(store.read(registry.keyid, "@acme/utils")?.serial).toBe(101);
  });

  it("expired, or signed by another key than the one that countersigned: refused", async () => {
    fresh();
    const expired = [verified("1.0.0", 1, sha("a"))];
    await check([request("1.0.0", sha("a"))], expired, servedBy([[PINNED, await statement()]]), new Date("2026-11-27T00:00:00.000Z"));
    expect(codes(expired)).toEqual(["metadata metadata_expired"]);
    const foreign = [verified("1.0.0", 1, sha("a"))];
    await check([request("1.0.0", sha("a"))], foreign, servedBy([[PINNED, await statement({ signer: other })]]));
    expect(codes(foreign)).toEqual(["metadata metadata_untrusted"]);
    expect((foreign[0] as Extract<ProvenanceOutcome, { status: "failed" }>).failure).toMatchObject({ expected: registry.keyid, actual: other.keyid });
  });

  it("one statement per package: the pinned registry's, when it supplied a bundle, over a mirror's; other outcomes are left alone", async () => {
    fresh();
    const outcomes: ProvenanceOutcome[] = [verified("1.0.0", 1, sha("a"), MIRROR), verified("1.1.0", 2, sha("b"), PINNED), { status: "unavailable", message: "down" }];
    const requests = [request("1.0.0", sha("a"), [MIRROR]), request("1.1.0", sha("b"), [MIRROR]), request("1.2.0", sha("e"))];
    await check(requests, outcomes, servedBy([[PINNED, await statement({ serial: 100 })], [MIRROR, await statement({ serial: 1, versions: [["1.0.0", 1, sha("a")]] })]]));
    expect(codes(outcomes)).toEqual(["verified", "verified", "unavailable"]);
    expect(outcomes[0]).toMatchObject({ metadata: { serial: 100, from: PINNED } });
  });

  it("the statement's record must be in the log: its entry recomputed from the statement, at the served index; else nothing passes and no floor rises", async () => {
    fresh();
    const seen: LogItem[] = [];
    const outcomes = [verified("1.0.0", 1, sha("a")), verified("1.1.0", 2, sha("b"))];
    const envelope = await statement({ serial: 120 });
    await check([request("1.0.0", sha("a")), request("1.1.0", sha("b"))], outcomes, servedBy([[PINNED, envelope]], { index: 9, tlogProof: "proof text" }), NOW, inLog(true, seen));
    expect(codes(outcomes)).toEqual(["verified", "verified"]);
    const opened = await openPackageMetadata(envelope, { name: "@acme/utils", pinned: [registry.keyid], now: NOW });
    if (!opened.ok) throw new Error(opened.error.message);
    expect(seen[0]).toMatchObject({ sequence: 9, tlogProof: "proof text", what: "the signed metadata", label: "the signed metadata of @acme/utils (serial 120)" });
    expect(fromUtf8(seen[0]!.entry!)).toBe(JSON.stringify({ _type: METADATA_RECORD_TYPE, name: "@acme/utils", serial: 120, contentSha256: opened.value.contentSha256 }));

    fresh();
    const missing = [verified("1.0.0", 1, sha("a"))];
    for (const log of [undefined, null, {}, { index: 0 }, { index: "9" }, { index: 9, tlogProof: 5 }]) {
      missing[0] = verified("1.0.0", 1, sha("a"));
      await check([request("1.0.0", sha("a"))], missing, new Map([[PINNED, new Map([["@acme/utils", { envelope, log }]])]]));
      expect(codes(missing), JSON.stringify(log)).toEqual(["metadata metadata_not_logged"]);
    }
    const notFound = [verified("1.0.0", 1, sha("a"))];
    await check([request("1.0.0", sha("a"))], notFound, servedBy([[PINNED, envelope]]), NOW, inLog(false));
    expect(codes(notFound)).toEqual(["log not_in_log"]);
    expect((notFound[0] as Extract<ProvenanceOutcome, { status: "failed" }>).failure.message).toContain("the signed metadata of @acme/utils (serial 120): ");
    expect(store.read(registry.keyid, "@acme/utils")).toBeUndefined();
  });
});
