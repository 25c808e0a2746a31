/**
 * The package page's in-browser chain checks (src/web/browser/verify-version.ts), in Node over a
 * fake fetch serving real signed objects: a registry key, a publisher, an npm tarball with its
 * signed file list and AI attribute, a log with tlog-proofs, a review, an npm registry signature
 * and a signed identity document. The genuine set verifies link by link; each attack fails the
 * link it breaks, with the reason (src/web/checks.ts is the contract).
 */

import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CHECKPOINT_PATH,
  artifactDigests,
  createNpmSigner,
  ED25519_TYPE,
  formatVerifierKey,
  fromBase64,
  generateNpmSigningKey,
  logOrigin,
  logUrl,
  NPM_KEY_TYPE,
  signIdentity,
  signPublishStatement,
  signRotation,
  signReview,
  sriFromHex,
  toBase64,
  type AiAttribute,
  type Attributes,
  type Bundle,
  type Envelope,
  type NpmSigner,
  type Signer,
} from "../../src/core/index.js";
import { checkVersion, type FileOutcome, type LinkOutcome, type Outcome, type VersionCheckInput } from "../../src/web/browser/verify-version.js";
import { CHAIN, type CheckId, type CheckStatus } from "../../src/web/checks.js";
import { registryCountersign, signerFromSeedByte } from "../helpers/bundles.js";
import { LogTree } from "../helpers/fake-log.js";
import { fileDigests } from "../helpers/publisher.js";
import { npmTarball } from "../helpers/tarball.js";

const ORIGIN = "https://registry.test";
const NAME = "@acme/utils";
const VERSION = "1.2.3";
const AI: AiAttribute = { contribution: "assisted", tools: [{ name: "editor-assist", version: "2.1" }], models: [{ name: "model-x", provider: "example" }] };

const PATHS = {
  bundle: `/-/countersign/v1/packages/${NAME}/${VERSION}`,
  artifact: `/-/countersign/v1/packages/${NAME}/${VERSION}/artifact`,
  reviews: `/-/countersign/v1/packages/${NAME}/${VERSION}/reviews`,
  packumentVersion: `/${NAME}/${VERSION}`,
  identity: "/.well-known/countersign.json",
};

interface Version {
  bundle: Bundle;
  bytes: Uint8Array;
  sequence: number;
}

let registry: Signer; // the registry the page was loaded from
let rogue: Signer; // another registry's key
let alice: Signer; // the publisher enrolled in @acme
let reviewer: Signer;
let tree: LogTree;
let older: Version; // @acme/utils@1.0.0, log index 1
let genuine: Version; // @acme/utils@1.2.3, log index 2
let listMismatch: Version; // 1.2.3 again, its signed file list not the tarball's (index 3)
let plain: Version; // 1.2.3 with no attributes at all (index 4)
let proofs: Map<number, string>;
let identity: Envelope;
let npm: NpmSigner;
let otherNpm: NpmSigner;
let tarball: Uint8Array;

async function publish(version: string, bytes: Uint8Array, attributes: Attributes | undefined): Promise<Version> {
  const digests = await artifactDigests(bytes);
  const envelope = await signPublishStatement({ name: NAME, version, digests, size: bytes.length, publisher: alice, createdAt: new Date("2026-11-24T11:00:00.000Z"), ...(attributes ? { attributes } : {}) });
  const sequence = tree.size;
  const bundle = await registryCountersign(envelope, registry, { origin: ORIGIN, sequence });
  await tree.append(fromBase64(bundle.countersignature.payload)!);
  return { bundle, bytes, sequence };
}

