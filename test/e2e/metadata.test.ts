/**
 * Signed, expiring package metadata on the client (issue 11 part 3), end to end with a real
 * registry on 127.0.0.1, the real CLI, real npm, and a mirror in front of the registry that turns
 * hostile test by test. Countersignatures alone say which bytes are `@acme/utils@1.0.0`; only the
 * registry's signed metadata says that 1.1.0 exists and is `latest`. So:
 *
 * (a) the genuine statement passes `verify` and becomes this machine's floor;
 * (b) a real older statement (captured from the registry before 1.1.0 was published, still
 *     unexpired) replayed after this machine saw a newer one: `metadata_rollback`;
 * (c) a statement past its expiry (a frozen view): `metadata_expired`;
 * (d) a mirror hiding 1.1.0 and serving 1.0.0 as latest, with a statement the registry never
 *     signed (another key, or the registry's signature over edited contents): refused;
 * (e) `add` through a mirror moving `latest` back without the signed statement agreeing: refused
 *     at layer metadata; versions the statement does not list are never candidates;
 * (f) a statement by the registry key listing other bytes for the locked version: `version_not_listed`;
 * (g) a mirror, or a proxy of the batch API, that strips the metadata: `metadata_missing`
 *     (`fetch` likewise, and it writes nothing);
 * (h) a view signed by the registry's own key but never logged (what a compromised or
 *     equivocating registry shows one consumer): refused at layer log; without its log
 *     reference, `metadata_not_logged`; `monitor` lists every serial the registry did log.
 */

import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSigner, fromBase64, generateKeyPair, signPackageMetadata, toBase64, utf8, type Envelope, type PackageMetadata } from "../../src/core/index.js";
import { enrolPublisher, publishDir, writePackage } from "../helpers/actors.js";
import { runCli } from "../helpers/cli.js";
import { npm, writeConsumer } from "../helpers/npm.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { teamPins, verifyJson } from "../helpers/verify.js";

let team: TestRegistry;
let work: string;
/** A consumer that locked @acme/utils@1.0.0 from the team's registry (resolved URLs). */
let locked: string;
/** The statement the registry served after 1.0.0 (before 1.1.0), and the current one; each with its place in the log (`metadataLog`). */
let old: Envelope;
let current: Envelope;
let oldLog: { index: number };
let currentLog: { index: number };
const servers: Server[] = [];

type Doc = Record<string, unknown> & { versions?: Record<string, unknown>; "dist-tags"?: Record<string, string>; countersign?: { metadata?: unknown }; time?: Record<string, string> };

interface MirrorOptions {
  /** Rewrites each packument (full and abbreviated) before it is served. */
  packument?: (doc: Doc) => Doc;
  /** Forward the countersign API too, its JSON answers through `api` (by path); a plain mirror 404s it. */
  api?: (path: string, body: Doc) => Doc;
}

