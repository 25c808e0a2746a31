/**
 * The paper's claim, end to end with real processes on 127.0.0.1: a misconfiguration that lets
 * real `npm install` fetch an attacker's `@acme/utils` is caught cryptographically by
 * `countersign verify` against the consumer's pins.
 *
 * - team:  the team's countersign registry, authoritative for @acme.
 * - rogue: a second countersign instance with its own key, serving @acme/utils at a higher
 *          version with the same file layout (the "public" registry of the story).
 */

import { readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_MEDIA_TYPE, bufferSource, createSigner, fromBase64, sriFromHex, toHex, type Bundle } from "../../src/core/index.js";
import { enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { registryCountersign } from "../helpers/bundles.js";
import { runCli } from "../helpers/cli.js";
import { npm, pnpm, requireIn, writeConsumer } from "../helpers/npm.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

let team: TestRegistry;
let rogue: TestRegistry;
let work: string;
let alice: PublisherSetup; // the team's publisher
let mallory: PublisherSetup; // the attacker, enrolled at the rogue registry

const pins = () => ({
  version: 1,
  registries: { team: { url: team.url, fingerprints: [team.key.keyid] } },
  namespaces: { "@acme": "team", "@*": "reject", "*": "allow" },
});

interface VerifyJson {
  ok: boolean;
  summary: { verified: number; failed: number };
  packages: { name: string; version: string; status: string; failure?: { layer: string; code: string; namespace: string; expected?: string; actual?: string; message: string } }[];
}

async function verify(dir: string, extra: string[] = []) {
  const result = await runCli(["verify", "--json", ...extra], { cwd: dir });
  return { code: result.code, report: JSON.parse(result.stdout) as VerifyJson, stderr: result.stderr };
}

beforeAll(async () => {
  // The rogue registry's storage is rewritten behind its back below (serveOnRogue), so it must
  // not remember downloads: a countersign registry's versions never change under it otherwise.
  [team, rogue] = await Promise.all([startRegistry({ name: "acme-team" }), startRegistry({ name: "public-mirror", vars: { HOT_CACHE: "off" } })]);
  work = mkdtempSync(join(tmpdir(), "countersign-confusion-"));
  alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  mallory = await enrolPublisher(rogue, "@acme", join(work, "mallory.json"));
  await publishDir(team, alice, writePackage(join(work, "pkgs", "utils-1.0.0"), "@acme/utils", "1.0.0", "team utils"));
  await publishDir(team, alice, writePackage(join(work, "pkgs", "lib-1.0.0"), "@acme/lib", "1.0.0", "team lib"));
  // The attacker's higher version, same layout, published through the rogue's own enrolment.
  await publishDir(rogue, mallory, writePackage(join(work, "pkgs", "evil-utils"), "@acme/utils", "1.9.9", "rogue utils"));
});

afterAll(async () => {
  await Promise.all([team?.stop(), rogue?.stop()]);
});

describe("1. correct .npmrc: real installs succeed and verify accepts", () => {
  it.each([true, false])("npm install (resolved URLs in the lockfile: %s) → verify ok", async (resolved) => {
    const dir = writeConsumer(join(work, `npm-good-${resolved}`), { registry: rogue.url, acmeRegistry: team.url, resolved, dependencies: { "@acme/utils": "^1.0.0" }, pins: pins() });
    const install = await npm(["install"], dir);
    expect(install.code, install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("team utils");
    const lock = readFileSync(join(dir, "package-lock.json"), "utf8");
    expect(lock.includes(`${team.url}/@acme/utils/-/utils-1.0.0.tgz`)).toBe(resolved);
    const { code, report } = await verify(dir);
    expect(report.summary).toMatchObject({ verified: 1, failed: 0 });
    expect(code).toBe(0);
  });

  it("pnpm install → verify reads pnpm-lock.yaml and accepts", async () => {
    const dir = writeConsumer(join(work, "pnpm-good"), { registry: rogue.url, acmeRegistry: team.url, resolved: false, dependencies: { "@acme/utils": "^1.0.0" }, pins: pins() });
    const install = await pnpm(["install"], dir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("team utils");
    const { code, report } = await verify(dir);
    expect(report.packages).toMatchObject([{ name: "@acme/utils", version: "1.0.0", status: "verified" }]);
    expect(code).toBe(0);
  });
});

describe("2. .npmrc missing its @acme:registry line: npm installs the rogue package, verify fails closed", () => {
  it.each([true, false])("binding layer names the namespace and both fingerprints (resolved URLs: %s)", async (resolved) => {
    const dir = writeConsumer(join(work, `npm-confused-${resolved}`), { registry: rogue.url, resolved, dependencies: { "@acme/utils": "^1.0.0" }, pins: pins() });
    const install = await npm(["install"], dir);
    expect(install.code, install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/utils")).toBe("rogue utils"); // today's silent failure
    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    expect(report.packages[0]).toMatchObject({
      name: "@acme/utils",
      version: "1.9.9",
      status: "failed",
      failure: { layer: "binding", code: "untrusted_registry", namespace: "@acme", expected: team.key.keyid, actual: rogue.key.keyid },
    });
    const human = await runCli(["verify"], { cwd: dir });
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`binding layer rejected [untrusted_registry] in @acme`);
    expect(human.stdout).toContain(team.key.keyid);
    expect(human.stdout).toContain(rogue.key.keyid);
  });
});

describe("3. the rogue registry tries harder", () => {
  /** Makes the rogue serve @acme/lib@1.0.0 as tampered bytes with the given bundle. */
  async function serveOnRogue(tarball: Uint8Array, bundle: Bundle, manifest: Record<string, unknown>) {
    const digest = async (algorithm: string) => toHex(new Uint8Array(await crypto.subtle.digest(algorithm, bufferSource(tarball))));
    const [sha512, sha256, sha1] = [await digest("SHA-512"), await digest("SHA-256"), await digest("SHA-1")];
    await (await rogue.mf.getR2Bucket("ARTIFACTS")).put(`artifacts/sha512/${sha512}`, tarball);
    const db = await rogue.mf.getD1Database("DB");
    await db.prepare("DELETE FROM versions WHERE name = '@acme/lib'").run();
    await db
      .prepare("INSERT INTO versions (name, version, namespace, sequence, size, sha256, sha512, sha1, publisher_keyid, bundle, manifest, published_at) VALUES ('@acme/lib', '1.0.0', '@acme', 1000, ?, ?, ?, ?, 'x', ?, ?, '2026-11-24T12:00:00.000Z')")
      .bind(tarball.length, sha256, sha512, sha1, JSON.stringify(bundle), JSON.stringify(manifest))
      .run();
    await db.prepare("INSERT OR REPLACE INTO dist_tags (name, tag, version) VALUES ('@acme/lib', 'latest', '1.0.0')").run();
  }

  async function tamperedLib(): Promise<{ tarball: Uint8Array; genuine: Bundle; manifest: Record<string, unknown> }> {
    const genuine = (await (await fetch(`${team.url}/-/countersign/v1/packages/@acme%2flib/1.0.0`)).json()) as Bundle;
    const dir = writePackage(join(work, "pkgs", `lib-tampered-${Math.random()}`), "@acme/lib", "1.0.0", "tampered lib");
    const packed = await npm(["pack", "--json"], dir);
    const file = (JSON.parse(packed.stdout) as { filename: string }[])[0]!.filename.replace("@acme/", "acme-");
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
    return { tarball: new Uint8Array(readFileSync(join(dir, file))), genuine, manifest };
  }

  async function installLibFromRogue(label: string) {
    const dir = writeConsumer(join(work, label), { registry: rogue.url, resolved: false, dependencies: { "@acme/lib": "1.0.0" }, pins: pins() });
    const install = await npm(["install"], dir);
    expect(install.code, install.stderr).toBe(0);
    expect(await requireIn(dir, "@acme/lib")).toBe("tampered lib");
    return dir;
  }

  it("copies the team's real countersigned bundle next to a tampered tarball → integrity", async () => {
    const { tarball, genuine, manifest } = await tamperedLib();
    await serveOnRogue(tarball, genuine, manifest);
    const { code, report } = await verify(await installLibFromRogue("copied-bundle"));
    expect(code).toBe(1);
    expect(report.packages[0]!.failure).toMatchObject({ layer: "integrity", code: "digest_mismatch", namespace: "@acme" });
  });

  it("re-countersigns the team's publisher statement with its own key → binding", async () => {
    const { tarball, genuine, manifest } = await tamperedLib();
    const rogueSigner = await createSigner(rogue.key);
    const resigned = await registryCountersign(genuine.publisher, rogueSigner, { origin: rogue.url });
    expect(resigned.mediaType).toBe(BUNDLE_MEDIA_TYPE);
    await serveOnRogue(tarball, resigned, manifest);
    const { code, report } = await verify(await installLibFromRogue("resigned"));
    expect(code).toBe(1);
    expect(report.packages[0]!.failure).toMatchObject({ layer: "binding", code: "untrusted_registry", expected: team.key.keyid, actual: rogue.key.keyid });
  });

  it("countersign add refuses to write a version npm would fetch from elsewhere, and changes nothing", async () => {
    const { tarball, genuine, manifest } = await tamperedLib();
    await serveOnRogue(tarball, genuine, manifest);
    const dir = writeConsumer(join(work, "add-misrouted"), { registry: rogue.url, resolved: false, dependencies: {}, pins: pins() });
    const before = readFileSync(join(dir, "package.json"), "utf8");
    const out = await runCli(["add", "@acme/lib@1.0.0"], { cwd: dir });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("is .npmrc routing @acme to");
    expect(readFileSync(join(dir, "package.json"), "utf8")).toBe(before);
  });

  it("enrols an attacker publisher key at its own registry → binding (scenario 2's package, publisher key shown)", async () => {
    const bundle = (await (await fetch(`${rogue.url}/-/countersign/v1/packages/@acme%2futils/1.9.9`)).json()) as Bundle;
    const publisherKeyid = bundle.publisher.signatures[0]!.keyid;
    const attacker = JSON.parse(readFileSync(mallory.keyFile, "utf8")) as { keyid: string };
    expect(publisherKeyid).toBe(attacker.keyid);
    const dir = writeConsumer(join(work, "attacker-key"), { registry: rogue.url, resolved: true, dependencies: { "@acme/utils": "^1.0.0" }, pins: pins() });
    expect((await npm(["install"], dir)).code).toBe(0);
    const { report } = await verify(dir);
    expect(report.packages[0]!.failure).toMatchObject({ layer: "binding", expected: team.key.keyid, actual: rogue.key.keyid });
  });
});

describe("provenance from where a package was installed", () => {
  it("a plain mirror of the team registry verifies from the packuments it passes through, even with the pinned URL unreachable", async () => {
    // A caching proxy that knows nothing of countersign: it forwards npm's requests only.
    const mirror = createServer(async (req, res) => {
      if ((req.url ?? "").startsWith("/-/countersign/")) return void res.writeHead(404).end();
      const upstream = await fetch(`${team.url}${req.url}`, { headers: { accept: req.headers.accept ?? "*/*" } });
      const body = Buffer.from(await upstream.arrayBuffer());
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/octet-stream" }).end(
        // Rewrite tarball URLs to the mirror, as proxies do; the bundles pass through untouched.
        upstream.headers.get("content-type")?.includes("json") ? body.toString().replaceAll(team.url, mirrorUrl) : body,
      );
    });
    await new Promise<void>((resolve) => mirror.listen(0, "127.0.0.1", resolve));
    const mirrorUrl = `http://127.0.0.1:${(mirror.address() as AddressInfo).port}`;
    try {
      const unreachablePins = { ...pins(), registries: { team: { url: "http://127.0.0.1:9", fingerprints: [team.key.keyid] } } };
      const dir = writeConsumer(join(work, "via-mirror"), { registry: mirrorUrl, resolved: true, dependencies: { "@acme/utils": "1.0.0" }, pins: unreachablePins });
      const install = await npm(["install"], dir);
      expect(install.code, install.stderr).toBe(0);
      expect(readFileSync(join(dir, "package-lock.json"), "utf8")).toContain(`${mirrorUrl}/@acme/utils/-/utils-1.0.0.tgz`);
      const { code, report } = await verify(dir);
      expect(report.packages).toMatchObject([{ name: "@acme/utils", version: "1.0.0", status: "verified" }]);
      expect(code).toBe(0);
    } finally {
      mirror.close();
    }
  });

  it("a registry that serves no countersign provenance fails closed, and is never sent the token", async () => {
    const seen: { url: string; authorization?: string }[] = [];
    const server = createServer((req, res) => {
      seen.push({ url: req.url ?? "", ...(req.headers.authorization ? { authorization: req.headers.authorization } : {}) });
      res.writeHead(404, { "content-type": "text/html" }).end("<h1>not here</h1>");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const plain = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const dir = writeConsumer(join(work, "plain-origin"), { registry: plain, resolved: true, dependencies: {}, pins: pins() });
      writeFileSync(
        join(dir, "package-lock.json"),
        JSON.stringify({
          name: "consumer",
          lockfileVersion: 3,
          packages: { "": { name: "consumer" }, "node_modules/@acme/utils": { version: "5.0.0", resolved: `${plain}/@acme/utils/-/utils-5.0.0.tgz`, integrity: `sha512-${"A".repeat(86)}==` } },
        }),
      );
      const result = await runCli(["verify", "--json"], { cwd: dir, env: { COUNTERSIGN_TOKEN: "cs_secret_read_token" } });
      expect(result.code).toBe(1);
      const report = JSON.parse(result.stdout) as VerifyJson;
      expect(report.packages[0]!.failure).toMatchObject({ layer: "binding", code: "not_countersigned", expected: team.key.keyid, actual: "none" });
      expect(report.packages[0]!.failure!.message).toContain(`${plain} (where it is installed from) has a countersignature for it`);
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((r) => r.authorization === undefined)).toBe(true);
    } finally {
      server.close();
    }
  });
});

describe("4. a lockfile whose integrity was edited", () => {
  it("is rejected by verify (integrity), even though the countersignature is genuine", async () => {
    const dir = writeConsumer(join(work, "edited-lock"), { registry: rogue.url, acmeRegistry: team.url, resolved: false, dependencies: { "@acme/utils": "^1.0.0" }, pins: pins() });
    expect((await npm(["install"], dir)).code).toBe(0);
    const path = join(dir, "package-lock.json");
    const lock = JSON.parse(readFileSync(path, "utf8")) as { packages: Record<string, { integrity: string }> };
    const entry = lock.packages["node_modules/@acme/utils"]!;
    const digest = fromBase64(entry.integrity.slice("sha512-".length))!;
    digest[0]! ^= 1;
    entry.integrity = sriFromHex("sha512", toHex(digest));
    writeFileSync(path, JSON.stringify(lock, null, 2));
    const { code, report } = await verify(dir);
    expect(code).toBe(1);
    expect(report.packages[0]!.failure).toMatchObject({ layer: "integrity", code: "digest_mismatch", namespace: "@acme" });
  });
});