beforeAll(async () => {
  [registry, rogue, alice, reviewer] = (await Promise.all([1, 9, 2, 5].map(signerFromSeedByte))) as [Signer, Signer, Signer, Signer];
  tree = new LogTree(ORIGIN, registry);
  await tree.genesis();
  const olderTarball = await npmTarball({ name: NAME, version: "1.0.0" }, { "index.js": "module.exports = 1;\n" });
  older = await publish("1.0.0", olderTarball, { files: await fileDigests(olderTarball) });
  tarball = await npmTarball({ name: NAME, version: VERSION }, { "index.js": "module.exports = 2;\n", "lib/util.js": "exports.util = () => 2;\n" });
  const files = await fileDigests(tarball);
  genuine = await publish(VERSION, tarball, { files, ai: AI });
  // Signed: a different index.js, and no lib/util.js.
  const wrong = files.filter((f) => f.path !== "lib/util.js").map((f) => (f.path === "index.js" && "sha256" in f ? { ...f, sha256: "0".repeat(64) } : f));
  listMismatch = await publish(VERSION, tarball, { files: wrong });
  plain = await publish(VERSION, tarball, undefined);
  proofs = new Map();
  for (const v of [older, genuine, listMismatch, plain]) proofs.set(v.sequence, await tree.tlogProof(v.sequence));

  npm = await createNpmSigner((await generateNpmSigningKey()).secret);
  otherNpm = await createNpmSigner((await generateNpmSigningKey()).secret);
  identity = await identityOf(registry);
}, 60_000);

async function identityOf(key: Signer, npmKeys = [npm]): Promise<Envelope> {
  const origin = logOrigin(ORIGIN);
  const log = { url: logUrl(ORIGIN), origin, key: await formatVerifierKey(origin, ED25519_TYPE, key.publicKey) };
  return signIdentity({ name: "test registry", origin: ORIGIN, namespaces: ["@acme"], log, npmKeys: npmKeys.map((k) => ({ keyid: k.keyid, keytype: NPM_KEY_TYPE, key: k.key })), issuedAt: new Date("2026-11-24T10:00:00.000Z") }, key);
}

const withProof = (v: Version) => ({ ...v.bundle, tlogProof: proofs.get(v.sequence)! });

/** What the fake registry serves: a body (object → JSON), or a status code. */
type Answer = unknown;

async function genuineRoutes(): Promise<Map<string, Answer>> {
  const digests = await artifactDigests(tarball);
  const integrity = sriFromHex("sha512", digests.sha512);
  return new Map<string, Answer>([
    [PATHS.identity, identity],
    [PATHS.bundle, withProof(genuine)],
    [PATHS.artifact, tarball],
    [PATHS.reviews, { reviews: [await signReview({ name: NAME, version: VERSION, digests }, reviewer, { note: "read every line", at: new Date("2026-11-25T00:00:00.000Z") })] }],
    [PATHS.packumentVersion, { name: NAME, version: VERSION, dist: { integrity, tarball: `${ORIGIN}${PATHS.artifact}`, signatures: [await npm.sign(NAME, VERSION, integrity)] } }],
  ]);
}

function fakeFetch(routes: Map<string, Answer>, asked: string[] = []): VersionCheckInput["fetch"] {
  return async (url) => {
    const { pathname, origin } = new URL(url);
    asked.push(decodeURIComponent(pathname));
    if (origin !== ORIGIN) throw new TypeError("Failed to fetch");
    const answer = routes.get(decodeURIComponent(pathname));
    if (answer === undefined) return new Response('{"error":"not found"}', { status: 404, statusText: "Not Found" });
    if (typeof answer === "number") return new Response("", { status: answer });
    if (answer instanceof Uint8Array) return new Response(answer as Uint8Array<ArrayBuffer>);
    if (typeof answer === "string") return new Response(answer);
    return new Response(JSON.stringify(answer), { headers: { "content-type": "application/json" } });
  };
}

interface Run {
  links: Record<CheckId, LinkOutcome>;
  files: Map<string, FileOutcome>;
  reported: Outcome[];
}

