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
 *   2. countersign as `npm start` runs it (dist/start.mjs, bench/lib/countersign.ts): a
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

import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg } from "node:os";
import { basename, join } from "node:path";
import { CLI, ROOT } from "../test/helpers/paths.js";
import { publishToCountersign, startLocalServer, type LocalServer } from "./lib/countersign.js";
import { benchNames, makeTarballs } from "./lib/packages.js";
import { cleanup, cleanups, cpuMs, exec, log, median, mustExec, runBenchmark, seconds } from "./lib/util.js";
import { ensureVerdaccio, publishToVerdaccio, startVerdaccio, stopChild, VERDACCIO_VERSION } from "./lib/verdaccio.js";

const RUNS = Number(process.argv[3] ?? 3);
const CONCURRENCY = 8;
/** Number of packages. */
const n = Number(process.argv[2] ?? 200);
const BENCH = join(ROOT, "bench");
const WORK = join(BENCH, ".work");
const VERDACCIO_HOME = join(WORK, "verdaccio"); // kept between runs: the installed Verdaccio
const RUN = join(WORK, "run"); // everything else, created fresh each run
const names = benchNames(n);

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

/** One cold `npm install` with no lockfile (npm resolves every packument first); returns its wall time. */
async function npmInstallCold(dir: string, run: number, serverPid: number | undefined): Promise<{ ms: number; serverCpuMs?: number }> {
  const cache = join(RUN, `cache-${basename(dir)}-install-${run}`);
  for (const stale of ["node_modules", "package-lock.json", cache]) rmSync(join(dir, stale), { recursive: true, force: true });
  rmSync(cache, { recursive: true, force: true });
  const cpuBefore = cpuMs(serverPid);
  const result = await mustExec("npm", ["install", "--cache", cache, "--package-lock=false", ...NPM_FLAGS], dir);
  const cpuAfter = cpuMs(serverPid);
  const installed = readdirSync(join(dir, "node_modules", "@acme")).length;
  if (installed !== n) throw new Error(`${dir}: npm install installed ${installed} packages, expected ${n}`);
  rmSync(cache, { recursive: true, force: true });
  return { ms: result.ms, ...(cpuBefore !== undefined && cpuAfter !== undefined ? { serverCpuMs: cpuAfter - cpuBefore } : {}) };
}

// ---------------------------------------------------------------------------------------------
// 5. countersign verify

