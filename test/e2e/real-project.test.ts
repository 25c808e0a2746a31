/**
 * Pins for a real project (issue 9, item 2), on a real lockfile: test/fixtures/real-project is
 * jest + eslint + typescript + webpack + webpack-cli, its package-lock.json resolved from the npm
 * registry (400 entries, 17 scopes, 265 unscoped names). To regenerate it, in an empty directory
 * holding only its package.json:
 *     npm install --package-lock-only --ignore-scripts --omit-lockfile-registry-resolved=false
 *
 * - `countersign init --yes` writes pins that list every namespace in use and reject any other;
 * - `verify` then passes with 0 false rejections, prints one line per namespace (not 400), and
 *   touches no network at all: allowed packages are never fetched (a preloaded guard makes any
 *   connection to a host other than 127.0.0.1 fail and records it);
 * - a *new* scope or unscoped name added to the lockfile — a look-alike such as `@babel-core/…`
 *   — is rejected by rule, named in the summary, until someone allows it with `pin --rule`;
 * - with the team's own registry bound by `init --registry … --fingerprint …`, the team's
 *   package is verified against its key and a look-alike of the team's scope is rejected.
 */

import { spawn } from "node:child_process";
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { enrolPublisher, publishDir, writePackage } from "../helpers/actors.js";
import type { ProjectReport } from "../../scripts/cli/verification/project.js";
import { runCli } from "../helpers/cli.js";
import { CLI, ROOT } from "../helpers/paths.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const FIXTURE = join(ROOT, "test", "fixtures", "real-project");
const SRI = (c: string) => `sha512-${c.repeat(86)}==`;

/** The JSON report, as the built client prints it (the types are the client's own). */
type Report = Pick<ProjectReport, "ok" | "exitCode" | "summary" | "namespaces"> & {
  packages: { name: string; status: string; namespace: string; failure?: { code: string; namespace: string; message: string } }[];
};

let work: string;
let guard: string;

/** A module preloaded into the CLI: any connection to a host other than 127.0.0.1 fails, and is logged. */
const NO_NETWORK = `
import net from "node:net";
import { appendFileSync } from "node:fs";
const log = process.env.NO_NETWORK_LOG;
const local = new Set(["127.0.0.1", "localhost", "::1"]);
const record = (what) => { appendFileSync(log, what + "\\n"); };
const realFetch = globalThis.fetch;
globalThis.fetch = async (input, init) => {
  const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
  if (!local.has(url.hostname)) { record("fetch " + url.href); throw new TypeError("fetch failed: the network is off in this test"); }
  return realFetch(input, init);
};
const connect = net.Socket.prototype.connect;
net.Socket.prototype.connect = function (...args) {
  const first = Array.isArray(args[0]) ? args[0][0] : args[0];
  const options = typeof first === "object" && first !== null ? first : { port: first, host: typeof args[1] === "string" ? args[1] : "localhost" };
  if (options.path === undefined && !local.has(options.host ?? "localhost")) { record("connect " + options.host + ":" + options.port); throw new Error("the network is off in this test"); }
  return connect.apply(this, args);
};
`;

/** The CLI in `dir`, offline: a network attempt fails the command and lands in the log. */
function offline(args: string[], dir: string) {
  const log = join(dir, "network.log");
  return runCli(args, { cwd: dir, env: { NODE_OPTIONS: `--import=${guard}`, NO_NETWORK_LOG: log } });
}
const networkLog = (dir: string) => (existsSync(join(dir, "network.log")) ? readFileSync(join(dir, "network.log"), "utf8") : "");

/** A fresh copy of the fixture project. */
function project(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const file of ["package.json", "package-lock.json"]) copyFileSync(join(FIXTURE, file), join(dir, file));
  return dir;
}

