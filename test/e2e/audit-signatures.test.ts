/**
 * `npm audit signatures`, the real npm, unmodified, against countersign (docs/PROTOCOL.md §11,
 * "Registry signatures"): a consumer installs countersigned packages and npm verifies every
 * `dist.signatures` under the key `/-/npm/v1/keys` serves — the key the registry's signed
 * identity document lists under its pinned Ed25519 fingerprint.
 *
 * And the attacks it stops, played by a rogue mirror between the consumer and the registry (a
 * compromised cache, CDN or proxy on the packument path, without the registry's npm key): it
 * swaps a version's tarball and integrity (the signature no longer matches), re-signs the
 * version with its own key (no such registry key, or an invalid signature under the registry's
 * keyid), or strips the signature (missing while the registry provides keys). Each makes
 * `npm audit signatures` exit 1.
 *
 * npm first refreshes the public Sigstore TUF repository; tests have no internet, so it reaches a
 * local stand-in (test/helpers/tuf-standin.ts) that answers as the real one does for any registry
 * but npm's own: no target, so npm falls back to the registry's keys endpoint.
 */

import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createNpmSigner, generateNpmSigningKey, sriFromHex, toHex, type NpmSigner } from "../../src/core/index.js";
import { enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { runJson } from "../helpers/cli.js";
import { startLocalServer } from "../helpers/local-server.js";
import { npm, pnpm, type Run } from "../helpers/npm.js";
import { ROOT } from "../helpers/paths.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { npmTarball } from "../helpers/tarball.js";
import { startTufStandin, type TufStandin } from "../helpers/tuf-standin.js";

let registry: TestRegistry;
let tuf: TufStandin;
let work: string;
let publisher: PublisherSetup;
let npmKey: NpmSigner;
const mirrors: Server[] = [];

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "countersign-audit-"));
  const secret = (await generateNpmSigningKey()).secret;
  npmKey = await createNpmSigner(secret);
  registry = await startRegistry({ name: "audit", vars: { NPM_SIGNING_KEY: secret } });
  tuf = await startTufStandin(join(work, "tuf"));
  publisher = await enrolPublisher(registry, "@acme", join(work, "key.json"));
  await publishDir(registry, publisher, writePackage(join(work, "util"), "@acme/util", "1.0.0", "util"));
  await publishDir(registry, publisher, writePackage(join(work, "core"), "@acme/core", "1.0.0", "core", { dependencies: { "@acme/util": "^1.0.0" } }));
});

afterAll(async () => {
  for (const mirror of mirrors) mirror.closeAllConnections(), mirror.close();
  await tuf?.stop();
  await registry?.stop();
});

/** A consumer project of @acme/core (which depends on @acme/util), installed from `registryUrl`. */
async function installedConsumer(name: string, registryUrl: string): Promise<string> {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, dependencies: { "@acme/core": "1.0.0" } }));
  writeFileSync(join(dir, ".npmrc"), `registry=${registryUrl}/\n`);
  const install = await npm(["install"], dir);
  expect(install.code, install.stderr).toBe(0);
  return dir;
}

/** `npm audit signatures` in `dir`, npm's TUF refresh going to the stand-in. */
function audit(dir: string, args: string[] = []): Promise<Run> {
  tuf.seed(join(dir, ".npm-cache"));
  return npm(["audit", "signatures", ...args], dir, tuf.env);
}

/** A mirror of the registry that rewrites @acme/util@1.0.0's version document in every packument. */
async function rogueMirror(rewrite: (version: Record<string, any>, mirror: string) => void, extra: (req: IncomingMessage, res: ServerResponse) => boolean = () => false): Promise<string> {
  let url = "";
  const server = createServer(async (req, res) => {
    if (extra(req, res)) return;
    const upstream = await fetch(`${registry.url}${req.url}`, { headers: { accept: req.headers.accept ?? "*/*" } });
    let body: Uint8Array | string = new Uint8Array(await upstream.arrayBuffer());
    if (/^\/@acme(%2f|\/)util$/i.test(req.url ?? "") && upstream.ok) {
      const doc = JSON.parse(new TextDecoder().decode(body)) as { versions: Record<string, Record<string, any>> };
      rewrite(doc.versions["1.0.0"]!, url);
      body = JSON.stringify(doc);
    }
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" }).end(body);
  });
  mirrors.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return url;
}

