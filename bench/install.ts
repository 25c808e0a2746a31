/**
 * Cold `npm ci` of N small packages from countersign vs. Verdaccio, and `countersign verify`
 * over the resulting lockfile. Everything runs on 127.0.0.1; nothing leaves the machine except
 * the one-time `npm install` of Verdaccio into bench/.work/verdaccio/ (reused on later runs).
 *
 *   npm run bench:install [-- N [RUNS]]          (default N = 200, RUNS = 3)
 *
 * Steps (scratch files in bench/.work/run/, recreated each run):
 *   1. N packages `@acme/bench-<i>@1.0.0` (package.json, index.js, data.js, README.md: ≈ 7.5 KB,
 *      ≈ 3.4 KB packed), packed by ONE real `npm pack dir1 dir2 …`.
 *   2. countersign (dist/worker.mjs in workerd via Miniflare, test/helpers/registry.ts): a
 *      publisher is enrolled in @acme and every tarball is signed and published over the native
 *      route `PUT /-/countersign/v1/packages/<name>/<version>` (8 at a time).
 *   3. Verdaccio 6.8.0 (`uplinks: {}`, htpasswd, JWT API tokens, storage in bench/.work/run): a
 *      user is added with npm's legacy adduser call and the SAME tarballs are published with
 *      npm's own publish request (`PUT /<name>`, tarball as a base64 attachment, 8 at a time).
 *   4. Per registry, a consumer project depending on all N packages (`.npmrc`: `registry=` and
 *      `@acme:registry=` the registry). Two lockfile flavours, each made by one `npm install`:
 *      with `resolved` URLs (npm's default: `npm ci` fetches tarballs directly) and without
 *      (`omit-lockfile-registry-resolved=true`, this machine's setting: `npm ci` fetches every
 *      packument first). Then RUNS cold `npm ci` per registry (fresh `--cache`, node_modules
 *      removed), alternating registries, median reported.
 *   5. `countersign verify --json` in the countersign consumer with pins for @acme (RUNS runs,
 *      median; it must exit 0 with N verified), and the client's bare start-up for scale.
 *   6. A markdown table on stdout and bench/results/install-<N>.json.
 *
 * Bundled to dist/bench/install.mjs: two levels below the repository root, where
 * test/helpers/paths.ts (ROOT from import.meta.url) needs the bundle to be.
 * `npm run bench:install` rebuilds dist/ (scripts/build.mjs) first.
 * BENCH_NPM_LOGLEVEL=http keeps every `npm ci`'s request log in bench/.work/run/logs/.
 */

import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { basename, join } from "node:path";
import { bufferSource } from "../src/core/index.js";
import { adminApi } from "../test/helpers/actors.js";
import { cleanEnv, freePort } from "../test/helpers/cli.js";
import { CLI, ROOT } from "../test/helpers/paths.js";
import { encodeName, newPublisher, signedParts, uploadBody } from "../test/helpers/publisher.js";
import { startRegistry, type TestRegistry } from "../test/helpers/registry.js";

const VERDACCIO_VERSION = "6.8.0";
const RUNS = Number(process.argv[3] ?? 3);
const CONCURRENCY = 8;

const n = Number(process.argv[2] ?? 200);
if (!Number.isInteger(n) || n < 1 || n > 5000 || !Number.isInteger(RUNS) || RUNS < 1 || RUNS > 21) {
  process.stderr.write(`usage: npm run bench:install [-- N [RUNS]]   (1 ≤ N ≤ 5000, default 200; 1 ≤ RUNS ≤ 21, default 3)\n`);
  process.exit(2);
}

const BENCH = join(ROOT, "bench");
const WORK = join(BENCH, ".work");
const VERDACCIO_HOME = join(WORK, "verdaccio"); // kept between runs: the installed Verdaccio
const RUN = join(WORK, "run"); // everything else, created fresh each run
const names = Array.from({ length: n }, (_, i) => `@acme/bench-${i}`);

// ---------------------------------------------------------------------------------------------
// Small utilities

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const seconds = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