/** Adds a registry package to the project's package-lock.json (and package.json), as npm would write it. */
function addLocked(dir: string, name: string, version: string, resolved: string, integrity: string): void {
  const lockPath = join(dir, "package-lock.json");
  const lock = JSON.parse(readFileSync(lockPath, "utf8")) as { packages: Record<string, Record<string, unknown>> };
  lock.packages[""]!.devDependencies = { ...(lock.packages[""]!.devDependencies as object), [name]: version };
  lock.packages[`node_modules/${name}`] = { version, resolved, integrity, dev: true, license: "MIT" };
  writeFileSync(lockPath, `${JSON.stringify(lock, null, 2)}\n`);
  const pkgPath = join(dir, "package.json");
  const pkg = JSON.parse(readFileSync(pkgPath, "utf8")) as { devDependencies: Record<string, string> };
  pkg.devDependencies[name] = version;
  writeFileSync(pkgPath, `${JSON.stringify(pkg, null, 2)}\n`);
}

async function verifyReport(dir: string, extra: string[] = []): Promise<{ code: number; report: Report }> {
  const result = await offline(["verify", "--no-receipt", "--json", ...extra], dir);
  try {
    return { code: result.code, report: JSON.parse(result.stdout) as Report };
  } catch {
    throw new Error(`verify printed no report (exit ${result.code}): ${result.stderr}`);
  }
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "countersign-real-project-"));
  guard = join(work, "no-network.mjs");
  writeFileSync(guard, NO_NETWORK);
});

describe("the offline guard itself", () => {
  it("stops and records a request to the npm registry (so a clean log below means no request)", async () => {
    const dir = join(work, "guard-check");
    mkdirSync(dir);
    const out = await offline(["identity", "https://registry.npmjs.org"], dir);
    expect(out.code).toBe(3);
    expect(networkLog(dir)).toContain("registry.npmjs.org");
  });
});