describe("npm audit signatures", () => {
  it("verifies every countersigned package: exit 0, the keys fetched from the registry after the (stand-in) TUF repository had none", async () => {
    const consumer = await installedConsumer("consumer", registry.url);
    const result = await audit(consumer);
    console.log(`npm audit signatures (clean):\n${result.stdout}${result.stderr}`);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toMatch(/^audited 2 packages in \d+s$/m);
    expect(result.stdout).toContain("2 packages have verified registry signatures");
    expect(result.stdout).not.toMatch(/missing|invalid/);
    expect(result.stderr).toContain(`Fetching verification keys using TUF failed.  Fetching directly from ${registry.url}/.`);
    expect(tuf.requests).toEqual(expect.arrayContaining(["/2.root.json", "/timestamp.json", "/snapshot.json", "/targets.json"]));
    expect(tuf.requests.filter((r) => r.startsWith("refused"))).toEqual([]);

    const json = await audit(consumer, ["--json"]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ invalid: [], missing: [] });
  });

  it("the key npm used is the one the registry's signed identity lists under its pinned fingerprint", async () => {
    const keys = (await (await fetch(`${registry.url}/-/npm/v1/keys`)).json()) as { keys: { keyid: string; key: string }[] };
    expect(keys.keys).toEqual([npmKey.registryKey]);
    const identity = await runJson<{ npmKeys: { keyid: string; keytype: string; key: string }[] }>(["identity", registry.url, "--fingerprint", registry.key.keyid, "--json"]);
    expect(identity.npmKeys).toEqual([{ keyid: npmKey.keyid, keytype: "ecdsa-sha2-nistp256", key: npmKey.key }]);
  });

  it("attack: a mirror swaps @acme/util's tarball and integrity, keeping the registry's signature → invalid, exit 1", async () => {
    const mirror = await swappingMirror();
    const victim = await installedConsumer("victim-swapped", mirror);
    // npm install checks only that the bytes match the (swapped) integrity: the evil code is installed.
    expect(readFileSync(join(victim, "node_modules", "@acme", "util", "index.js"), "utf8")).toContain("evil");
    const result = await audit(victim);
    console.log(`npm audit signatures (swapped tarball):\n${result.stdout}${result.stderr}`);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("1 package has an invalid registry signature:");
    expect(result.stdout).toContain(`@acme/util@1.0.0 (${mirror}/)`);
    expect(result.stdout).toContain("Someone might have tampered with this package since it was published on the registry!");
    expect(result.stdout).toContain("1 package has a verified registry signature"); // @acme/core, untouched
  });

  it("attack: a mirror re-signs with its own key under the registry's keyid → invalid; under its own keyid → no such key; exit 1", async () => {
    const attacker = await createNpmSigner((await generateNpmSigningKey()).secret);
    const mirrorForged = await rogueMirrorSigned(attacker, npmKey.keyid);
    const victim = await installedConsumer("victim-forged", mirrorForged);
    const result = await audit(victim);
    console.log(`npm audit signatures (re-signed, registry keyid):\n${result.stdout}${result.stderr}`);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("1 package has an invalid registry signature:");
    expect(result.stdout).toContain(`@acme/util@1.0.0 (${mirrorForged}/)`);

    const mirrorOwn = await rogueMirrorSigned(attacker, attacker.keyid);
    const victim2 = await installedConsumer("victim-own-key", mirrorOwn);
    const own = await audit(victim2);
    console.log(`npm audit signatures (re-signed, attacker keyid):\n${own.stdout}${own.stderr}`);
    expect(own.code).toBe(1);
    expect(own.stderr).toContain(`@acme/util@1.0.0 has a registry signature with keyid: ${attacker.keyid} but no corresponding public key can be found`);
  });

  it("attack: a mirror strips the signature → missing while the registry provides keys, exit 1", async () => {
    const mirror = await rogueMirror((v) => {
      delete v.dist.signatures;
    });
    const victim = await installedConsumer("victim-stripped", mirror);
    const result = await audit(victim);
    console.log(`npm audit signatures (stripped):\n${result.stdout}${result.stderr}`);
    expect(result.code).toBe(1);
    expect(result.stdout).toContain("1 package has a missing registry signature but the registry is providing signing keys:");
    expect(result.stdout).toContain(`@acme/util@1.0.0 (${mirror}/)`);
  });
});

