/**
 * The log check wired into verification (verification/provenance.ts `findProvenance`, what
 * `verify` and the install integrations run), `fetch` and `verify-artifact`, against a fake
 * registry serving the batch bundle API and its log (test/helpers/fake-log.ts): a verified
 * bundle must also be in the log; a failure there is a `log` layer failure of that package; a
 * split view fails every package of the registry; an unreachable log is "unavailable", never
 * verified; pinned witnesses must have cosigned a checkpoint covering the entry.
 */

import { mkdtempSync, readFileSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import "../../scripts/cli/native-ed25519.js";
import { COSIGNATURE_TYPE, cosignatureSigner, formatVerifierKey, gapEntry, metadataRecordEntry, metadataRecordOf, signPackageMetadata, utf8, type Bundle, type Envelope, type NoteSigner, type Signer } from "../../src/core/index.js";
import { RegistryClient } from "../../scripts/cli/registry-client.js";
import { parse, type Command } from "../../scripts/cli/command.js";
import { fetchArtifact, verifyArtifact } from "../../scripts/cli/commands/fetch.js";
import { CliError, EXIT } from "../../scripts/cli/errors.js";
import { checkpointStore, LOG_STATE_DIR_ENV, type CheckpointStore } from "../../scripts/cli/log/store.js";
import type { RegistryPin } from "../../scripts/cli/verification/plan.js";
import { findProvenance, type ProvenanceOutcome, type ProvenanceRequest } from "../../scripts/cli/verification/provenance.js";
import { signerFromSeedByte } from "../helpers/bundles.js";
import { LogTree, publisherKey, registryKey, startFakeLog, withProof, type FakeLogServer } from "../helpers/fake-log.js";

let server: FakeLogServer;
let registry: Signer;
let publisher: Signer;
let store: CheckpointStore;

/** Signed metadata by package name, and its record's log index, added to the fake batch API's answers. */
const signedMetadata = new Map<string, { envelope: unknown; index: number }>();

beforeAll(async () => {
  server = await startFakeLog();
  registry = await registryKey();
  publisher = await publisherKey();
  const answer = RegistryClient.prototype.bundles;
  vi.spyOn(RegistryClient.prototype, "bundles").mockImplementation(async function (this: RegistryClient, specs) {
    const answered = await answer.call(this, specs);
    if (answered.supported) {
      for (const { name } of specs) {
        const served = signedMetadata.get(name);
        if (served) {
          answered.metadata.set(name, served.envelope);
          answered.metadataLog.set(name, { index: served.index });
        }
      }
    }
    return answered;
  });
});
afterAll(() => server.close());
beforeEach(() => {
  const dir = mkdtempSync(join(tmpdir(), "cs-log-verify-"));
  process.env[LOG_STATE_DIR_ENV] = dir;
  store = checkpointStore(dir);
  server.bundles.clear();
  server.routes.clear();
  signedMetadata.clear();
});

interface Published {
  name: string;
  bundle: Bundle;
  index: number;
  sha512: string;
  /** The registry's signed metadata listing it, and its record's log index (the entry after the version's, as a publish makes them). */
  metadata: { envelope: Envelope; index: number };
}

async function tree(count: number): Promise<{ tree: LogTree; published: Published[] }> {
  const t = new LogTree(server.url, registry);
  await t.genesis();
  const published: Published[] = [];
  for (let i = 0; i < count; i++) {
    const name = `@acme/pkg-${i}`;
    const version = await t.publish(name, "1.0.0", publisher);
    const envelope = await signPackageMetadata(
      { name, origin: server.url, serial: 1, versions: [{ version: "1.0.0", sequence: version.index, sha512: version.sha512, publishedAt: new Date().toISOString() }], distTags: { latest: "1.0.0" }, issuedAt: new Date() },
      registry,
    );
    const record = await metadataRecordOf(envelope);
    if (!record.ok) throw new Error(record.error);
    const index = t.size;
    await t.append(metadataRecordEntry(record.value));
    published.push({ name, ...version, metadata: { envelope, index } });
  }
  return { tree: t, published };
}

const pin = (extra: Partial<RegistryPin> = {}): RegistryPin => ({ registry: "team", url: server.url, fingerprints: [registry.keyid], ...extra });
const request = (p: Published, extra: Partial<RegistryPin> = {}): ProvenanceRequest => ({ spec: { name: p.name, version: "1.0.0" }, namespace: "@acme", pin: pin(extra), sha512: p.sha512, locators: [] });
/** The registry's signed metadata listing `p` (what it serves beside the bundle), also on the native package route. */
async function serveMetadata(p: Published): Promise<void> {
  signedMetadata.set(p.name, p.metadata);
  server.routes.set(`/-/countersign/v1/packages/${p.name.replace("/", "%2f")}`, [200, JSON.stringify({ name: p.name, metadata: p.metadata.envelope, metadataLog: { index: p.metadata.index } })]);
}
const serveBundles = async (entries: [Published, unknown][]) => {
  for (const [p, bundle] of entries) {
    server.bundles.set(`${p.name}@1.0.0`, bundle);
    await serveMetadata(p);
  }
};
const find = (requests: ProvenanceRequest[]) => findProvenance(requests, { policy: undefined, token: undefined, checkpoints: store });

describe("findProvenance: verified means countersigned AND in the log", () => {
  it("by the bundles' tlog-proofs, and from the tiles for a bundle without one", async () => {
    const { tree: t, published } = await tree(3);
    await server.serve(t);
    const checkpoint = await t.checkpoint();
    await serveBundles([
      [published[0]!, withProof(published[0]!.bundle, await t.tlogProof(published[0]!.index, t.size, checkpoint))],
      [published[1]!, withProof(published[1]!.bundle, await t.tlogProof(published[1]!.index, t.size, checkpoint))],
      [published[2]!, published[2]!.bundle],
    ]);
    const outcomes = await find(published.map((p) => request(p)));
    expect(outcomes.map((o) => o.status)).toEqual(["verified", "verified", "verified"]);
    expect(outcomes.map((o) => (o as Extract<ProvenanceOutcome, { status: "verified" }>).log)).toEqual([
      { index: published[0]!.index, checkpoint: t.size, via: "tlog-proof" },
      { index: published[1]!.index, checkpoint: t.size, via: "tlog-proof" },
      { index: published[2]!.index, checkpoint: t.size, via: "tiles" },
    ]);
    expect(store.read(registry.keyid)).toBe(checkpoint);
  });

  it("a bundle carrying another entry's tlog-proof fails at layer log (not_in_log), the others verify", async () => {
    const { tree: t, published } = await tree(2);
    await server.serve(t);
    const [a, b] = published as [Published, Published];
    await serveBundles([
      [a, withProof(a.bundle, await t.tlogProof(b.index))],
      [b, withProof(b.bundle, await t.tlogProof(b.index))],
    ]);
    const [failed, verified] = await find([request(a), request(b)]);
    expect(verified?.status).toBe("verified");
    expect(failed).toMatchObject({ status: "failed", failure: { layer: "log", code: "not_in_log", name: a.name, version: "1.0.0", namespace: "@acme", expected: `index ${a.index}`, actual: `index ${b.index}` } });
  });

  it("signed metadata whose serial the log does not hold (a view shown to this consumer alone) fails at layer log; none at all is metadata_not_logged", async () => {
    const { tree: t, published } = await tree(2);
    await server.serve(t);
    const [a, b] = published as [Published, Published];
    await serveBundles([
      [a, a.bundle],
      [b, b.bundle],
    ]);
    // Same serial, validly signed by the pinned key, but listing other dist-tags than the logged record says.
    const hidden = await signPackageMetadata(
      { name: a.name, origin: server.url, serial: 1, versions: [{ version: "1.0.0", sequence: a.index, sha512: a.sha512, publishedAt: new Date().toISOString() }], distTags: { latest: "1.0.0", next: "1.0.0" }, issuedAt: new Date() },
      registry,
    );
    signedMetadata.set(a.name, { envelope: hidden, index: a.metadata.index });
    signedMetadata.set(b.name, { envelope: b.metadata.envelope, index: a.metadata.index }); // pointing at another package's record
    const [forA, forB] = await find([request(a), request(b)]);
    expect(forA).toMatchObject({ status: "failed", failure: { layer: "log", code: "not_in_log", name: a.name } });
    expect((forA as Extract<ProvenanceOutcome, { status: "failed" }>).failure.message).toMatch(/^the signed metadata of @acme\/pkg-0 \(serial 1\): /);
    expect(forB).toMatchObject({ status: "failed", failure: { layer: "log", code: "not_in_log", name: b.name } });

    // Served without a metadataLog reference at all.
    const answer = RegistryClient.prototype.bundles;
    vi.spyOn(RegistryClient.prototype, "bundles").mockImplementationOnce(async function (this: RegistryClient, specs) {
      const answered = await answer.call(this, specs);
      if (answered.supported) answered.metadataLog.clear();
      return answered;
    });
    signedMetadata.set(a.name, a.metadata);
    const [unlogged] = await find([request(a)]);
    expect(unlogged).toMatchObject({ status: "failed", failure: { layer: "metadata", code: "metadata_not_logged", name: a.name } });
    // And with everything as the registry logged it, both verify (the records proved from the tiles).
    signedMetadata.set(b.name, b.metadata);
    expect((await find([request(a), request(b)])).map((o) => o.status)).toEqual(["verified", "verified"]);
  });

  it("a log forked under the stored checkpoint: every package of the registry fails with split_view naming both checkpoints", async () => {
    const { tree: honest, published } = await tree(2);
    await server.serve(honest);
    await serveBundles(published.map((p) => [p, p.bundle]));
    expect((await find(published.map((p) => request(p)))).map((o) => o.status)).toEqual(["verified", "verified"]);

    // The log now serves another tree of the stored size: its last entry rewritten.
    const other = new LogTree(server.url, registry);
    for (const entry of honest.entries.slice(0, -1)) await other.append(entry);
    await other.append(utf8("rewritten"));
    await server.serve(other);
    const outcomes = await find(published.map((p) => request(p)));
    for (const outcome of outcomes) {
      expect(outcome).toMatchObject({ status: "failed", failure: { layer: "log", code: "split_view", namespace: "@acme" } });
      const { failure } = outcome as Extract<ProvenanceOutcome, { status: "failed" }>;
      expect(failure.expected).toContain(`size ${honest.size} root`);
      expect(failure.actual).toContain(`size ${other.size} root`);
      expect(failure.expected).not.toBe(failure.actual);
    }
  });

  it("a log that is down: the packages are unavailable (exit 3 in verify), never verified", async () => {
    const { tree: t, published } = await tree(1);
    await server.serve(t);
    await serveBundles([[published[0]!, withProof(published[0]!.bundle, await t.tlogProof(published[0]!.index))]]);
    server.down = true;
    try {
      const [outcome] = await find([request(published[0]!)]);
      expect(outcome).toMatchObject({ status: "unavailable" });
      expect((outcome as { message: string }).message).toMatch(/transparency log .* could not be read.*HTTP 503/);
    } finally {
      server.down = false;
    }
  });

  it("a checkpoint signed by another key: bad_checkpoint at layer log", async () => {
    const { tree: t, published } = await tree(1);
    await server.serve(t, t.size, await t.checkpoint(t.size, await publisherKey(9)));
    await serveBundles([[published[0]!, published[0]!.bundle]]);
    const [outcome] = await find([request(published[0]!)]);
    expect(outcome).toMatchObject({ status: "failed", failure: { layer: "log", code: "bad_checkpoint" } });
  });
});

describe("pinned witnesses: inclusion counts only in a checkpoint their quorum cosigned", () => {
  let witness: NoteSigner;
  let vkey: string;
  beforeAll(async () => {
    const key = await signerFromSeedByte(42);
    witness = await cosignatureSigner("witness.example/w1", key);
    vkey = await formatVerifierKey("witness.example/w1", COSIGNATURE_TYPE, key.publicKey);
  });

  it("a tlog-proof whose checkpoint the witness cosigned: verified", async () => {
    const { tree: t, published } = await tree(1);
    const cosigned = await t.checkpoint(t.size, registry, undefined, [witness]);
    await server.serve(t, t.size, cosigned);
    await serveBundles([[published[0]!, withProof(published[0]!.bundle, await t.tlogProof(published[0]!.index, t.size, cosigned))]]);
    const [outcome] = await find([request(published[0]!, { witnesses: { quorum: 1, keys: [vkey] } })]);
    expect(outcome).toMatchObject({ status: "verified", log: { via: "tlog-proof" } });
  });

  it("a proof against an uncosigned checkpoint: proved again from the tiles of the cosigned latest one", async () => {
    const { tree: t, published } = await tree(1);
    const bare = await t.checkpoint();
    await t.append(gapEntry(t.size));
    await server.serve(t, t.size, await t.checkpoint(t.size, registry, undefined, [witness]));
    await serveBundles([[published[0]!, withProof(published[0]!.bundle, await t.tlogProof(published[0]!.index, t.size - 1, bare))]]);
    const [outcome] = await find([request(published[0]!, { witnesses: { quorum: 1, keys: [vkey] } })]);
    expect(outcome).toMatchObject({ status: "verified", log: { via: "tiles", checkpoint: t.size } });
  });

  it("no cosigned checkpoint covers it: witness_quorum at layer log", async () => {
    const { tree: t, published } = await tree(1);
    await server.serve(t);
    await serveBundles([[published[0]!, withProof(published[0]!.bundle, await t.tlogProof(published[0]!.index))]]);
    const [outcome] = await find([request(published[0]!, { witnesses: { quorum: 1, keys: [vkey] } })]);
    expect(outcome).toMatchObject({ status: "failed", failure: { layer: "log", code: "witness_quorum" } });
  });
});

async function runCommand(command: Command, args: string[]): Promise<{ code: number; stdout: string; error?: CliError }> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out.push(String(chunk));
    return true;
  });
  try {
    const { values, positionals } = parse(command, args);
    return { code: await command.run(values, positionals), stdout: out.join("") };
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    return { code: err.exitCode, stdout: out.join(""), error: err };
  } finally {
    spy.mockRestore();
  }
}