async function run(change: (routes: Map<string, Answer>) => unknown = () => undefined, options: { fingerprint?: string; packument?: boolean } = {}): Promise<Run> {
  const routes = await genuineRoutes();
  await change(routes);
  const reported: Outcome[] = [];
  const links = await checkVersion(
    {
      origin: ORIGIN,
      name: NAME,
      version: VERSION,
      fingerprint: options.fingerprint ?? registry.keyid,
      paths: { bundle: PATHS.bundle, artifact: PATHS.artifact, reviews: PATHS.reviews, packumentVersion: options.packument === false ? undefined : PATHS.packumentVersion },
      fetch: fakeFetch(routes),
    },
    (outcome) => reported.push(outcome),
  );
  const files = new Map(reported.flatMap((o) => (o.kind === "file" ? [[o.path, o] as const] : [])));
  return { links, files, reported };
}

const statuses = (r: Run) => Object.fromEntries(CHAIN.map((id) => [id, r.links[id].status])) as Record<CheckId, CheckStatus>;
const fileStatuses = (r: Run) => Object.fromEntries([...r.files].map(([path, f]) => [path, f.status]));
const ALL_VERIFIED = Object.fromEntries(CHAIN.map((id) => [id, "verified"])) as Record<CheckId, CheckStatus>;

describe("the genuine chain", () => {
  it("verifies every link and every signed file, each link reported exactly once", async () => {
    const r = await run();
    expect(statuses(r), JSON.stringify(r.links, null, 2)).toEqual(ALL_VERIFIED);
    expect(fileStatuses(r)).toEqual({ "index.js": "verified", "lib/util.js": "verified", "package.json": "verified" });
    const linkReports = r.reported.filter((o) => o.kind === "link").map((o) => (o as LinkOutcome).id);
    expect([...linkReports].sort()).toEqual([...CHAIN].sort());
    // The details say what was checked against which key.
    expect(r.links.identity.detail).toContain(registry.keyid);
    expect(r.links.publisher.detail).toContain(alice.keyid);
    expect(r.links.countersignature.detail).toContain(registry.keyid);
    expect(r.links.countersignature.detail).toContain(`#${genuine.sequence}`);
    expect(r.links.log.detail).toContain(`Entry #${genuine.sequence}`);
    expect(r.links.log.detail).toContain(`tree of ${tree.size} entries`);
    expect(r.links.log.detail).toContain(toBase64(await tree.root()));
    expect(r.links.artifact.detail).toContain(sriFromHex("sha512", (await artifactDigests(tarball)).sha512));
    expect(r.links.ai.detail).toContain("covered by the publisher's signature");
    expect(r.links.reviews.detail).toContain(reviewer.keyid);
    expect(r.links.reviews.detail).toMatch(/not pinned/);
    expect(r.links["npm-signature"].detail).toContain(npm.keyid);
  });

  it("reads every resource once, all from the page's origin", async () => {
    const asked: string[] = [];
    const routes = await genuineRoutes();
    await checkVersion({ origin: ORIGIN, name: NAME, version: VERSION, fingerprint: registry.keyid, paths: PATHS, fetch: fakeFetch(routes, asked) }, () => undefined);
    expect([...asked].sort()).toEqual(Object.values(PATHS).sort());
  });

  it("nothing to check is absent: no tlog-proof yet (the log's checkpoint does not cover it), no reviews, no npm signature, no attributes", async () => {
    const r = await run(
      async (routes) => {
        routes.set(PATHS.bundle, plain.bundle);
        routes.set(PATHS.reviews, { reviews: [] });
        routes.set(CHECKPOINT_PATH, await tree.checkpoint(plain.sequence));
      },
      { packument: false },
    );
    expect(statuses(r)).toEqual({ ...ALL_VERIFIED, log: "absent", files: "absent", ai: "absent", reviews: "absent", "npm-signature": "absent" });
    expect(r.links.log.detail).toMatch(/not yet in a published checkpoint/i);
  });

  it("a tlog-proof removed although the log's checkpoint covers the entry: the log fails; an unreadable or forged checkpoint too", async () => {
    const stripped = await run(async (routes) => {
      routes.set(PATHS.bundle, plain.bundle);
      routes.set(CHECKPOINT_PATH, await tree.checkpoint());
    });
    expect(stripped.links.log.status).toBe("failed");
    expect(stripped.links.log.detail).toContain("removed on the way");
    const unreadable = await run((routes) => routes.set(PATHS.bundle, plain.bundle));
    expect(unreadable.links.log.status).toBe("failed");
    const forged = await run(async (routes) => {
      routes.set(PATHS.bundle, plain.bundle);
      routes.set(CHECKPOINT_PATH, await tree.checkpoint(plain.sequence, rogue));
    });
    expect(forged.links.log.status).toBe("failed");
  });

  it("an npm version document without dist.signatures: failed when the identity lists an npm key (stripped), absent when it lists none", async () => {
    const unsigned = await run((routes) => {
      const doc = routes.get(PATHS.packumentVersion) as { dist: Record<string, unknown> };
      routes.set(PATHS.packumentVersion, { ...doc, dist: { ...doc.dist, signatures: undefined } });
    });
    expect(unsigned.links["npm-signature"].status).toBe("failed");
    expect(unsigned.links["npm-signature"].detail).toContain("removed on the way");
    const noKeys = await run(async (routes) => routes.set(PATHS.identity, await identityOf(registry, [])));
    expect(noKeys.links.identity.status).toBe("verified");
    expect(noKeys.links["npm-signature"].status).toBe("absent");
  });
});