interface Exec {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/**
 * Runs a command without the `npm_config_*` / `npm_package_*` / `npm_lifecycle_*` variables an
 * outer `npm run` exports (they would override the consumer projects' own .npmrc).
 */
function exec(command: string, args: string[], cwd: string, timeoutMs = 300_000): Promise<Exec> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const child = spawn(command, args, { cwd, env: cleanEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 99), stdout, stderr, ms: performance.now() - start });
    });
  });
}

async function mustExec(command: string, args: string[], cwd: string, timeoutMs?: number): Promise<Exec> {
  const result = await exec(command, args, cwd, timeoutMs);
  if (result.code !== 0) throw new Error(`${command} ${args.slice(0, 4).join(" ")}… in ${cwd} exited ${result.code}:\n${(result.stderr || result.stdout).slice(-4000)}`);
  return result;
}

/** Runs `task` over `items`, `limit` at a time. */
async function pool<T>(items: T[], limit: number, task: (item: T, index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/**
 * CPU time (user + system, ms) a process has used so far, from /proc (Linux); undefined
 * elsewhere. On a small machine npm and the registry share the cores, so the registry's CPU
 * per install is part of what the wall time measures.
 */
function cpuMs(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" "); // fields from 3 (state) on
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
  } catch {
    return undefined;
  }
}

/** The workerd process Miniflare started: our child whose command is workerd. */
function workerdPid(): number | undefined {
  try {
    for (const entry of readdirSync("/proc")) {
      if (!/^\d+$/.test(entry)) continue;
      try {
        const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        if (ppid === process.pid && stat.includes("(workerd)")) return Number(entry);
      } catch {
        // gone
      }
    }
  } catch {
    // no /proc
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// 1. Packages and tarballs

/** A few KB of distinct, plausible JavaScript per package. */
function indexJs(i: number): string {
  const lines = [`"use strict";`, `// @acme/bench-${i}: generated benchmark package`, `const id = ${i};`];
  for (let f = 0; f < 40; f++) lines.push(`exports.f${f} = function f${f}(x) { return (x * ${f + 1} + id) % ${997 + ((i * 31 + f) % 101)}; };`);
  lines.push(`exports.id = id;`, `exports.data = require("./data.js");`, "");
  return lines.join("\n");
}

/** ≈ 3 KB of seeded pseudo-random data, so that each tarball stays a few KB after gzip. */
function dataJs(i: number): string {
  let state = (i + 1) * 0x9e3779b1;
  const bytes = new Uint8Array(2304);
  for (let b = 0; b < bytes.length; b++) {
    state = (state ^ (state << 13)) >>> 0;
    state = (state ^ (state >>> 17)) >>> 0;
    state = (state ^ (state << 5)) >>> 0;
    bytes[b] = state & 0xff;
  }
  const base64 = Buffer.from(bytes).toString("base64");
  const chunks = base64.match(/.{1,64}/g) ?? [];
  return `"use strict";\nmodule.exports = [\n${chunks.map((c) => `  ${JSON.stringify(c)},`).join("\n")}\n];\n`;
}

interface Tarball {
  name: string;
  file: string;
  bytes: Uint8Array;
  sha1: string;
  integrity: string;
}

async function makeTarballs(): Promise<Tarball[]> {
  const pkgs = join(RUN, "pkgs");
  const out = join(RUN, "tarballs");
  mkdirSync(out, { recursive: true });
  const dirs = names.map((name, i) => {
    const dir = join(pkgs, `bench-${i}`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name, version: "1.0.0", description: `benchmark package ${i}`, main: "index.js", license: "MIT" }, null, 2)}\n`);
    writeFileSync(join(dir, "index.js"), indexJs(i));
    writeFileSync(join(dir, "data.js"), dataJs(i));
    writeFileSync(join(dir, "README.md"), `# ${name}\n\n${"Generated for the countersign install benchmark. ".repeat(30)}\n`);
    return dir;
  });
  // One real `npm pack` for all of them (one process per package would cost ≈ 0.4 s each).
  const packed = await mustExec("npm", ["pack", ...dirs, "--pack-destination", out, "--json", "--ignore-scripts"], RUN);
  const report = JSON.parse(packed.stdout) as { name: string; filename: string }[];
  if (report.length !== n) throw new Error(`npm pack made ${report.length} tarballs, expected ${n}`);
  return report.map(({ name, filename }) => {
    const file = join(out, filename.replace(/^@/, "").replace("/", "-"));
    const bytes = new Uint8Array(readFileSync(file));
    return {
      name,
      file,
      bytes,
      sha1: createHash("sha1").update(bytes).digest("hex"),
      integrity: `sha512-${createHash("sha512").update(bytes).digest("base64")}`,
    };
  });
}

