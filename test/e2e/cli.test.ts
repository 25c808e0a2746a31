/**
 * End to end on real ports: registries in workerd (Miniflare on 127.0.0.1), driven by the built
 * client as a user would drive it. Each of the three layers stops its own attack, named.
 */

import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli, runJson } from "../helpers/cli.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

let team: TestRegistry;
let rogue: TestRegistry;
let work: string;
let env: Record<string, string>;
let publishToken: string;

const cs = (args: string[], extra: Record<string, string | undefined> = {}) => runCli(args, { env: { ...env, ...extra }, cwd: work });

beforeAll(async () => {
  [team, rogue] = await Promise.all([startRegistry({ name: "acme-team" }), startRegistry({ name: "rogue" })]);
  work = mkdtempSync(join(tmpdir(), "countersign-e2e-"));
  env = { COUNTERSIGN_REGISTRY: team.url, COUNTERSIGN_ADMIN_TOKEN: team.adminToken, XDG_CONFIG_HOME: join(work, "config") };
});

afterAll(async () => {
  await Promise.all([team?.stop(), rogue?.stop()]);
});

describe("the happy path: enrol → publish → fetch and verify against the pinned fingerprint", () => {
  it("keygen writes a 0600 key file and prints the public key", async () => {
    const out = await runJson<{ path: string; keyid: string; publicKey: string }>(["keygen"], { env, cwd: work });
    expect(out.path).toBe(join(work, "config", "countersign", "publisher-key.json"));
    expect(statSync(out.path).mode & 0o777).toBe(0o600);
    expect(out.keyid).toMatch(/^SHA256:/);
    expect((await cs(["keygen"])).code).toBe(2); // refuses to overwrite without --force
  });

  it("the admin creates the namespace, enrols the key and issues a publish token", async () => {
    expect((await cs(["admin", "namespace", "add", "@acme"])).code).toBe(0);
    const enrolled = await cs(["admin", "key", "add", "@acme", "--key-file", join(work, "config", "countersign", "publisher-key.json"), "--label", "alice"]);
    expect(enrolled.stdout).toContain("enrolled SHA256:");
    publishToken = (await runJson<{ token: string }>(["admin", "token", "create", "--scope", "publish", "--namespace", "@acme"], { env, cwd: work })).token;
    env.COUNTERSIGN_TOKEN = publishToken;
  });

  it("publishes a file and a package directory, then fetches and verifies both", async () => {
    writeFileSync(join(work, "notes.txt"), "release notes v1\n");
    const file = await cs(["publish", "notes.txt", "--name", "@acme/notes", "--version", "1.0.0", "--fingerprint", team.key.keyid]);
    expect(file.stderr).toBe("");
    expect(file.stdout).toContain(`countersigned by: ${team.key.keyid}`);
    // The answer's tlog-proof, checked by the client against the same key: the version is in the log.
    expect(file.stdout).toMatch(/transparency log: entry \d+, in the checkpoint of size \d+/);

    const pkg = join(work, "utils");
    mkdirSync(pkg);
    writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "@acme/utils", version: "1.2.3", main: "index.js" }));
    writeFileSync(join(pkg, "index.js"), "module.exports = () => 42;\n");
    const dir = await cs(["publish", pkg]);
    expect(dir.code).toBe(0);
    expect(dir.stdout).toContain("published @acme/utils@1.2.3");

    const fetched = await cs(["fetch", "@acme/notes@1.0.0", "--fingerprint", team.key.keyid, "--out", "notes-fetched.txt", "--bundle-out", "notes.bundle.json"]);
    expect(fetched.code).toBe(0);
    expect(fetched.stdout).toContain("verified @acme/notes@1.0.0");
    expect(readFileSync(join(work, "notes-fetched.txt"), "utf8")).toBe("release notes v1\n");
    const offline = await cs(["verify-artifact", "@acme/notes@1.0.0", "--file", "notes-fetched.txt", "--bundle", "notes.bundle.json", "--fingerprint", team.key.keyid]);
    expect(offline.code).toBe(0);

    const tarball = await runJson<{ verified: boolean; namespace: string; registry: { keyid: string } }>(["fetch", "@acme/utils@1.2.3", "--fingerprint", team.key.keyid, "--out", "utils.tgz"], { env, cwd: work });
    expect(tarball).toMatchObject({ verified: true, namespace: "@acme", registry: { keyid: team.key.keyid } });

    // Somewhere that cannot be written: one line naming it, exit 3, before anything is downloaded.
    for (const option of ["--out", "--bundle-out"]) {
      const nowhere = await cs(["fetch", "@acme/notes@1.0.0", "--fingerprint", team.key.keyid, option, "no-such-dir/x"]);
      expect(nowhere.code).toBe(3);
      expect(nowhere.stderr).toBe(`countersign: ${option} no-such-dir/x: there is no directory ${join(work, "no-such-dir")} to write it in\n`);
    }
  });

  it("identity prints the fingerprint, and checks it against a pin", async () => {
    const shown = await cs(["identity", team.url]);
    expect(shown.stdout).toContain(team.key.keyid);
    expect(shown.stdout).toContain("@acme");
    const pinned = await cs(["identity", team.url, "--fingerprint", rogue.key.keyid]);
    expect(pinned.code).toBe(1);
    expect(pinned.stderr).toContain(rogue.key.keyid);
  });

  it("republishing a version is refused with a one-line reason", async () => {
    const again = await cs(["publish", "notes.txt", "--name", "@acme/notes", "--version", "1.0.0"]);
    expect(again.code).toBe(1);
    expect(again.stderr.trim().split("\n")).toHaveLength(1);
    expect(again.stderr).toContain("version_exists");
  });
});