describe("fetch (online) and verify-artifact (offline)", () => {
  async function served(withTlogProof: boolean) {
    const { tree: t, published } = await tree(1);
    const p = published[0]!;
    await server.serve(t);
    const bundle = withTlogProof ? withProof(p.bundle, await t.tlogProof(p.index)) : p.bundle;
    const base = `/-/countersign/v1/packages/@acme%2fpkg-0/1.0.0`;
    server.routes.set(base, [200, JSON.stringify(bundle)]);
    server.routes.set(`${base}/artifact`, [200, utf8(`${p.name}@1.0.0 contents`)]);
    await serveMetadata(p);
    return { t, p, bundle };
  }
  const dir = () => mkdtempSync(join(tmpdir(), "cs-fetch-"));

  it("fetch: written only once the log proves it; --json carries the log", async () => {
    const { p } = await served(false);
    const out = join(dir(), "pkg.tgz");
    const result = await runCommand(fetchArtifact, ["@acme/pkg-0@1.0.0", "--registry", server.url, "--fingerprint", registry.keyid, "--out", out, "--json"]);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout).log).toEqual({ checked: true, index: p.index, via: "tiles", checkpoint: { origin: expect.stringContaining("/-/countersign/v1/log"), size: p.index + 2 } });
    expect(existsSync(out)).toBe(true);
  });

  it("fetch: a split view fails (exit 1) and writes nothing; a log that is down is exit 3", async () => {
    const { t } = await served(true);
    const out = join(dir(), "pkg.tgz");
    expect((await runCommand(fetchArtifact, ["@acme/pkg-0@1.0.0", "--registry", server.url, "--fingerprint", registry.keyid, "--out", out])).code).toBe(0);
    const other = new LogTree(server.url, registry);
    for (const entry of t.entries.slice(0, -1)) await other.append(entry);
    await other.append(utf8("rewritten"));
    await server.serve(other);
    const out2 = join(dir(), "pkg.tgz");
    const split = await runCommand(fetchArtifact, ["@acme/pkg-0@1.0.0", "--registry", server.url, "--fingerprint", registry.keyid, "--out", out2]);
    expect(split.code).toBe(EXIT.rejected);
    expect(split.error?.message).toMatch(/log layer rejected \[split_view\].*SPLIT VIEW/);
    expect(existsSync(out2)).toBe(false);
    server.down = true;
    try {
      const down = await runCommand(fetchArtifact, ["@acme/pkg-0@1.0.0", "--registry", server.url, "--fingerprint", registry.keyid, "--out", join(dir(), "x")]);
      expect(down.code).toBe(EXIT.unavailable);
    } finally {
      server.down = false;
    }
  });

  it("verify-artifact: checks the tlog-proof offline; a bad one fails; none is reported as not checked", async () => {
    const { p, bundle, t } = await served(true);
    const work = dir();
    const file = join(work, "pkg.tgz");
    writeFileSync(file, `${p.name}@1.0.0 contents`);
    const bundlePath = join(work, "bundle.json");
    const args = ["@acme/pkg-0@1.0.0", "--file", file, "--bundle", bundlePath, "--fingerprint", registry.keyid, "--json"];
    server.down = true; // offline: nothing may be fetched
    try {
      writeFileSync(bundlePath, JSON.stringify(bundle));
      const ok = await runCommand(verifyArtifact, args);
      expect(ok.code).toBe(0);
      expect(JSON.parse(ok.stdout).log).toMatchObject({ checked: true, offline: true, index: p.index, via: "tlog-proof" });

      const other = new LogTree(server.url, registry);
      await other.genesis();
      await other.append(gapEntry(1), gapEntry(2));
      writeFileSync(bundlePath, JSON.stringify(withProof(p.bundle, await other.tlogProof(1))));
      const bad = await runCommand(verifyArtifact, args);
      expect(bad.code).toBe(EXIT.rejected);
      expect(bad.error?.detail).toMatchObject({ failure: { layer: "log", code: "not_in_log" } });

      // A stored checkpoint of the same size but another tree: a split view, visible offline.
      store.write(registry.keyid, await other.checkpoint(t.size));
      writeFileSync(bundlePath, JSON.stringify(bundle));
      const split = await runCommand(verifyArtifact, args);
      expect(split.error?.detail).toMatchObject({ failure: { layer: "log", code: "split_view" } });

      writeFileSync(bundlePath, JSON.stringify(p.bundle));
      store.write(registry.keyid, await t.checkpoint());
      const none = await runCommand(verifyArtifact, args);
      expect(none.code).toBe(0);
      expect(JSON.parse(none.stdout).log).toEqual({ checked: false, offline: true, reason: "the bundle has no tlogProof" });
    } finally {
      server.down = false;
    }
    expect(readFileSync(bundlePath, "utf8")).toContain("countersignature");
  });
});