/** A mirror in front of the team's registry: npm's requests forwarded, JSON rewritten, its own URL in place of the team's. */
async function mirror(options: MirrorOptions = {}): Promise<string> {
  let self = "";
  const server = createServer(async (req, res) => {
    const path = req.url ?? "";
    const api = path.startsWith("/-/countersign/");
    if (api && !options.api) return void res.writeHead(404).end();
    let body: string | undefined;
    if (req.method === "POST") {
      body = "";
      for await (const chunk of req) body += String(chunk);
    }
    const upstream = await fetch(`${team.url}${path}`, { method: req.method, headers: { accept: req.headers.accept ?? "*/*", ...(body !== undefined ? { "content-type": "application/json" } : {}) }, ...(body !== undefined ? { body } : {}) });
    const bytes = Buffer.from(await upstream.arrayBuffer());
    const type = upstream.headers.get("content-type") ?? "application/octet-stream";
    if (!type.includes("json") || upstream.status !== 200) return void res.writeHead(upstream.status, { "content-type": type }).end(bytes);
    let doc = JSON.parse(bytes.toString()) as Doc;
    if (api && options.api) doc = options.api(path, doc);
    else if (!api && options.packument && doc.versions) doc = options.packument(doc);
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(doc).replaceAll(team.url, self));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  self = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return self;
}

const payloadOf = (envelope: Envelope) => JSON.parse(new TextDecoder().decode(fromBase64(envelope.payload)!)) as PackageMetadata;

async function metadataNow(): Promise<{ metadata: Envelope; metadataLog: { index: number } }> {
  const answer = (await (await fetch(`${team.url}/-/countersign/v1/packages/@acme%2futils`)).json()) as { metadata: Envelope; metadataLog: { index: number; tlogProof?: string } };
  return { metadata: answer.metadata, metadataLog: { index: answer.metadataLog.index } };
}

/** The full packument's `countersign` block serving `metadata` with the log reference of the registry's statement of the same serial. */
const served = (metadata: Envelope, log: { index: number } | undefined = payloadOf(metadata).serial === payloadOf(old).serial ? oldLog : currentLog) => ({ metadata, ...(log ? { metadataLog: log } : {}) });

/** The statement's contents, re-signed: by the registry's own key unless `key` says otherwise. */
async function resign(envelope: Envelope, change: (m: PackageMetadata) => Partial<PackageMetadata> & { issuedAt?: string; expires?: string }, key = team.key): Promise<Envelope> {
  const m = { ...payloadOf(envelope), ...change(payloadOf(envelope)) };
  return signPackageMetadata(
    { name: m.name, origin: m.registry.origin, serial: m.serial, versions: m.versions, distTags: m.distTags, issuedAt: new Date(m.issuedAt), expires: new Date(m.expires) },
    await createSigner(key),
  );
}

/** A copy of the locked consumer whose registry (pins, .npmrc, lockfile hosts) is `url`. */
function project(label: string, url: string): string {
  const dir = writeConsumer(join(work, label), { registry: url, acmeRegistry: url, resolved: true, dependencies: { "@acme/utils": "1.0.0" }, pins: teamPins(team, url) });
  writeFileSync(join(dir, "package-lock.json"), readFileSync(join(locked, "package-lock.json"), "utf8").replaceAll(team.url, url));
  return dir;
}

const freshState = () => mkdtempSync(join(work, "state-"));
const verify = (dir: string, state: string, args: string[] = []) => verifyJson(dir, { args: ["--no-cache", ...args], env: { COUNTERSIGN_LOG_STATE_DIR: state } });

/** The floors stored in a state directory (one file per registry key). */
function floors(state: string): { file: string; packages: Record<string, { serial: number; contentSha256: string }> } {
  const files = readdirSync(join(state, "metadata"));
  expect(files).toHaveLength(1);
  const file = join(state, "metadata", files[0]!);
  return { file, packages: (JSON.parse(readFileSync(file, "utf8")) as { packages: Record<string, { serial: number; contentSha256: string }> }).packages };
}

beforeAll(async () => {
  team = await startRegistry({ name: "acme-team" });
  work = mkdtempSync(join(tmpdir(), "countersign-metadata-"));
  const alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  await publishDir(team, alice, writePackage(join(work, "pkgs", "utils-1.0.0"), "@acme/utils", "1.0.0", "utils 1.0.0"));
  ({ metadata: old, metadataLog: oldLog } = await metadataNow());
  // The serial is the time of the last change in ms: let the clock move before the next one.
  await new Promise((resolve) => setTimeout(resolve, 20));
  await publishDir(team, alice, writePackage(join(work, "pkgs", "utils-1.1.0"), "@acme/utils", "1.1.0", "utils 1.1.0 (the security fix)"));
  ({ metadata: current, metadataLog: currentLog } = await metadataNow());
  locked = writeConsumer(join(work, "locked"), { registry: team.url, acmeRegistry: team.url, resolved: true, dependencies: { "@acme/utils": "1.0.0" }, pins: teamPins(team) });
  const install = await npm(["install"], locked);
  if (install.code !== 0) throw new Error(install.stderr);
}, 120_000);

afterAll(async () => {
  for (const server of servers) server.close();
  await team?.stop();
});

describe("signed package metadata in verify", () => {
  it("the registry signs what it holds: the old statement lists 1.0.0, the current one 1.1.0 as latest, at a higher serial", () => {
    const [before, now] = [payloadOf(old), payloadOf(current)];
    expect(before.versions.map((v) => v.version)).toEqual(["1.0.0"]);
    expect(before.distTags).toEqual({ latest: "1.0.0" });
    expect(now.versions.map((v) => v.version)).toEqual(["1.0.0", "1.1.0"]);
    expect(now.distTags).toEqual({ latest: "1.1.0" });
    expect(now.serial).toBeGreaterThan(before.serial);
  });

  it("(a) the genuine statement passes, and its serial is stored as this machine's floor (0600)", async () => {
    const state = freshState();
    const { code, report } = await verify(locked, state);
    expect(code).toBe(0);
    expect(report.packages).toMatchObject([{ name: "@acme/utils", version: "1.0.0", status: "verified", metadata: { serial: payloadOf(current).serial, expires: payloadOf(current).expires, logIndex: currentLog.index } }]);
    const stored = floors(state);
    expect(stored.packages["@acme/utils"]).toMatchObject({ serial: payloadOf(current).serial });
    expect(statSync(stored.file).mode & 0o777).toBe(0o600);
    const human = await runCli(["verify", "--no-cache", "--verbose"], { cwd: locked, env: { COUNTERSIGN_LOG_STATE_DIR: state } });
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`listed in its signed metadata (serial ${payloadOf(current).serial}, expires ${payloadOf(current).expires}, log entry ${currentLog.index})`);
    // Through a plain mirror (the full packument's countersign.metadata) it passes as well.
    const { code: viaMirror } = await verify(project("genuine-mirror", await mirror()), state);
    expect(viaMirror).toBe(0);
  });

  it("(b) rollback: a real, unexpired older statement replayed by a mirror after this machine saw a newer one", async () => {
    // Replayed as the registry served it then: the statement and its (genuinely logged) record's index.
    const url = await mirror({ packument: (doc) => ({ ...doc, countersign: served(old) }) });
    const dir = project("rollback", url);
    // A machine that never saw the package accepts the day-old view (bounded by expiry)…
    expect((await verify(dir, freshState())).code).toBe(0);
    // …one that accepted serial N refuses anything older.
    const state = freshState();
    expect((await verify(locked, state)).code).toBe(0);
    const { code, report } = await verify(dir, state);
    expect(code).toBe(1);
    expect(report.packages[0]!.failure).toMatchObject({
      layer: "metadata",
      code: "metadata_rollback",
      namespace: "@acme",
      expected: `serial ≥ ${payloadOf(current).serial}`,
      actual: `serial ${payloadOf(old).serial}`,
    });
    const human = await runCli(["verify", "--no-cache"], { cwd: dir, env: { COUNTERSIGN_LOG_STATE_DIR: state } });
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`metadata layer rejected [metadata_rollback] in @acme`);
    expect(human.stdout).toContain(`(expected serial ≥ ${payloadOf(current).serial}, actual serial ${payloadOf(old).serial})`);
    // A failure never lowers (or raises) the floor.
    expect(floors(state).packages["@acme/utils"]!.serial).toBe(payloadOf(current).serial);
  });

  it("(c) freeze: a statement past its expiry", async () => {
    const now = Date.now();
    const frozen = await resign(current, () => ({ issuedAt: new Date(now - 30 * 3600_000).toISOString(), expires: new Date(now - 6 * 3600_000).toISOString() }));
    const url = await mirror({ packument: (doc) => ({ ...doc, countersign: served(frozen) }) });
    const { code, report } = await verify(project("frozen", url), freshState());
    expect(code).toBe(1);
    expect(report.packages[0]!.failure).toMatchObject({ layer: "metadata", code: "metadata_expired", namespace: "@acme", actual: payloadOf(frozen).expires });
  });

  it("(d) a mirror hiding 1.1.0, serving 1.0.0 as latest, with a statement the registry never signed: real npm installs 1.0.0, verify refuses", async () => {
    const hide = (metadata: Envelope) => (doc: Doc): Doc => {
      const versions = { ...doc.versions };
      delete versions["1.1.0"];
      const time = doc.time ? { ...doc.time } : undefined;
      if (time) delete time["1.1.0"];
      return { ...doc, versions, "dist-tags": { latest: "1.0.0" }, ...(time ? { time } : {}), countersign: served(metadata, currentLog) };
    };
    const hidden = (m: PackageMetadata) => ({ versions: m.versions.filter((v) => v.version === "1.0.0"), distTags: { latest: "1.0.0" }, serial: m.serial + 1 });
    // Signed by a key nobody pinned.
    const attacker = await generateKeyPair();
    const url = await mirror({ packument: hide(await resign(current, hidden, attacker)) });
    const dir = writeConsumer(join(work, "hidden"), { registry: url, acmeRegistry: url, resolved: true, dependencies: { "@acme/utils": "^1.0.0" }, pins: teamPins(team, url) });
    const install = await npm(["install"], dir);
    expect(install.code, install.stderr).toBe(0);
    expect(readFileSync(join(dir, "package-lock.json"), "utf8")).toContain(`${url}/@acme/utils/-/utils-1.0.0.tgz`);
    const untrusted = await verify(dir, freshState());
    expect(untrusted.code).toBe(1);
    expect(untrusted.report.packages[0]!.failure).toMatchObject({ layer: "metadata", code: "metadata_untrusted", namespace: "@acme", expected: team.key.keyid, actual: attacker.keyid });

    // The registry's real signature over edited contents.
    const genuine = payloadOf(current);
    const edited: Envelope = { ...current, payload: toBase64(utf8(JSON.stringify({ ...genuine, ...hidden(genuine) }))) };
    const forged = await mirror({ packument: hide(edited) });
    const { code, report } = await verify(project("edited", forged), freshState());
    expect(code).toBe(1);
    expect(report.packages[0]!.failure).toMatchObject({ layer: "metadata", code: "metadata_invalid", namespace: "@acme" });
  });

  it("(f) a statement signed by the registry key listing other bytes for the locked version: version_not_listed", async () => {
    const other = "ab".repeat(64);
    const relisted = await resign(current, (m) => ({ serial: m.serial + 1, versions: m.versions.map((v) => (v.version === "1.0.0" ? { ...v, sha512: other } : v)) }));
    const url = await mirror({ packument: (doc) => ({ ...doc, countersign: served(relisted, currentLog) }) });
    const { code, report } = await verify(project("relisted", url), freshState());
    expect(code).toBe(1);
    const real = payloadOf(current).versions.find((v) => v.version === "1.0.0")!.sha512;
    expect(report.packages[0]!.failure).toMatchObject({ layer: "metadata", code: "version_not_listed", namespace: "@acme", expected: `sha512:${other}`, actual: `sha512:${real}` });
  });

  it("(g) a mirror that strips the metadata, or a proxy of the batch API that does: metadata_missing (fail closed)", async () => {
    const stripped = await mirror({ packument: (doc) => ({ ...doc, countersign: undefined }) });
    const plain = await verify(project("stripped", stripped), freshState());
    expect(plain.code).toBe(1);
    expect(plain.report.packages[0]!.failure).toMatchObject({ layer: "metadata", code: "metadata_missing", namespace: "@acme" });

    const strip = (path: string, { metadata: _dropped, ...rest }: Doc): Doc => rest;
    const proxy = await mirror({ api: strip });
    const batch = await verify(project("batch-stripped", proxy), freshState());
    expect(batch.code).toBe(1);
    expect(batch.report.packages[0]!.failure).toMatchObject({ layer: "metadata", code: "metadata_missing", namespace: "@acme" });
    // The same proxy passing the batch answer through untouched verifies.
    const faithful = await mirror({ api: (_path, body) => body });
    expect((await verify(project("batch-faithful", faithful), freshState())).code).toBe(0);
  });

  it("(h) a view signed by the registry key but never logged: refused at layer log; without its log reference, metadata_not_logged; monitor lists the logged serials", async () => {
    // What a compromised (or equivocating) registry shows one consumer: 1.1.0 hidden, latest back
    // at 1.0.0, under a new serial no monitor will ever see, pointing at the real record's index.
    const hidden = await resign(current, (m) => ({ serial: m.serial + 1, versions: m.versions.filter((v) => v.version === "1.0.0"), distTags: { latest: "1.0.0" } }));
    const unlogged = await verify(project("unlogged", await mirror({ packument: (doc) => ({ ...doc, countersign: served(hidden, currentLog) }) })), freshState());
    expect(unlogged.code).toBe(1);
    expect(unlogged.report.packages[0]!.failure).toMatchObject({ layer: "log", code: "not_in_log", namespace: "@acme" });
    expect(unlogged.report.packages[0]!.failure!.message).toContain(`the signed metadata of @acme/utils (serial ${payloadOf(hidden).serial}): `);
    // The same serial as the logged one, other contents: the recomputed entry is not the logged one.
    const twin = await resign(current, () => ({ distTags: { latest: "1.0.0" } }));
    const forked = await verify(project("twin", await mirror({ packument: (doc) => ({ ...doc, countersign: served(twin, currentLog) }) })), freshState());
    expect(forked.report.packages[0]!.failure).toMatchObject({ layer: "log", code: "not_in_log" });
    // No reference at all, through a plain mirror or a proxy of the batch API.
    const bare = await verify(project("no-log-ref", await mirror({ packument: (doc) => ({ ...doc, countersign: { metadata: current } }) })), freshState());
    expect(bare.report.packages[0]!.failure).toMatchObject({ layer: "metadata", code: "metadata_not_logged", namespace: "@acme" });
    const proxied = await verify(project("batch-no-log-ref", await mirror({ api: (_path, { metadataLog: _dropped, ...rest }) => rest })), freshState());
    expect(proxied.report.packages[0]!.failure).toMatchObject({ layer: "metadata", code: "metadata_not_logged" });
    // fetch refuses the unlogged view too, and writes nothing.
    const out = join(work, "unlogged.tgz");
    const fetched = await runCli(["fetch", "@acme/utils@1.0.0", "--registry", await mirror({ api: (path, body) => (path.startsWith("/-/countersign/v1/packages/") && body.metadata ? { ...body, metadata: hidden } : body) }), "--fingerprint", team.key.keyid, "--out", out], { env: { COUNTERSIGN_LOG_STATE_DIR: freshState() } });
    expect(fetched.code).toBe(1);
    expect(fetched.stderr).toContain("log layer rejected [not_in_log]");
    expect(existsSync(out)).toBe(false);

    // The monitor sees every serial the registry did sign: one per publish, with its digest.
    const report = JSON.parse((await runCli(["monitor", "@acme", "--from", "0", "--json"], { cwd: locked, env: { COUNTERSIGN_LOG_STATE_DIR: freshState() } })).stdout) as { metadata: { index: number; name: string; serial: number; contentSha256: string }[] };
    expect(report.metadata.map((m) => [m.index, m.name, m.serial])).toEqual([
      [oldLog.index, "@acme/utils", payloadOf(old).serial],
      [currentLog.index, "@acme/utils", payloadOf(current).serial],
    ]);
  });

  it("fetch: the version must be listed in the signed metadata; a registry serving none fails and writes nothing", async () => {
    const out = join(work, "fetched.tgz");
    const fetchFrom = (url: string) => runCli(["fetch", "@acme/utils@1.0.0", "--registry", url, "--fingerprint", team.key.keyid, "--out", out], { env: { COUNTERSIGN_LOG_STATE_DIR: freshState() } });
    const genuine = await fetchFrom(team.url);
    expect(genuine.code, genuine.stderr).toBe(0);
    expect(genuine.stdout).toContain(`metadata   listed in its signed metadata (serial ${payloadOf(current).serial}`);
    rmSync(out);
    const stripping = await mirror({ api: (_path, { metadata: _dropped, ...rest }) => rest, packument: (doc) => ({ ...doc, countersign: undefined }) });
    const stripped = await fetchFrom(stripping);
    expect(stripped.code).toBe(1);
    expect(stripped.stderr).toContain("metadata layer rejected [metadata_missing] in @acme");
    expect(existsSync(out)).toBe(false);
  });
});