describe("each layer alone stops its attack, named", () => {
  it("integrity: bytes changed in storage after countersigning are rejected, and nothing is written", async () => {
    writeFileSync(join(work, "victim.txt"), "genuine bytes");
    expect((await cs(["publish", "victim.txt", "--name", "@acme/victim", "--version", "1.0.0"])).code).toBe(0);
    const db = await team.mf.getD1Database("DB");
    const row = await db.prepare("SELECT sha512 FROM versions WHERE name = '@acme/victim'").first<{ sha512: string }>();
    const bucket = await team.mf.getR2Bucket("ARTIFACTS");
    await bucket.put(`artifacts/sha512/${row!.sha512}`, "evil bytes!!!"); // storage compromise: no checksum
    const out = await cs(["fetch", "@acme/victim@1.0.0", "--fingerprint", team.key.keyid, "--out", "victim-fetched.txt"]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("integrity layer rejected [digest_mismatch] in @acme");
    expect(existsSync(join(work, "victim-fetched.txt"))).toBe(false);
  });

  it("publisher: a key not enrolled, or enrolled only in another namespace, cannot publish", async () => {
    const mallory = join(work, "mallory.json");
    expect((await cs(["keygen", "--out", mallory])).code).toBe(0);
    const notEnrolled = await cs(["publish", "notes.txt", "--name", "@acme/evil", "--version", "1.0.0", "--key", mallory]);
    expect(notEnrolled.code).toBe(1);
    expect(notEnrolled.stderr).toContain("publisher_not_enrolled");

    expect((await cs(["admin", "namespace", "add", "@other"])).code).toBe(0);
    expect((await cs(["admin", "key", "add", "@other", "--key-file", mallory])).code).toBe(0);
    const wrongNamespace = await cs(["publish", "notes.txt", "--name", "@acme/evil", "--version", "1.0.0", "--key", mallory]);
    expect(wrongNamespace.stderr).toContain("is not enrolled in @acme");
    expect((await cs(["fetch", "@acme/evil@1.0.0", "--fingerprint", team.key.keyid])).stderr).toContain("does not exist");
  });

  it("registry: a countersignature replayed onto another name is rejected", async () => {
    writeFileSync(join(work, "a.txt"), "package a");
    writeFileSync(join(work, "b.txt"), "package b");
    expect((await cs(["publish", "a.txt", "--name", "@acme/a", "--version", "1.0.0"])).code).toBe(0);
    expect((await cs(["publish", "b.txt", "--name", "@acme/b", "--version", "1.0.0"])).code).toBe(0);
    const db = await team.mf.getD1Database("DB");
    // A compromised database serves @acme/a's bytes and bundle as @acme/b.
    await db.prepare("UPDATE versions SET (bundle, sha512, sha256, size) = (SELECT bundle, sha512, sha256, size FROM versions WHERE name = '@acme/a') WHERE name = '@acme/b'").run();
    const out = await cs(["fetch", "@acme/b@1.0.0", "--fingerprint", team.key.keyid, "--out", "b-fetched.txt"]);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("registry layer rejected [countersignature_mismatch] in @acme");
  });

  it("binding: the same name from a registry with another key is rejected, naming both fingerprints", async () => {
    // The rogue registry runs the same software, has its own key, and happily serves @acme.
    const rogueEnv = { COUNTERSIGN_REGISTRY: rogue.url, COUNTERSIGN_ADMIN_TOKEN: rogue.adminToken };
    expect((await cs(["admin", "namespace", "add", "@acme"], rogueEnv)).code).toBe(0);
    expect((await cs(["admin", "key", "add", "@acme", "--key-file", join(work, "mallory.json")], rogueEnv)).code).toBe(0);
    const token = (await runJson<{ token: string }>(["admin", "token", "create", "--scope", "publish", "--namespace", "@acme"], { env: { ...env, ...rogueEnv }, cwd: work })).token;
    writeFileSync(join(work, "evil.txt"), "higher version, evil payload");
    expect((await cs(["publish", "evil.txt", "--name", "@acme/notes", "--version", "9.9.9", "--key", join(work, "mallory.json")], { ...rogueEnv, COUNTERSIGN_TOKEN: token })).code).toBe(0);
    const out = await cs(["fetch", "@acme/notes@9.9.9", "--fingerprint", team.key.keyid, "--out", "evil-fetched.txt"], rogueEnv);
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("binding layer rejected [untrusted_registry] in @acme");
    expect(out.stderr).toContain(`expected ${team.key.keyid}`);
    expect(out.stderr).toContain(`actual ${rogue.key.keyid}`);
  });
});

describe("pin: a fingerprint is never learnt silently", () => {
  const pinsFile = () => join(work, "countersign.json");

  it("refuses without a fingerprint when nobody is at a terminal, and writes nothing", async () => {
    const out = await cs(["pin", team.url, "--name", "team", "--namespace", "@acme"]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("pass --fingerprint");
    expect(out.stderr).toContain(team.key.keyid);
    expect(existsSync(pinsFile())).toBe(false);
  });

  it("refuses a fingerprint the registry does not have", async () => {
    const out = await cs(["pin", rogue.url, "--name", "team", "--namespace", "@acme", "--fingerprint", team.key.keyid]);
    expect(out.code).toBe(1);
    expect(existsSync(pinsFile())).toBe(false);
  });

  it("writes the pin when the given fingerprint matches, and the wildcard rules", async () => {
    const out = await cs(["pin", team.url, "--name", "team", "--namespace", "@acme", "--namespace", "@other", "--fingerprint", team.key.keyid]);
    expect(out.code, out.stderr).toBe(0);
    expect((await cs(["pin", "--rule", "@*=reject", "--rule", "*=allow"])).code).toBe(0);
    expect(JSON.parse(readFileSync(pinsFile(), "utf8"))).toEqual({
      version: 1,
      registries: { team: { url: team.url, fingerprints: [team.key.keyid] } },
      namespaces: { "@acme": "team", "@other": "team", "@*": "reject", "*": "allow" },
    });
  });

  it("asks a person at a terminal, and pins only on an explicit yes", async () => {
    const dir = mkdtempSync(join(tmpdir(), "countersign-tty-"));
    const pinCommand = `node ${JSON.stringify(join(process.cwd(), "dist", "countersign.mjs"))} pin ${team.url} --name team --namespace @acme`;
    const viaTerminal = (answer: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn("script", ["-qec", pinCommand, "/dev/null"], { cwd: dir, env: { ...process.env, TERM: "dumb" } });
        let out = "";
        child.stdout.on("data", (d: Buffer) => (out += d.toString()));
        child.stdout.once("data", () => setTimeout(() => child.stdin.write(`${answer}\n`), 300));
        child.on("close", (code) => resolve({ code, out }));
      });
    const declined = await viaTerminal("no");
    expect(declined.out).toContain(team.key.keyid);
    expect(declined.code).not.toBe(0);
    expect(existsSync(join(dir, "countersign.json"))).toBe(false);
    const accepted = await viaTerminal("yes");
    expect(accepted.code, accepted.out).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, "countersign.json"), "utf8")).registries.team.fingerprints).toEqual([team.key.keyid]);
  });
});