describe("each attack fails the link it breaks, with the reason", () => {
  it("a different fingerprint: identity and countersignature fail, naming expected and actual; nothing rests on the key", async () => {
    const r = await run(undefined, { fingerprint: rogue.keyid });
    expect(statuses(r), JSON.stringify(r.links, null, 2)).toMatchObject({
      identity: "failed",
      countersignature: "failed",
      log: "failed",
      artifact: "failed",
      files: "failed",
      "npm-signature": "failed",
    });
    expect(r.links.identity.detail).toContain(registry.keyid);
    expect(r.links.identity.detail).toContain(rogue.keyid);
    expect(r.links.countersignature.detail).toContain(`expected ${rogue.keyid}, actual ${registry.keyid}`);
    expect(r.links.log.detail).toContain("registry identity did not verify");
    expect(r.links["npm-signature"].detail).toContain("registry identity did not verify");
    // The publisher's own signature still holds, and says the enrolment is not shown.
    expect(r.links.publisher.status).toBe("verified");
    expect(r.links.publisher.detail).toContain("not shown");
    expect(Object.values(fileStatuses(r))).not.toContain("verified");
  });

  it("the identity document swapped for another registry's: identity fails, and so does everything checked against its key", async () => {
    const r = await run(async (routes) => routes.set(PATHS.identity, await identityOf(rogue)));
    expect(statuses(r)).toMatchObject({ identity: "failed", countersignature: "failed", log: "failed", artifact: "failed", "npm-signature": "failed" });
    expect(r.links.identity.detail).toContain(`signed by ${rogue.keyid}, expected ${registry.keyid}`);
    expect(r.links.countersignature.detail).toContain("registry identity did not verify");
  });

  it("one changed byte of the tarball: the artifact fails with expected and actual digests; the signatures and the log still verify", async () => {
    const bytes = tarball.slice();
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    const r = await run((routes) => routes.set(PATHS.artifact, bytes));
    expect(statuses(r), JSON.stringify(r.links, null, 2)).toMatchObject({ identity: "verified", publisher: "verified", countersignature: "verified", log: "verified", artifact: "failed", files: "failed", ai: "verified" });
    const signed = (await artifactDigests(tarball)).sha512;
    const actual = (await artifactDigests(bytes)).sha512;
    expect(r.links.artifact.detail).toContain(`expected sha512:${signed}, actual sha512:${actual}`);
    expect(r.links.artifact.detail).toContain("digest_mismatch");
    expect(Object.values(fileStatuses(r))).not.toContain("verified");
    // Reviews and the npm signature are of the signed bytes, not these.
    expect(r.links.reviews.status).toBe("failed");
    expect(r.links["npm-signature"].status).toBe("failed");
  });

  it("any changed byte of the artifact fails the artifact link", async () => {
    const signed = await artifactDigests(tarball);
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: tarball.length - 1 }), fc.integer({ min: 1, max: 255 }), async (at, xor) => {
        const bytes = tarball.slice();
        bytes[at]! ^= xor;
        const r = await run((routes) => routes.set(PATHS.artifact, bytes));
        expect(r.links.artifact.status).toBe("failed");
        expect(r.links.artifact.detail).toContain(`expected sha512:${signed.sha512}`);
        expect(r.links.files.status).toBe("failed");
        expect(r.links.countersignature.status).toBe("verified");
      }),
      { numRuns: 25 },
    );
  });

  it("a tarball rebuilt with one file changed: the artifact fails, and that file's row says how", async () => {
    const evil = await npmTarball({ name: NAME, version: VERSION }, { "index.js": "require('child_process').exec('curl evil');\n", "lib/util.js": "exports.util = () => 2;\n" });
    const r = await run((routes) => routes.set(PATHS.artifact, evil));
    expect(statuses(r)).toMatchObject({ publisher: "verified", countersignature: "verified", artifact: "failed", files: "failed" });
    expect(r.files.get("index.js")?.status).toBe("failed");
    expect(r.files.get("index.js")?.detail).toMatch(/^sha256 differs \(expected [0-9a-f]{64}, actual [0-9a-f]{64}\)$/);
    // Matching files are still not verified: the artifact they came in is not the signed one.
    expect(r.files.get("lib/util.js")?.status).toBe("failed");
    expect(r.files.get("lib/util.js")?.detail).toContain("the artifact as a whole does not verify");
    expect(r.links.files.detail).toContain('"index.js": sha256 differs');
  });

  it("a tampered publisher envelope (its statement names other digests): the publisher fails; nothing rests on its statement", async () => {
    const r = await run((routes) => {
      const statement = JSON.parse(Buffer.from(genuine.bundle.publisher.payload, "base64").toString("utf8")) as { subject: { digest: Record<string, string> }[] };
      statement.subject[0]!.digest.sha256 = "0".repeat(64);
      routes.set(PATHS.bundle, { ...withProof(genuine), publisher: { ...genuine.bundle.publisher, payload: Buffer.from(JSON.stringify(statement)).toString("base64") } });
    });
    expect(statuses(r), JSON.stringify(r.links, null, 2)).toMatchObject({ identity: "verified", publisher: "failed", countersignature: "failed", artifact: "failed", files: "failed", ai: "failed" });
    expect(r.links.publisher.detail).toContain(`publisher signature by ${alice.keyid} does not verify`);
    expect(r.links.publisher.detail).toContain("bad_publisher_signature");
    expect(r.files.size).toBe(0);
  });

  it("a publisher envelope signed by a key the registry did not enrol: the publisher fails, naming both keys", async () => {
    const mallory = await signerFromSeedByte(7);
    const digests = await artifactDigests(tarball);
    const forged = await signPublishStatement({ name: NAME, version: VERSION, digests, size: tarball.length, publisher: mallory, attributes: { files: await fileDigests(tarball) } });
    const r = await run((routes) => routes.set(PATHS.bundle, { ...withProof(genuine), publisher: forged }));
    expect(r.links.publisher.status).toBe("failed");
    expect(r.links.publisher.detail).toContain(`expected ${alice.keyid}, actual ${mallory.keyid}`);
  });

  it("the bundle of another version: the countersignature fails, naming both versions", async () => {
    const r = await run((routes) => routes.set(PATHS.bundle, withProof(older)));
    expect(statuses(r)).toMatchObject({ identity: "verified", countersignature: "failed", artifact: "failed", log: "failed" });
    expect(r.links.countersignature.detail).toContain(`countersignature is for ${NAME}@1.0.0, not ${NAME}@${VERSION}`);
    expect(r.links.countersignature.detail).toContain(`expected ${NAME}@${VERSION}, actual ${NAME}@1.0.0`);
    // Its publisher statement is for 1.0.0 too.
    expect(r.links.publisher.status).toBe("failed");
  });

  it("a bundle countersigned by another registry's key: the countersignature fails with expected and actual; the publisher still verifies", async () => {
    const impostor = await registryCountersign(genuine.bundle.publisher, rogue, { origin: ORIGIN, sequence: genuine.sequence });
    const r = await run((routes) => routes.set(PATHS.bundle, impostor));
    expect(statuses(r)).toMatchObject({ identity: "verified", publisher: "verified", countersignature: "failed", artifact: "failed", files: "failed" });
    expect(r.links.countersignature.detail).toContain(`expected ${registry.keyid}, actual ${rogue.keyid}`);
    expect(r.links.log.status).not.toBe("verified");
  });

  it("a tlog-proof for another entry: the log fails (its index, or its inclusion)", async () => {
    const olderProof = proofs.get(older.sequence)!;
    const moved = await run((routes) => routes.set(PATHS.bundle, { ...genuine.bundle, tlogProof: olderProof }));
    expect(statuses(moved), JSON.stringify(moved.links, null, 2)).toMatchObject({ identity: "verified", publisher: "verified", countersignature: "verified", artifact: "verified", log: "failed" });
    expect(moved.links.log.detail).toContain(`expected index ${genuine.sequence}, actual index ${older.sequence}`);
    // The same proof claiming the right index: the inclusion proof does not lead to the root.
    const relabelled = olderProof.replace(`index ${older.sequence}\n`, `index ${genuine.sequence}\n`);
    const forged = await run((routes) => routes.set(PATHS.bundle, { ...genuine.bundle, tlogProof: relabelled }));
    expect(forged.links.log.status).toBe("failed");
    expect(forged.links.log.detail).toContain(`not at index ${genuine.sequence}`);
  });

  it("a tlog-proof whose checkpoint another key signed, or that does not parse: the log fails", async () => {
    const rogueProof = await tree.tlogProof(genuine.sequence, tree.size, await tree.checkpoint(tree.size, rogue));
    const signed = await run((routes) => routes.set(PATHS.bundle, { ...genuine.bundle, tlogProof: rogueProof }));
    expect(signed.links.log.status).toBe("failed");
    expect(signed.links.log.detail).toContain("checkpoint");
    const garbage = await run((routes) => routes.set(PATHS.bundle, { ...genuine.bundle, tlogProof: "not a proof" }));
    expect(garbage.links.log.status).toBe("failed");
  });

  it("a signed file list that is not the tarball's: the files link and exactly those rows fail", async () => {
    const r = await run((routes) => routes.set(PATHS.bundle, withProof(listMismatch)));
    expect(statuses(r)).toMatchObject({ identity: "verified", publisher: "verified", countersignature: "verified", log: "verified", artifact: "verified", files: "failed", ai: "absent" });
    expect(fileStatuses(r)).toEqual({ "index.js": "failed", "lib/util.js": "failed", "package.json": "verified" });
    expect(r.files.get("index.js")?.detail).toContain(`sha256 differs (expected ${"0".repeat(64)}`);
    expect(r.files.get("lib/util.js")?.detail).toBe("in the tarball, but not in the signed list");
  });

  it("a review of other bytes: the reviews link fails, saying which review and why", async () => {
    const otherDigests = await artifactDigests(older.bytes);
    const replayed = await signReview({ name: NAME, version: VERSION, digests: otherDigests }, reviewer);
    const r = await run(async (routes) => {
      const genuineReviews = (routes.get(PATHS.reviews) as { reviews: unknown[] }).reviews;
      routes.set(PATHS.reviews, { reviews: [...genuineReviews, replayed] });
    });
    expect(r.links.reviews.status).toBe("failed");
    expect(r.links.reviews.detail).toContain("1 of 2 reviews does not verify");
    expect(r.links.reviews.detail).toContain(`review by ${reviewer.keyid} is for other bytes than ${NAME}@${VERSION}`);
    expect(statuses(r)).toMatchObject({ artifact: "verified", files: "verified" });
  });

  it("an npm signature by a key the identity does not list: the npm signature fails, naming both", async () => {
    const r = await run(async (routes) => {
      const doc = routes.get(PATHS.packumentVersion) as { dist: { integrity: string } };
      routes.set(PATHS.packumentVersion, { ...doc, dist: { ...doc.dist, signatures: [await otherNpm.sign(NAME, VERSION, doc.dist.integrity)] } });
    });
    expect(r.links["npm-signature"].status).toBe("failed");
    expect(r.links["npm-signature"].detail).toContain(`expected one of ${npm.keyid}, actual ${otherNpm.keyid}`);
  });

  it("an npm signature over another integrity, or a dist.integrity that is not the bytes': the npm signature fails", async () => {
    const other = sriFromHex("sha512", (await artifactDigests(older.bytes)).sha512);
    const swapped = await run(async (routes) => {
      const doc = routes.get(PATHS.packumentVersion) as { dist: Record<string, unknown> };
      routes.set(PATHS.packumentVersion, { ...doc, dist: { ...doc.dist, integrity: other, signatures: [await npm.sign(NAME, VERSION, other)] } });
    });
    expect(swapped.links["npm-signature"].status).toBe("failed");
    expect(swapped.links["npm-signature"].detail).toContain(`actual ${other}`);
    const wrongSig = await run(async (routes) => {
      const doc = routes.get(PATHS.packumentVersion) as { dist: Record<string, unknown> };
      routes.set(PATHS.packumentVersion, { ...doc, dist: { ...doc.dist, signatures: [await npm.sign(NAME, "9.9.9", doc.dist.integrity as string)] } });
    });
    expect(wrongSig.links["npm-signature"].status).toBe("failed");
    expect(wrongSig.links["npm-signature"].detail).toContain("does not verify");
  });
});