async function verifyRuns(dir: string, server: LocalServer): Promise<number[]> {
  const pins = { version: 1, registries: { team: { url: server.url, fingerprints: [server.fingerprint] } }, namespaces: { "@acme": "team", "@*": "reject", "*": "allow" } };
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

/**
 * RUNS timed runs per registry, alternating which goes first (ABBAAB…) so that drift in the
 * machine's speed favours neither; medians of wall time and of the registry's CPU.
 */
async function alternating(what: string, run: (label: Label, index: number) => Promise<{ ms: number; serverCpuMs?: number }>): Promise<Record<Label, CiResult>> {
  const times: Record<Label, number[]> = { countersign: [], verdaccio: [] };
  const cpu: Record<Label, number[]> = { countersign: [], verdaccio: [] };
  for (let r = 0; r < RUNS; r++) {
    for (const label of r % 2 ? [...LABELS].reverse() : LABELS) {
      const { ms, serverCpuMs } = await run(label, r);
      times[label].push(ms);
      if (serverCpuMs !== undefined) cpu[label].push(serverCpuMs);
    }
  }
  const results = {} as Record<Label, CiResult>;
  for (const label of LABELS) {
    results[label] = {
      medianMs: Math.round(median(times[label])),
      runsMs: times[label].map(Math.round),
      ...(cpu[label].length === RUNS ? { serverCpuMedianMs: Math.round(median(cpu[label])), serverCpuMs: cpu[label].map(Math.round) } : {}),
    };
    log(`${what} from ${label}: ${times[label].map((ms) => seconds(ms)).join(", ")}`);
  }
  return results;
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

async function main(): Promise<void> {
  if (!existsSync(join(ROOT, "dist", "worker.mjs")) || !existsSync(CLI)) throw new Error("dist/ is not built: run `node scripts/build.mjs` (npm run bench:install does)");
  const started = performance.now();
  const loadAtStart = loadavg()[0]!;
  if (loadAtStart > 0.5) log(`note: 1-minute load average is ${loadAtStart.toFixed(2)} before starting: other work on this machine will add noise`);
  rmSync(RUN, { recursive: true, force: true });
  mkdirSync(RUN, { recursive: true });

  const npmVersion = (await mustExec("npm", ["--version"], RUN)).stdout.trim();
  const verdaccioBin = await ensureVerdaccio(VERDACCIO_HOME);

  log(`packing ${n} packages…`);
  const t0 = performance.now();
  const tarballs = await makeTarballs(RUN, n);
  const packMs = performance.now() - t0;
  const tarballBytes = tarballs.reduce((sum, t) => sum + t.bytes.length, 0);
  log(`packed ${n} tarballs (${(tarballBytes / 1024).toFixed(0)} KiB) in ${seconds(packMs)}`);

  const registry = await startLocalServer(join(RUN, "countersign-state"));
  cleanups.push(() => registry.stop());
  log(`countersign (npm start) at ${registry.url} (${registry.fingerprint})`);
  const verdaccio = await startVerdaccio(RUN, verdaccioBin);
  cleanups.push(() => stopChild(verdaccio.child));
  log(`Verdaccio ${VERDACCIO_VERSION} at ${verdaccio.url} (pid ${verdaccio.child.pid})`);

  const csPublishMs = await publishToCountersign(registry, tarballs, CONCURRENCY);
  log(`published ${n} to countersign in ${seconds(csPublishMs)}`);
  const vdPublishMs = await publishToVerdaccio(verdaccio.url, tarballs, CONCURRENCY);
  log(`published ${n} to Verdaccio in ${seconds(vdPublishMs)}`);

  // Per lockfile flavour: one `npm install` per registry makes the lockfile (and warms both
  // servers up), then the timed runs alternate between the registries (ABBAAB…) so that drift
  // in the machine's speed does not favour either.
  const ci: Record<Label, Record<Flavour, CiResult>> = { countersign: {} as Record<Flavour, CiResult>, verdaccio: {} as Record<Flavour, CiResult> };
  const consumers = {} as Record<Label, string>;
  const urls: Record<Label, string> = { countersign: registry.url, verdaccio: verdaccio.url };
  const pids: Record<Label, number | undefined> = { countersign: registry.child.pid, verdaccio: verdaccio.child.pid };
  for (const flavour of FLAVOURS) {
    const dirs = {} as Record<Label, string>;
    for (const label of LABELS) {
      dirs[label] = writeConsumerProject(label, urls[label], flavour);
      if (flavour === "resolved") consumers[label] = dirs[label];
      await npmInstall(dirs[label]);
    }
    const results = await alternating(`npm ci (${flavour})`, (label, run) => npmCi(dirs[label], run, pids[label]));
    for (const label of LABELS) ci[label][flavour] = results[label];
  }

  // Cold `npm install` without a lockfile: the first install of a new project.
  const fresh = Object.fromEntries(LABELS.map((label) => [label, writeConsumerProject(`${label}-fresh`, urls[label], "unresolved")])) as Record<Label, string>;
  const coldInstall = await alternating("npm install (no lockfile)", (label, run) => npmInstallCold(fresh[label], run, pids[label]));

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
    registries: { countersign: "npm start (dist/start.mjs): workerd configured by Miniflare, D1 and R2 persisted on disk", verdaccio: `Verdaccio ${VERDACCIO_VERSION}, htpasswd, local storage, uplinks: {}` },
    publishMs: { countersign: Math.round(csPublishMs), verdaccio: Math.round(vdPublishMs), concurrency: CONCURRENCY },
    npmCi: ci,
    npmInstallNoLockfile: coldInstall,
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
    `## npm ci and npm install of ${n} packages, cold cache (median of ${RUNS})`,
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
    `| cold \`npm install\`, no lockfile | ${seconds(coldInstall.countersign.medianMs)} | ${seconds(coldInstall.verdaccio.medianMs)} | ${ratio(coldInstall.countersign.medianMs, coldInstall.verdaccio.medianMs)} |`,
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

await runBenchmark(main);