describe("the client fails clearly", () => {
  it.each([
    [["frobnicate"], 2, "unknown command"],
    [["fetch", "@acme/notes@1.0.0"], 2, "--fingerprint is required"],
    [["fetch", "no-version"], 2, "expected name@version"],
    [["publish", "missing.txt", "--name", "x", "--version", "1.0.0"], 2, "does not exist"],
    [["publish", "notes.txt"], 2, "not an npm tarball"],
    [["identity", "http://127.0.0.1:9"], 3, "127.0.0.1:9 unreachable"],
    [["fetch", "@acme/notes@1.0.0", "--fingerprint", "x", "--bogus"], 2, "unknown option --bogus"],
  ])("countersign %j → exit %i, one line", async (args, code, text) => {
    const out = await cs(args as string[]);
    expect(out.code).toBe(code);
    expect(out.stderr).toContain(text);
    expect(out.stderr).not.toMatch(/^\s+at /m);
  });

  it("refuses a key file other users can read", async () => {
    const loose = join(work, "loose.json");
    await cs(["keygen", "--out", loose]);
    const { chmodSync } = await import("node:fs");
    chmodSync(loose, 0o644);
    const out = await cs(["publish", "notes.txt", "--name", "@acme/loose", "--version", "1.0.0", "--key", loose]);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("chmod 600");
  });
});