describe("across a registry key rotation (PROTOCOL §21)", () => {
  it("a page pinned to the old key verifies a version the old key countersigned before the rotation; one it countersigned after fails the countersignature", async () => {
    const successor = await signerFromSeedByte(11);
    const rotationIndex = tree.size;
    const rotation = await signRotation({ origin: ORIGIN, sequence: rotationIndex, at: "2026-11-25T00:00:00.000Z" }, registry, successor);
    const origin = logOrigin(ORIGIN);
    const rotated = await signIdentity(
      {
        name: "test registry",
        origin: ORIGIN,
        namespaces: ["@acme"],
        log: { url: logUrl(ORIGIN), origin, key: await formatVerifierKey(origin, ED25519_TYPE, successor.publicKey) },
        npmKeys: [{ keyid: npm.keyid, keytype: NPM_KEY_TYPE, key: npm.key }],
        retired: [{ keyid: registry.keyid, publicKey: toBase64(registry.publicKey), until: rotationIndex }],
        rotations: [rotation],
        issuedAt: new Date("2026-11-25T00:00:01.000Z"),
      },
      successor,
    );
    const before = await run((routes) => routes.set(PATHS.identity, rotated));
    expect(statuses(before), JSON.stringify(before.links, null, 2)).toEqual(ALL_VERIFIED);
    expect(before.links.identity.detail).toContain(`${registry.keyid} → ${successor.keyid}`);

    // The old key, after the rotation: its countersignature at a later index is refused.
    const digests = await artifactDigests(tarball);
    const envelope = await signPublishStatement({ name: NAME, version: VERSION, digests, size: tarball.length, publisher: alice, createdAt: new Date("2026-11-26T00:00:00.000Z"), attributes: { files: await fileDigests(tarball), ai: AI } });
    const late = await registryCountersign(envelope, registry, { origin: ORIGIN, sequence: rotationIndex + 3 });
    const after = await run((routes) => {
      routes.set(PATHS.identity, rotated);
      routes.set(PATHS.bundle, late);
    });
    expect(after.links.countersignature.status).toBe("failed");
    expect(after.links.countersignature.detail).toContain(`rotated out at log index ${rotationIndex}`);
  });
});