// ---------------------------------------------------------------------------------------------
// 2. countersign

async function publishToCountersign(registry: TestRegistry, tarballs: Tarball[]): Promise<number> {
  const start = performance.now();
  const publisher = await newPublisher();
  await adminApi(registry, "POST", "/namespaces", { namespace: "@acme" });
  await adminApi(registry, "POST", `/namespaces/${encodeURIComponent("@acme")}/keys`, { publicKey: publisher.publicKey });
  const { token } = (await adminApi(registry, "POST", "/tokens", { scope: "publish", namespaces: ["@acme"] })) as { token: string };
  await pool(tarballs, CONCURRENCY, async (t) => {
    const body = await uploadBody(await signedParts(publisher, t.name, "1.0.0", t.bytes));
    const response = await fetch(`${registry.url}/-/countersign/v1/packages/${encodeName(t.name)}/1.0.0`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/x-tar" },
      body: bufferSource(body),
    });
    if (response.status !== 201) throw new Error(`countersign publish ${t.name}: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  });
  return performance.now() - start;
}

// ---------------------------------------------------------------------------------------------
// 3. Verdaccio

interface Verdaccio {
  url: string;
  child: ChildProcess;
  logFile: string;
}

async function ensureVerdaccio(): Promise<string> {
  const bin = join(VERDACCIO_HOME, "node_modules", "verdaccio", "bin", "verdaccio");
  const installed = join(VERDACCIO_HOME, "node_modules", "verdaccio", "package.json");
  if (existsSync(installed) && (JSON.parse(readFileSync(installed, "utf8")) as { version: string }).version === VERDACCIO_VERSION) return bin;
  log(`installing Verdaccio ${VERDACCIO_VERSION} into ${VERDACCIO_HOME} (once; uses the npm registry)…`);
  mkdirSync(VERDACCIO_HOME, { recursive: true });
  writeFileSync(
    join(VERDACCIO_HOME, "package.json"),
    `${JSON.stringify({ name: "bench-verdaccio", private: true, dependencies: { verdaccio: VERDACCIO_VERSION }, overrides: { "node-fetch": "2.7.0" } }, null, 2)}\n`,
  );
  await mustExec("npm", ["install", "--no-audit", "--no-fund", "--no-update-notifier"], VERDACCIO_HOME, 600_000);
  return bin;
}

async function startVerdaccio(bin: string): Promise<Verdaccio> {
  const home = join(RUN, "verdaccio");
  mkdirSync(join(home, "storage"), { recursive: true });
  const port = await freePort();
  const config = join(home, "config.yaml");
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(join(home, "storage"))}`,
      `auth:`,
      `  htpasswd:`,
      `    file: ${JSON.stringify(join(home, "htpasswd"))}`,
      `    max_users: 10`,
      `uplinks: {}`,
      `packages:`,
      `  '@*/*':`,
      `    access: $all`,
      `    publish: $authenticated`,
      `  '**':`,
      `    access: $all`,
      `    publish: $authenticated`,
      // API tokens as JWTs: the legacy (AES) token makes Verdaccio re-check the htpasswd
      // bcrypt hash on every authenticated request.
      `security:`,
      `  api:`,
      `    jwt:`,
      `      sign:`,
      `        expiresIn: 1d`,
      `server:`,
      `  keepAliveTimeout: 60`,
      `max_body_size: 50mb`,
      `log: { type: stdout, format: pretty, level: warn }`,
      ``,
    ].join("\n"),
  );
  const logFile = join(home, "verdaccio.log");
  const fd = openSync(logFile, "w");
  const child = spawn(process.execPath, [bin, "--config", config, "--listen", `127.0.0.1:${port}`], { cwd: home, env: cleanEnv(), stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const url = `http://127.0.0.1:${port}`;
  const verdaccio = { url, child, logFile };
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`Verdaccio exited (${child.exitCode}) on start:\n${readFileSync(logFile, "utf8").slice(-3000)}`);
    try {
      if ((await fetch(`${url}/-/ping`)).ok) return verdaccio;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`Verdaccio did not answer /-/ping within 30 s:\n${readFileSync(logFile, "utf8").slice(-3000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
  await exited;
  clearTimeout(timer);
}

/** npm's legacy adduser (`PUT /-/user/org.couchdb.user:<name>`), which Verdaccio's htpasswd answers with a token. */
async function verdaccioToken(url: string): Promise<string> {
  const name = "bench";
  const response = await fetch(`${url}/-/user/org.couchdb.user:${name}`, {
    method: "PUT",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ _id: `org.couchdb.user:${name}`, name, password: `bench-${Math.random().toString(36).slice(2)}`, type: "user", roles: [], date: new Date().toISOString() }),
  });
  const body = (await response.json()) as { token?: string };
  if (!response.ok || !body.token) throw new Error(`Verdaccio adduser: ${response.status} ${JSON.stringify(body)}`);
  return body.token;
}

/** The request `npm publish <tarball>` sends (libnpmpublish), for each tarball. */
async function publishToVerdaccio(url: string, tarballs: Tarball[]): Promise<number> {
  const start = performance.now();
  const token = await verdaccioToken(url);
  await pool(tarballs, CONCURRENCY, async (t) => {
    const manifest = JSON.parse(readFileSync(join(RUN, "pkgs", t.name.replace("@acme/", ""), "package.json"), "utf8")) as Record<string, unknown>;
    const short = t.name.replace("@acme/", "");
    const body = {
      _id: t.name,
      name: t.name,
      description: manifest.description,
      "dist-tags": { latest: "1.0.0" },
      versions: {
        "1.0.0": { ...manifest, _id: `${t.name}@1.0.0`, dist: { integrity: t.integrity, shasum: t.sha1, tarball: `${url}/${t.name}/-/${short}-1.0.0.tgz` } },
      },
      access: null,
      _attachments: { [`${t.name}-1.0.0.tgz`]: { content_type: "application/octet-stream", data: Buffer.from(t.bytes).toString("base64"), length: t.bytes.length } },
    };
    const response = await fetch(`${url}/${encodeURIComponent(t.name)}`, {
      method: "PUT",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/json", "npm-command": "publish" },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error(`Verdaccio publish ${t.name}: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  });
  return performance.now() - start;
}