describe("verify (verifyProject): the report and exit code", () => {
  it("verified packages carry where the log proved them; a split view is exit 1 at layer log; a log that is down is exit 3", async () => {
    const { sriFromHex } = await import("../../src/core/index.js");
    const { verifyProject } = await import("../../scripts/cli/verification/project.js");
    const { tree: t, published } = await tree(2);
    await server.serve(t);
    await serveBundles(published.map((p) => [p, p.bundle]));
    const project = mkdtempSync(join(tmpdir(), "cs-log-project-"));
    writeFileSync(join(project, "package.json"), JSON.stringify({ name: "app", version: "1.0.0", dependencies: Object.fromEntries(published.map((p) => [p.name, "1.0.0"])) }));
    const packages: Record<string, unknown> = { "": { name: "app", version: "1.0.0", dependencies: Object.fromEntries(published.map((p) => [p.name, "1.0.0"])) } };
    for (const p of published) packages[`node_modules/${p.name}`] = { version: "1.0.0", resolved: `${server.url}/${p.name}/-/${p.name.split("/")[1]}-1.0.0.tgz`, integrity: sriFromHex("sha512", p.sha512) };
    writeFileSync(join(project, "package-lock.json"), JSON.stringify({ name: "app", version: "1.0.0", lockfileVersion: 3, requires: true, packages }));
    const pinsPath = join(project, "countersign.json");
    writeFileSync(pinsPath, JSON.stringify({ version: 1, registries: { team: { url: server.url, fingerprints: [registry.keyid] } }, namespaces: { "@acme": "team", "@*": "reject", "*": "allow" } }));
    const run = () => verifyProject({ dir: project, pinsPath, lockfiles: [], receipt: false });

    const ok = await run();
    expect(ok.exitCode).toBe(EXIT.ok);
    expect(ok.packages.map((p) => p.log)).toEqual(published.map((p) => ({ index: p.index, checkpoint: t.size, via: "tiles" })));

    const other = new LogTree(server.url, registry);
    for (const entry of t.entries.slice(0, -1)) await other.append(entry);
    await other.append(utf8("rewritten"));
    await server.serve(other);
    const split = await run();
    expect(split.exitCode).toBe(EXIT.rejected);
    expect(split.packages.map((p) => p.failure && `${p.failure.layer} ${p.failure.code}`)).toEqual(["log split_view", "log split_view"]);

    await server.serve(t);
    server.down = true;
    try {
      store.write(registry.keyid, await t.checkpoint());
      const down = await run();
      expect(down.exitCode).toBe(EXIT.unavailable);
      expect(down.packages.map((p) => p.status)).toEqual(["unavailable", "unavailable"]);
    } finally {
      server.down = false;
    }
  });
});