describe("a real project (jest, eslint, typescript, webpack): init → verify, 0 false rejections, offline", () => {
  let dir: string;
  let pinsPath: string;

  beforeAll(() => {
    dir = project("public");
    pinsPath = join(dir, "countersign.json");
  });

  it("the fixture is a real lockfile of several hundred registry packages", () => {
    const lock = JSON.parse(readFileSync(join(FIXTURE, "package-lock.json"), "utf8")) as { lockfileVersion: number; packages: Record<string, { resolved?: string; integrity?: string }> };
    const entries = Object.entries(lock.packages).filter(([key]) => key !== "");
    expect(lock.lockfileVersion).toBe(3);
    expect(entries.length).toBeGreaterThanOrEqual(300);
    expect(entries.length).toBeLessThanOrEqual(600);
    expect(entries.every(([, p]) => p.resolved?.startsWith("https://registry.npmjs.org/") && p.integrity?.startsWith("sha512-"))).toBe(true);
  });

  it("init refuses to write without confirmation when nobody is at a terminal, and says --yes", async () => {
    const out = await offline(["init"], dir);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("--yes");
    expect(out.stderr).toContain("allow  17 scopes in use"); // what it would have written is shown
    expect(existsSync(pinsPath)).toBe(false);
    const json = await offline(["init", "--json"], dir);
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout)).toMatchObject({ written: false, exitCode: 2, wildcards: { "@*": "reject", "*": "reject" } });
  });

  it("init --yes lists every namespace in use as allow, and rejects any other", async () => {
    const out = await offline(["init", "--yes", "--json"], dir);
    expect(out.code, out.stderr).toBe(0);
    const plan = JSON.parse(out.stdout) as { written: boolean; entries: number; allowed: { scopes: { namespace: string }[]; unscoped: { namespace: string }[] }; pinned: unknown[] };
    expect(plan.written).toBe(true);
    expect(plan.entries).toBe(400);
    expect(plan.pinned).toEqual([]);
    expect(plan.allowed.scopes.map((s) => s.namespace)).toEqual(expect.arrayContaining(["@babel", "@jest", "@types", "@eslint", "@webassemblyjs", "@webpack-cli"]));
    expect(plan.allowed.scopes).toHaveLength(17);
    expect(plan.allowed.unscoped.map((s) => s.namespace)).toEqual(expect.arrayContaining(["jest", "eslint", "typescript", "webpack", "webpack-cli", "lodash.merge"]));
    const pins = JSON.parse(readFileSync(pinsPath, "utf8")) as { namespaces: Record<string, string>; registries: object };
    expect(pins.namespaces).toMatchObject({ "@babel": "allow", jest: "allow", "@*": "reject", "*": "reject" });
    expect(Object.keys(pins.namespaces).slice(-2)).toEqual(["@*", "*"]);
    expect(Object.keys(pins.namespaces)).toHaveLength(17 + plan.allowed.unscoped.length + 2);
    expect(networkLog(dir)).toBe("");
  });

  it("init asks a person at a terminal, and writes only on an explicit yes", async () => {
    const tty = project("tty");
    const viaTerminal = (answer: string) =>
      new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn("script", ["-qec", `node ${JSON.stringify(CLI)} init`, "/dev/null"], { cwd: tty, env: { ...process.env, TERM: "dumb" } });
        let out = "";
        let asked = false;
        child.stdout.on("data", (d: Buffer) => {
          out += d.toString();
          if (!asked && out.includes('Type "yes"')) {
            asked = true;
            child.stdin.write(`${answer}\n`);
          }
        });
        child.on("close", (code) => resolve({ code, out }));
      });
    const declined = await viaTerminal("no");
    expect(declined.out).toContain("allow  17 scopes in use");
    expect(declined.code).toBe(1);
    expect(existsSync(join(tty, "countersign.json"))).toBe(false);
    const accepted = await viaTerminal("yes");
    expect(accepted.code, accepted.out).toBe(0);
    expect(JSON.parse(readFileSync(join(tty, "countersign.json"), "utf8")).namespaces["@*"]).toBe("reject");
  });

  it("init never replaces a pins file it did not write just now", async () => {
    const before = readFileSync(pinsPath, "utf8");
    const again = await offline(["init", "--yes"], dir);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain("already exists");
    expect(readFileSync(pinsPath, "utf8")).toBe(before);
  });

  it("verify: every package allowed, 0 failed, nothing fetched", async () => {
    const { code, report } = await verifyReport(dir);
    expect(report.summary).toMatchObject({ failed: 0, unavailable: 0, verified: 0 });
    expect(report.summary.unverified).toBe(report.summary.total);
    expect(report.summary.total).toBeGreaterThanOrEqual(300);
    expect(code).toBe(0);
    // The JSON report still lists every package, and now counts by namespace too.
    expect(report.packages).toHaveLength(report.summary.total);
    expect(report.namespaces.find((n) => n.namespace === "@babel")).toMatchObject({ rule: "allow", matched: "@babel", unverified: 34, failed: 0 });
    expect(report.namespaces.reduce((sum, n) => sum + n.total, 0)).toBe(report.summary.total);
    expect(networkLog(dir)).toBe("");
  });

  it("verify prints one line per namespace, not one per package; --verbose lists packages", async () => {
    const out = await offline(["verify", "--no-receipt"], dir);
    expect(out.code, out.stderr).toBe(0);
    const lines = out.stdout.trim().split("\n");
    expect(lines.length).toBeLessThan(30);
    expect(lines).toContain("  @babel: 34 allowed (unverified)");
    expect(lines).toContain("  @types: 14 allowed (unverified)");
    expect(lines.some((l) => /^ {2}unscoped \(\d+ names, allowed by name\): \d+ allowed \(unverified\)$/.test(l))).toBe(true);
    expect(out.stdout).not.toContain("@babel/core@");
    expect(lines.some((l) => l.startsWith("ok: 0 verified, ") && l.endsWith(" unverified (allowed), 0 failed"))).toBe(true);

    const verbose = await offline(["verify", "--no-receipt", "--verbose"], dir);
    expect(verbose.code).toBe(0);
    expect(verbose.stdout).toMatch(/~ @babel\/core@7\.\d+\.\d+: unverified package, allowed by rule "@babel"/);
    expect(verbose.stdout.split("\n").length).toBeGreaterThan(300);
    expect(networkLog(dir)).toBe("");
  });

  it("a new look-alike scope in the lockfile is rejected by rule, and named", async () => {
    const evil = project("lookalike-scope");
    copyFileSync(pinsPath, join(evil, "countersign.json"));
    addLocked(evil, "@babel-core/x", "7.29.0", "https://registry.npmjs.org/@babel-core/x/-/x-7.29.0.tgz", SRI("E"));
    const { code, report } = await verifyReport(evil);
    expect(code).toBe(1);
    expect(report.summary.failed).toBe(1);
    expect(report.packages.find((p) => p.status === "failed")).toMatchObject({ name: "@babel-core/x", failure: { code: "unpinned_namespace", namespace: "@babel-core" } });
    expect(report.namespaces.find((n) => n.namespace === "@babel-core")).toMatchObject({ rule: "reject", matched: "@*", failed: 1 });

    const human = await offline(["verify", "--no-receipt"], evil);
    expect(human.code).toBe(1);
    expect(human.stdout).toContain(`  @babel-core: 1 rejected (rule "@*": "reject")`);
    expect(human.stdout).toContain(`✗ @babel-core/x@7.29.0: binding layer rejected [unpinned_namespace] in @babel-core: @babel-core is neither pinned nor allowed (rule "@*": "reject")`);
    expect(human.stdout).toContain("FAILED: 0 verified,");
    expect(human.stdout).toContain(", 1 failed");
    expect(networkLog(evil)).toBe("");

    // Allowed on purpose by name, it passes; the pin refuses a namespace that is not one.
    expect((await offline(["pin", "--rule", "@Babel-Core=allow"], evil)).code).toBe(2);
    const allow = await offline(["pin", "--rule", "@babel-core=allow"], evil);
    expect(allow.code, allow.stderr).toBe(0);
    expect(allow.stdout).toContain("@babel-core: allow");
    expect((await verifyReport(evil)).code).toBe(0);
  });

  it("a new unscoped name (a typosquat) is rejected too, by the '*' rule", async () => {
    const evil = project("lookalike-unscoped");
    copyFileSync(pinsPath, join(evil, "countersign.json"));
    addLocked(evil, "webpak-cli", "5.1.4", "https://registry.npmjs.org/webpak-cli/-/webpak-cli-5.1.4.tgz", SRI("F"));
    const { code, report } = await verifyReport(evil);
    expect(code).toBe(1);
    expect(report.namespaces.find((n) => n.namespace === "webpak-cli")).toMatchObject({ rule: "reject", matched: "*", failed: 1 });
    const human = await offline(["verify", "--no-receipt"], evil);
    expect(human.stdout).toContain(`  webpak-cli: 1 rejected (rule "*": "reject")`);
    // init --force merges, and names what it newly trusts: here, the typosquat (so a person can see it).
    const merged = await offline(["init", "--force", "--yes"], evil);
    expect(merged.code, merged.stderr).toBe(0);
    expect(merged.stdout).toContain("new    1 namespace the existing file had no rule for, now allowed: webpak-cli");
  });

  it("--allow-unscoped: scopes listed, unscoped names allowed by '*' (a new scope still fails)", async () => {
    const loose = project("allow-unscoped");
    const out = await offline(["init", "--yes", "--allow-unscoped", "--json"], loose);
    expect(out.code, out.stderr).toBe(0);
    const pins = JSON.parse(readFileSync(join(loose, "countersign.json"), "utf8")) as { namespaces: Record<string, string> };
    expect(Object.keys(pins.namespaces)).toHaveLength(17 + 2);
    expect(pins.namespaces).toMatchObject({ "@*": "reject", "*": "allow" });
    expect((await verifyReport(loose)).code).toBe(0);
    const human = await offline(["verify", "--no-receipt"], loose);
    expect(human.stdout).toMatch(/ {2}unscoped \(\d+ names, allowed by rule "\*"\): \d+ allowed \(unverified\)/);
    addLocked(loose, "@acme-corp/utils", "1.0.0", "https://registry.npmjs.org/@acme-corp/utils/-/utils-1.0.0.tgz", SRI("G"));
    expect((await verifyReport(loose)).code).toBe(1);
  });
});