// ---------------------------------------------------------------------------------------------
// 4. Consumers and npm ci

type Flavour = "resolved" | "unresolved";
const FLAVOURS: Flavour[] = ["resolved", "unresolved"];
type Label = "countersign" | "verdaccio";
const LABELS: Label[] = ["countersign", "verdaccio"];

function writeConsumerProject(label: string, registryUrl: string, flavour: Flavour): string {
  const dir = join(RUN, `consumer-${label}-${flavour}`);
  mkdirSync(dir, { recursive: true });
  const dependencies = Object.fromEntries(names.map((name) => [name, "1.0.0"]));
  writeFileSync(join(dir, "package.json"), `${JSON.stringify({ name: `bench-consumer-${label}`, version: "1.0.0", private: true, dependencies }, null, 2)}\n`);
  writeFileSync(
    join(dir, ".npmrc"),
    [`registry=${registryUrl}/`, `@acme:registry=${registryUrl}/`, `omit-lockfile-registry-resolved=${flavour === "unresolved"}`, `audit=false`, `fund=false`, `update-notifier=false`, ""].join("\n"),
  );
  return dir;
}

const NPM_FLAGS = ["--no-audit", "--no-fund", "--no-update-notifier"];

async function npmInstall(dir: string): Promise<void> {
  const cache = join(dir, ".cache-install");
  await mustExec("npm", ["install", "--cache", cache, ...NPM_FLAGS], dir);
  rmSync(cache, { recursive: true, force: true });
  const lock = JSON.parse(readFileSync(join(dir, "package-lock.json"), "utf8")) as { packages: Record<string, { resolved?: string }> };
  const entries = Object.entries(lock.packages).filter(([key]) => key.startsWith("node_modules/"));
  if (entries.length !== n) throw new Error(`${dir}: lockfile has ${entries.length} packages, expected ${n}`);
}