describe("failing closed", () => {
  it("a read that fails is failed with its status code, and so is every link resting on it", async () => {
    const noBundle = await run((routes) => routes.set(PATHS.bundle, 404));
    expect(statuses(noBundle)).toMatchObject({ identity: "verified", publisher: "failed", countersignature: "failed", artifact: "failed", log: "failed", files: "failed", ai: "failed" });
    expect(noBundle.links.countersignature.detail).toContain("HTTP 404");
    const noArtifact = await run((routes) => routes.set(PATHS.artifact, 503));
    expect(statuses(noArtifact)).toMatchObject({ publisher: "verified", countersignature: "verified", log: "verified", artifact: "failed", files: "failed", reviews: "failed", "npm-signature": "failed" });
    expect(noArtifact.links.artifact.detail).toContain("HTTP 503");
    const noIdentity = await run((routes) => routes.set(PATHS.identity, 500));
    expect(noIdentity.links.identity.status).toBe("failed");
    expect(noIdentity.links.identity.detail).toContain("HTTP 500");
  });

  it("anything unparseable is failed, never skipped", async () => {
    const r = await run((routes) => {
      routes.set(PATHS.identity, "<html>");
      routes.set(PATHS.bundle, "[1,2");
      routes.set(PATHS.reviews, { reviews: "none" });
      routes.set(PATHS.packumentVersion, { dist: { signatures: [{ keyid: 1 }] } });
    });
    for (const id of CHAIN) expect(r.links[id].status, id).toBe("failed");
    expect(r.links.identity.detail).toContain("not JSON");
    const odd = await run((routes) => routes.set(PATHS.bundle, { ...genuine.bundle, tlogProof: 42 }));
    expect(odd.links.log.status).toBe("failed");
  });

  it("reads only from the page's origin", async () => {
    const reported: Outcome[] = [];
    const links = await checkVersion(
      { origin: ORIGIN, name: NAME, version: VERSION, fingerprint: registry.keyid, paths: { ...PATHS, bundle: "https://elsewhere.example/bundle" }, fetch: fakeFetch(await genuineRoutes()) },
      (o) => reported.push(o),
    );
    expect(links.countersignature.status).toBe("failed");
    expect(links.countersignature.detail).toContain("not on this registry's origin");
  });

  it("a fetch that throws (network error) is a failure with its message", async () => {
    const routes = await genuineRoutes();
    const fetch: VersionCheckInput["fetch"] = async (url, init) => (url.endsWith("/reviews") ? Promise.reject(new TypeError("Failed to fetch")) : fakeFetch(routes)(url, init));
    const links = await checkVersion({ origin: ORIGIN, name: NAME, version: VERSION, fingerprint: registry.keyid, paths: PATHS, fetch }, () => undefined);
    expect(links.reviews.status).toBe("failed");
    expect(links.reviews.detail).toContain("Failed to fetch");
    expect(links.artifact.status).toBe("verified");
  });

  it("an identity document whose log key is not the registry key: the log fails", async () => {
    const origin = logOrigin(ORIGIN);
    const log = { url: logUrl(ORIGIN), origin, key: await formatVerifierKey(origin, ED25519_TYPE, rogue.publicKey) };
    const doc = await signIdentity({ name: "test registry", origin: ORIGIN, namespaces: ["@acme"], log }, registry);
    const r = await run((routes) => routes.set(PATHS.identity, doc));
    expect(r.links.identity.status).toBe("verified");
    expect(r.links.log.status).toBe("failed");
    expect(r.links.log.detail).toContain("is not the registry key");
  });

  it("an identity document without a log: the proof is checked under the registry key and the countersignature's origin", async () => {
    const doc = await signIdentity({ name: "test registry", origin: ORIGIN, namespaces: ["@acme"] }, registry);
    const r = await run((routes) => routes.set(PATHS.identity, doc));
    expect(r.links.log.status).toBe("verified");
  });
});