describe("init → verify for every package manager's lockfile (test/fixtures/lockfiles, written by the real tools)", () => {
  it.each(["npm", "npm-v2", "npm-shrinkwrap", "pnpm", "pnpm-v6", "yarn-classic", "yarn-berry", "bun"])("%s: 0 false rejections, offline", async (name) => {
    const dir = join(work, `managers-${name}`);
    cpSync(join(ROOT, "test", "fixtures", "lockfiles", name), dir, { recursive: true });
    const init = await offline(["init", "--yes", "--json"], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(JSON.parse(init.stdout)).toMatchObject({ written: true, unlistable: [] });
    const { code, report } = await verifyReport(dir, ["--no-cache"]);
    expect(report.summary).toMatchObject({ failed: 0, unavailable: 0 });
    expect(report.summary.total).toBeGreaterThan(5);
    expect(code).toBe(0);
    expect(networkLog(dir)).toBe("");
  });
});

describe("a real project with the team's registry: init binds @acme to it", () => {
  let team: TestRegistry;
  let dir: string;
  let integrity: string;

  beforeAll(async () => {
    team = await startRegistry({ name: "acme-team" });
    const alice = await enrolPublisher(team, "@acme", join(work, "alice.json"));
    ({ integrity } = await publishDir(team, alice, writePackage(join(work, "pkgs", "utils"), "@acme/utils", "1.0.0", "team utils")));
    dir = project("team");
    addLocked(dir, "@acme/utils", "1.0.0", `${team.url}/@acme/utils/-/utils-1.0.0.tgz`, integrity);
  });

  afterAll(async () => {
    await team?.stop();
  });

  it("refuses to bind the registry without a fingerprint when nobody is at a terminal", async () => {
    const out = await offline(["init", "--yes", "--registry", team.url, "--name", "team", "--namespace", "@acme"], dir);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain("pass --fingerprint");
    expect(existsSync(join(dir, "countersign.json"))).toBe(false);
  });

  it("binds @acme to the checked key, lists the rest, and verify verifies the team's package", async () => {
    const out = await offline(["init", "--yes", "--registry", team.url, "--name", "team", "--namespace", "@acme", "--fingerprint", team.key.keyid], dir);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain(`pin    @acme → team (${team.url}, ${team.key.keyid}): 1 entry in use`);
    const pins = JSON.parse(readFileSync(join(dir, "countersign.json"), "utf8")) as { registries: Record<string, unknown>; namespaces: Record<string, string> };
    expect(pins.registries).toEqual({ team: { url: team.url, fingerprints: [team.key.keyid] } });
    expect(Object.entries(pins.namespaces)[0]).toEqual(["@acme", "team"]);
    expect(pins.namespaces["@babel"]).toBe("allow");

    const { code, report } = await verifyReport(dir);
    expect(report.summary).toMatchObject({ verified: 1, failed: 0, unavailable: 0 });
    expect(code).toBe(0);
    expect(report.namespaces[0]).toMatchObject({ namespace: "@acme", rule: "registry", registry: "team", verified: 1 });
    const human = await offline(["verify", "--no-receipt"], dir);
    expect(human.stdout.split("\n")[1]).toBe("  @acme → team: 1 verified");
    // Only the team's registry (127.0.0.1) was asked: nothing else was even attempted.
    expect(networkLog(dir)).toBe("");
  });

  it("pin --rule does not downgrade the team's pin without --force", async () => {
    const out = await offline(["pin", "--rule", "@acme=allow"], dir);
    expect(out.code).toBe(2);
    expect(out.stderr).toContain(`@acme is pinned to registry "team"`);
    expect(out.stderr).toContain("--force");
    expect(JSON.parse(readFileSync(join(dir, "countersign.json"), "utf8")).namespaces["@acme"]).toBe("team");
  });

  it("a look-alike of the team's scope (@acme-corp) is rejected, the team's package still verified", async () => {
    const evil = project("team-lookalike");
    copyFileSync(join(dir, "countersign.json"), join(evil, "countersign.json"));
    addLocked(evil, "@acme/utils", "1.0.0", `${team.url}/@acme/utils/-/utils-1.0.0.tgz`, integrity);
    addLocked(evil, "@acme-corp/utils", "1.0.0", "https://registry.npmjs.org/@acme-corp/utils/-/utils-1.0.0.tgz", SRI("H"));
    const { code, report } = await verifyReport(evil);
    expect(code).toBe(1);
    expect(report.summary).toMatchObject({ verified: 1, failed: 1 });
    expect(report.namespaces.find((n) => n.namespace === "@acme-corp")).toMatchObject({ rule: "reject", failed: 1 });
    expect(networkLog(evil)).toBe("");
  });
});