/** One cold `npm ci` (fresh cache, no node_modules); returns its wall time. */
async function npmCi(dir: string, run: number, serverPid: number | undefined): Promise<{ ms: number; serverCpuMs?: number }> {
  const cache = join(RUN, `cache-${basename(dir)}-${run}`);
  rmSync(join(dir, "node_modules"), { recursive: true, force: true });
  rmSync(cache, { recursive: true, force: true });
  const logLevel = process.env.BENCH_NPM_LOGLEVEL; // e.g. "http": every request and its time, in run/logs/
  const cpuBefore = cpuMs(serverPid);
  const result = await mustExec("npm", ["ci", "--cache", cache, ...NPM_FLAGS, ...(logLevel ? ["--loglevel", logLevel] : [])], dir);
  if (logLevel) {
    mkdirSync(join(RUN, "logs"), { recursive: true });
    writeFileSync(join(RUN, "logs", `${basename(dir)}-${run}.log`), result.stderr);
  }
  const cpuAfter = cpuMs(serverPid);
  const installed = readdirSync(join(dir, "node_modules", "@acme")).length;
  if (installed !== n) throw new Error(`${dir}: npm ci installed ${installed} packages, expected ${n}`);
  const last = readFileSync(join(dir, "node_modules", "@acme", `bench-${n - 1}`, "index.js"), "utf8");
  if (!last.includes(`const id = ${n - 1};`)) throw new Error(`${dir}: @acme/bench-${n - 1} has unexpected contents`);
  rmSync(cache, { recursive: true, force: true });
  return { ms: result.ms, ...(cpuBefore !== undefined && cpuAfter !== undefined ? { serverCpuMs: cpuAfter - cpuBefore } : {}) };
}

// ---------------------------------------------------------------------------------------------
// 5. countersign verify

async function verifyRuns(dir: string, registry: TestRegistry): Promise<number[]> {
  const pins = { version: 1, registries: { team: { url: registry.url, fingerprints: [registry.key.keyid] } }, namespaces: { "@acme": "team", "@*": "reject", "*": "allow" } };
  writeFileSync(join(dir, "countersign.json"), `${JSON.stringify(pins, null, 2)}\n`);
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const result = await exec(process.execPath, [CLI, "verify", "--json"], dir);
    let summary: { verified?: number; failed?: number } = {};
    try {
      summary = (JSON.parse(result.stdout) as { summary: typeof summary }).summary;
    } catch {
      // reported below
    }
    if (result.code !== 0 || summary.verified !== n) throw new Error(`countersign verify exited ${result.code} with ${JSON.stringify(summary)} (expected ${n} verified):\n${result.stderr.slice(-2000)}`);
    times.push(result.ms);
  }
  return times;
}

/** The client's fixed cost: `countersign --help` (Node start-up and loading the bundle). */
async function cliStartRuns(dir: string): Promise<number[]> {
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) times.push((await mustExec(process.execPath, [CLI, "--help"], dir)).ms);
  return times;
}

// ---------------------------------------------------------------------------------------------
// Main

interface CiResult {
  medianMs: number;
  runsMs: number[];
  /** CPU the registry's server process used during each run (Linux only). */
  serverCpuMedianMs?: number;
  serverCpuMs?: number[];
}