/** A mirror that serves its own tarball for @acme/util@1.0.0, with its integrity, and keeps the registry's signature. */
async function swappingMirror(): Promise<string> {
  const evil = await npmTarball({ name: "@acme/util", version: "1.0.0", main: "index.js" }, { "index.js": 'module.exports = "evil";\n' });
  const evilIntegrity = sriFromHex("sha512", toHex(new Uint8Array(await crypto.subtle.digest("SHA-512", evil as Uint8Array<ArrayBuffer>))));
  return rogueMirror(
    (v, url) => {
      v.dist.integrity = evilIntegrity;
      v.dist.shasum = undefined;
      v.dist.tarball = `${url}/evil.tgz`;
    },
    (req, res) => req.url === "/evil.tgz" && (res.writeHead(200, { "content-type": "application/octet-stream" }).end(evil), true),
  );
}

/** A mirror that replaces @acme/util@1.0.0's signature by `signer`'s, announced under `keyid`. */
function rogueMirrorSigned(signer: NpmSigner, keyid: string): Promise<string> {
  return rogueMirrorAsync(async (v) => {
    const { sig } = await signer.sign(v.name, v.version, v.dist.integrity);
    v.dist.signatures = [{ keyid, sig }];
  });
}

async function rogueMirrorAsync(rewrite: (version: Record<string, any>) => Promise<void>): Promise<string> {
  const server = createServer(async (req, res) => {
    const upstream = await fetch(`${registry.url}${req.url}`, { headers: { accept: req.headers.accept ?? "*/*" } });
    let body: Uint8Array | string = new Uint8Array(await upstream.arrayBuffer());
    if (/^\/@acme(%2f|\/)util$/i.test(req.url ?? "") && upstream.ok) {
      const doc = JSON.parse(new TextDecoder().decode(body)) as { versions: Record<string, Record<string, any>> };
      await rewrite(doc.versions["1.0.0"]!);
      body = JSON.stringify(doc);
    }
    res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" }).end(body);
  });
  mirrors.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("pnpm audit signatures (pnpm 12 asks the registry's keys endpoint directly, no TUF)", () => {
  async function pnpmConsumer(name: string, registryUrl: string): Promise<string> {
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", private: true, dependencies: { "@acme/core": "1.0.0" } }));
    writeFileSync(join(dir, ".npmrc"), `registry=${registryUrl}/\n`);
    const install = await pnpm(["install"], dir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    return dir;
  }

  it("verifies the same packages: exit 0", async () => {
    const result = await pnpm(["audit", "signatures"], await pnpmConsumer("pnpm-consumer", registry.url));
    console.log(`pnpm audit signatures (clean):\n${result.stdout}${result.stderr}`);
    expect(result.code, result.stdout + result.stderr).toBe(0);
    expect(result.stdout).toContain("2 packages have verified registry signatures");
  });

  it("refuses the swapped tarball: exit 1", async () => {
    const mirror = await swappingMirror();
    const result = await pnpm(["audit", "signatures"], await pnpmConsumer("pnpm-victim", mirror));
    console.log(`pnpm audit signatures (swapped tarball):\n${result.stdout}${result.stderr}`);
    expect(result.code).toBe(1);
    expect(result.stdout + result.stderr).toContain("@acme/util@1.0.0");
  });
});

describe("npm start", () => {
  it("serves the npm key it generated into .dev.vars", async () => {
    const server = await startLocalServer(join(work, "start-state"));
    try {
      const secret = /^NPM_SIGNING_KEY="([^"]+)"$/m.exec(readFileSync(join(ROOT, ".dev.vars"), "utf8"))![1]!;
      const keys = (await (await fetch(`${server.url}/-/npm/v1/keys`)).json()) as { keys: unknown[] };
      expect(keys.keys).toEqual([(await createNpmSigner(secret)).registryKey]);
    } finally {
      await server.stop();
    }
  });
});