describe("signed package metadata in add", () => {
  function addProject(label: string, url: string): string {
    return writeConsumer(join(work, label), { registry: url, acmeRegistry: url, resolved: true, dependencies: {}, pins: teamPins(team, url) });
  }
  const add = (dir: string, spec: string, state = freshState()) => runCli(["add", spec, "--no-install", "--json"], { cwd: dir, env: { COUNTERSIGN_LOG_STATE_DIR: state } });
  const dependency = (dir: string) => (JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { dependencies: Record<string, string> }).dependencies["@acme/utils"];

  it("resolves latest from the signed dist-tags, and stores the floor", async () => {
    const dir = addProject("add-latest", team.url);
    const state = freshState();
    const out = await add(dir, "@acme/utils@latest", state);
    expect(out.code, out.stderr).toBe(0);
    expect(dependency(dir)).toBe("1.1.0");
    expect(JSON.parse(out.stdout)).toMatchObject({ version: "1.1.0", metadata: { serial: payloadOf(current).serial, distTags: { latest: "1.1.0" } } });
    expect(floors(state).packages["@acme/utils"]!.serial).toBe(payloadOf(current).serial);
  });

  it("(e) a mirror moving latest back without the signed statement agreeing: refused at layer metadata, nothing written", async () => {
    const url = await mirror({ packument: (doc) => ({ ...doc, "dist-tags": { latest: "1.0.0" } }) });
    for (const [i, spec] of ["@acme/utils", "@acme/utils@latest", "@acme/utils@^1.0.0"].entries()) {
      const dir = addProject(`add-moved-${i}`, url);
      const before = readFileSync(join(dir, "package.json"), "utf8");
      const out = await add(dir, spec);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain("metadata layer rejected [dist_tags_mismatch] in @acme");
      expect(out.stderr).toContain("(expected latest=1.1.0, actual latest=1.0.0)");
      expect(readFileSync(join(dir, "package.json"), "utf8")).toBe(before);
    }
  });

  it("a version the packument offers but the signed statement does not list is never a candidate", async () => {
    const url = await mirror({
      packument: (doc) => ({ ...doc, versions: { ...doc.versions, "1.9.0": { ...(doc.versions!["1.1.0"] as Record<string, unknown>), version: "1.9.0" } } }),
    });
    const dir = addProject("add-unlisted", url);
    const out = await add(dir, "@acme/utils@^1.0.0");
    expect(out.code, out.stderr).toBe(0);
    expect(dependency(dir)).toBe("1.1.0");
    const { skipped } = JSON.parse(out.stdout) as { skipped: { version: string; reason: string }[] };
    expect(skipped).toEqual([{ version: "1.9.0", reason: expect.stringContaining("metadata layer rejected [version_not_listed] in @acme") }]);
  });

  it("a rollback is refused by add too, against the floor verify stored", async () => {
    const state = freshState();
    expect((await verify(locked, state)).code).toBe(0);
    const url = await mirror({ packument: (doc) => ({ ...doc, "dist-tags": { latest: "1.0.0" }, countersign: served(old) }) });
    const out = await add(addProject("add-rollback", url), "@acme/utils@1.0.0", state);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("metadata layer rejected [metadata_rollback] in @acme");
  });
});