const cleanups: (() => Promise<void>)[] = [];
async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!().catch((error: unknown) => log(`cleanup: ${String(error)}`));
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping the registries`);
    void cleanup().then(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, "dist", "worker.mjs")) || !existsSync(CLI)) throw new Error("dist/ is not built: run `node scripts/build.mjs` (npm run bench:install does)");
  const started = performance.now();
  const loadAtStart = loadavg()[0]!;
  if (loadAtStart > 0.5) log(`note: 1-minute load average is ${loadAtStart.toFixed(2)} before starting: other work on this machine will add noise`);
  rmSync(RUN, { recursive: true, force: true });
  mkdirSync(RUN, { recursive: true });

  const npmVersion = (await mustExec("npm", ["--version"], RUN)).stdout.trim();
  const verdaccioBin = await ensureVerdaccio();

  log(`packing ${n} packages…`);
  const t0 = performance.now();
  const tarballs = await makeTarballs();
  const packMs = performance.now() - t0;
  const tarballBytes = tarballs.reduce((sum, t) => sum + t.bytes.length, 0);
  log(`packed ${n} tarballs (${(tarballBytes / 1024).toFixed(0)} KiB) in ${seconds(packMs)}`);

  const registry = await startRegistry({ name: "bench-countersign" });
  cleanups.push(() => registry.stop());
  log(`countersign at ${registry.url} (${registry.key.keyid})`);
  const verdaccio = await startVerdaccio(verdaccioBin);
  cleanups.push(() => stopChild(verdaccio.child));
  log(`Verdaccio ${VERDACCIO_VERSION} at ${verdaccio.url} (pid ${verdaccio.child.pid})`);

  const csPublishMs = await publishToCountersign(registry, tarballs);
  log(`published ${n} to countersign in ${seconds(csPublishMs)}`);
  const vdPublishMs = await publishToVerdaccio(verdaccio.url, tarballs);
  log(`published ${n} to Verdaccio in ${seconds(vdPublishMs)}`);

  // Per lockfile flavour: one `npm install` per registry makes the lockfile (and warms both
  // servers up), then the timed runs alternate between the registries (ABBAAB…) so that drift
  // in the machine's speed does not favour either.
  const ci: Record<Label, Record<Flavour, CiResult>> = { countersign: {} as Record<Flavour, CiResult>, verdaccio: {} as Record<Flavour, CiResult> };
  const consumers = {} as Record<Label, string>;
  const urls: Record<Label, string> = { countersign: registry.url, verdaccio: verdaccio.url };
  const pids: Record<Label, number | undefined> = { countersign: workerdPid(), verdaccio: verdaccio.child.pid };
  for (const flavour of FLAVOURS) {
    const dirs = {} as Record<Label, string>;
    for (const label of LABELS) {
      dirs[label] = writeConsumerProject(label, urls[label], flavour);
      if (flavour === "resolved") consumers[label] = dirs[label];
      await npmInstall(dirs[label]);
    }
    const times: Record<Label, number[]> = { countersign: [], verdaccio: [] };
    const cpu: Record<Label, number[]> = { countersign: [], verdaccio: [] };
    for (let r = 0; r < RUNS; r++) {
      for (const label of r % 2 ? [...LABELS].reverse() : LABELS) {
        const { ms, serverCpuMs } = await npmCi(dirs[label], r, pids[label]);
        times[label].push(ms);
        if (serverCpuMs !== undefined) cpu[label].push(serverCpuMs);
      }
    }
    for (const label of LABELS) {
      ci[label][flavour] = {
        medianMs: Math.round(median(times[label])),
        runsMs: times[label].map(Math.round),
        ...(cpu[label].length === RUNS ? { serverCpuMedianMs: Math.round(median(cpu[label])), serverCpuMs: cpu[label].map(Math.round) } : {}),
      };
      log(`npm ci (${flavour}) from ${label}: ${times[label].map((ms) => seconds(ms)).join(", ")}`);
    }
  }

  const verifyMs = await verifyRuns(consumers.countersign, registry);
  const verifyMedian = median(verifyMs);
  log(`countersign verify: ${verifyMs.map((ms) => seconds(ms)).join(", ")}`);
  const startMs = median(await cliStartRuns(consumers.countersign));

  await cleanup();

  const result = {
    benchmark: "install",
    date: new Date().toISOString(),
    packages: n,
    tarballBytes,
    runs: RUNS,
    machine: {
      cores: availableParallelism(),
      cpu: cpus()[0]?.model ?? "unknown",
      node: process.version,
      npm: npmVersion,
      platform: `${process.platform} ${process.arch}`,
      loadAverage1m: { atStart: Number(loadAtStart.toFixed(2)), atEnd: Number(loadavg()[0]!.toFixed(2)) },
    },
    registries: { countersign: "dist/worker.mjs in workerd (Miniflare, in-memory D1 and R2)", verdaccio: `Verdaccio ${VERDACCIO_VERSION}, htpasswd, local storage, uplinks: {}` },
    publishMs: { countersign: Math.round(csPublishMs), verdaccio: Math.round(vdPublishMs), concurrency: CONCURRENCY },
    npmCi: ci,
    verify: {
      medianMs: Math.round(verifyMedian),
      runsMs: verifyMs.map(Math.round),
      packagesPerSecond: Math.round((n / verifyMedian) * 1000),
      verified: n,
      cliStartMedianMs: Math.round(startMs),
    },
    totalMs: Math.round(performance.now() - started),
  };

  mkdirSync(join(BENCH, "results"), { recursive: true });
  const out = join(BENCH, "results", `install-${n}.json`);
  writeFileSync(`${out}.tmp`, `${JSON.stringify(result, null, 2)}\n`);
  renameSync(`${out}.tmp`, out);

  const cs = ci.countersign;
  const vd = ci.verdaccio;
  const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;
  const table = [
    `## npm ci of ${n} packages, cold cache (median of ${RUNS})`,
    ``,
    `| | countersign | Verdaccio ${VERDACCIO_VERSION} | countersign / Verdaccio |`,
    `|---|---:|---:|---:|`,
    `| \`npm ci\`, lockfile with \`resolved\` URLs | ${seconds(cs.resolved.medianMs)} | ${seconds(vd.resolved.medianMs)} | ${ratio(cs.resolved.medianMs, vd.resolved.medianMs)} |`,
    `| \`npm ci\`, lockfile without \`resolved\` URLs | ${seconds(cs.unresolved.medianMs)} | ${seconds(vd.unresolved.medianMs)} | ${ratio(cs.unresolved.medianMs, vd.unresolved.medianMs)} |`,
    ...(cs.resolved.serverCpuMedianMs !== undefined && vd.resolved.serverCpuMedianMs !== undefined
      ? [
          `| registry process CPU per \`npm ci\`, with \`resolved\` | ${seconds(cs.resolved.serverCpuMedianMs)} | ${seconds(vd.resolved.serverCpuMedianMs)} | ${ratio(cs.resolved.serverCpuMedianMs, vd.resolved.serverCpuMedianMs)} |`,
          `| registry process CPU per \`npm ci\`, without \`resolved\` | ${seconds(cs.unresolved.serverCpuMedianMs!)} | ${seconds(vd.unresolved.serverCpuMedianMs!)} | ${ratio(cs.unresolved.serverCpuMedianMs!, vd.unresolved.serverCpuMedianMs!)} |`,
        ]
      : []),
    `| publish all ${n} over HTTP (${CONCURRENCY} at a time, one run, setup) | ${seconds(csPublishMs)} | ${seconds(vdPublishMs)} | ${ratio(csPublishMs, vdPublishMs)} |`,
    ``,
    `| \`countersign verify --json\` (median of ${RUNS}) | |`,
    `|---|---:|`,
    `| wall time, ${n} packages verified | ${seconds(verifyMedian)} |`,
    `| packages per second | ${result.verify.packagesPerSecond} |`,
    `| of which client start-up (\`countersign --help\`) | ${seconds(startMs)} |`,
    ``,
    `N = ${n} (${(tarballBytes / 1024).toFixed(0)} KiB of tarballs) · Node ${process.version} · npm ${npmVersion} · ${result.machine.cores} cores (${result.machine.cpu}) · load average ${result.machine.loadAverage1m.atStart} at start · total ${seconds(result.totalMs)}`,
    `Results: ${out.slice(ROOT.length + 1)}`,
  ];
  process.stdout.write(`${table.join("\n")}\n`);
}

try {
  await main();
} catch (error) {
  process.exitCode = 1;
  process.stderr.write(`[bench] failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
} finally {
  await cleanup();
}
