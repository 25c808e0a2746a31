/**
 * @module
 * `npm start`: the registry on 127.0.0.1 with persisted R2 and D1, from a fresh clone — a server
 * a small team can run, not a development proxy.
 *
 * 1. Creates `.dev.vars` (mode 0600, gitignored) with a development signing key and admin token
 *    on first run; later runs reuse them, so the fingerprint stays the same.
 * 2. Reads wrangler.toml as wrangler does (in a short-lived child process: scripts/server/read-config.ts).
 * 3. Runs the bundled Worker (dist/worker.mjs) in workerd through Miniflare's API. On PORT,
 *    workerd listens with a socket bound straight to the Worker (`unsafeDirectSockets`): no Node
 *    proxy and none of Miniflare's development entry worker in the request path (which honours
 *    `MF-*` request headers that rewrite the URL, the route and `request.cf`), no live reload,
 *    no inspector unless INSPECTOR_PORT is set. Miniflare's own entry socket listens on a random
 *    port of 127.0.0.1, used by nothing. Storage is persisted under COUNTERSIGN_STATE_DIR in
 *    wrangler's layout; REGISTRY_ORIGIN is set to its own address (the Worker signs nothing
 *    without it, and never a request's Host).
 * 4. Applies the D1 migrations (wrangler's bookkeeping), fires wrangler.toml's cron triggers on
 *    schedule, waits until the identity document verifies under the key from `.dev.vars` and
 *    names that origin, and prints the fingerprint and token.
 *
 * Environment: PORT (8787), INSPECTOR_PORT (unset: no inspector), COUNTERSIGN_STATE_DIR (local
 * storage directory, default .wrangler/state), REGISTRY_ORIGIN (default http://127.0.0.1:PORT;
 * set it when clients reach this registry under another address, e.g. through a tunnel).
 */

import { spawnSync } from "node:child_process";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Log, LogLevel, Miniflare, type WorkerOptions } from "miniflare";
import { keyPairFromSeed, openIdentityFollowing, WELL_KNOWN_PATH } from "../src/core/index.js";
import { parseCron, scheduleCrons } from "./server/cron.js";
import { ensureDevVars } from "./server/dev-vars.js";
import { applyMigrations } from "./server/migrations.js";
import type { ServerConfig } from "./server/read-config.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const port = portFrom("PORT", process.env.PORT ?? "8787");
const inspectorPort = process.env.INSPECTOR_PORT ? portFrom("INSPECTOR_PORT", process.env.INSPECTOR_PORT) : undefined;
const stateDir = resolve(root, process.env.COUNTERSIGN_STATE_DIR || join(".wrangler", "state"));
const origin = originFrom(process.env.REGISTRY_ORIGIN || `http://127.0.0.1:${port}`);

function die(message: string): never {
  process.stderr.write(`npm start: ${message}\n`);
  process.exit(1);
}

function portFrom(name: string, value: string): number {
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) < 1 || Number(value) > 65535) die(`${name} must be a port number (1-65535), not "${value.slice(0, 40)}"`);
  return Number(value);
}

/** The origin the registry signs with. */
function originFrom(value: string): string {
  try {
    const url = new URL(value);
    if (url.protocol === "http:" || url.protocol === "https:") return url.origin;
  } catch {
    // reported below
  }
  return die(`REGISTRY_ORIGIN must be an http(s) URL, not "${value.slice(0, 80)}"`);
}

/** wrangler.toml and `.dev.vars` as wrangler reads them, from a child process (see read-config.ts). */
function readConfig(): ServerConfig {
  const result = spawnSync(process.execPath, [join(root, "dist", "read-config.mjs"), root], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_SEND_ERROR_REPORTS: "false" },
    stdio: ["ignore", "ignore", "pipe", "pipe"],
    timeout: 60_000,
  });
  const json = result.output?.[3]?.toString("utf8");
  if (result.status !== 0 || !json) die(`reading wrangler.toml failed: ${result.stderr?.toString("utf8").trim() || `exit ${result.status ?? result.signal}`}`);
  return JSON.parse(json) as ServerConfig;
}

/** Whether 127.0.0.1:port can be listened on now (workerd would otherwise fail with a stack dump). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** Checks the running registry's identity under its configured key (or the key a logged rotation led to); the key that signs it. */
async function verifyIdentity(url: string, expected: string): Promise<string> {
  const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
  if (!response.ok) die(`the registry answered ${response.status} for its identity document`);
  const opened = await openIdentityFollowing(await response.json(), { fingerprints: [expected] });
  if (!opened.ok) die(`the running registry's identity does not verify: ${opened.error}`);
  if (opened.value.document.origin !== origin) die(`the running registry signs origin ${opened.value.document.origin}, expected ${origin}`);
  return opened.value.keyid;
}

if (!(await portIsFree(port))) die(`port ${port} on 127.0.0.1 is in use (another registry already running?); stop it or set PORT to another port`);
const devVars = await ensureDevVars(join(root, ".dev.vars"));
if (typeof devVars === "string") die(devVars);
const { keyid } = await keyPairFromSeed(devVars.seed);
const config = readConfig();
const crons = config.crons.map((expression) => {
  const matches = parseCron(expression);
  return typeof matches === "string" ? die(`wrangler.toml: ${matches}`) : { expression, matches };
});

const { modulesRules: _rules, ...fromWrangler } = config.workerOptions as WorkerOptions & { modulesRules?: unknown };
const bindings = { ...(fromWrangler.bindings as Record<string, unknown> | undefined), REGISTRY_ORIGIN: origin };
const mf = new Miniflare({
  host: "127.0.0.1",
  port: 0,
  ...(inspectorPort ? { inspectorPort } : {}),
  log: new Log(LogLevel.WARN),
  cf: false, // no request to workers.cloudflare.com for a placeholder `request.cf`
  d1Persist: join(stateDir, "v3", "d1"),
  r2Persist: join(stateDir, "v3", "r2"),
  cachePersist: join(stateDir, "v3", "cache"),
  durableObjectsPersist: join(stateDir, "v3", "do"),
  logRequests: false,
  workers: [
    {
      ...fromWrangler,
      name: "countersign",
      modules: true,
      scriptPath: join(root, "dist", "worker.mjs"),
      bindings,
      unsafeDirectSockets: [{ host: "127.0.0.1", port }],
    } as WorkerOptions,
  ],
});

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    await mf.dispose().catch(() => undefined);
  }
  process.exit(code);
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stop(130));
// If whatever started us goes away without signalling us (`kill <npm pid>` stops npm and its
// shell, not this process), we are re-parented: stop the registry rather than leak it.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void stop(1);
}, 1000).unref();

let local: string;
// The key the running registry signs with: the configured one, or the one a logged rotation led to.
let signing = keyid;
try {
  await mf.ready;
  local = (await mf.unsafeGetDirectURL("countersign")).origin;
  await applyMigrations(await mf.getD1Database("DB"), config.migrations);
  signing = await verifyIdentity(`${local}${WELL_KNOWN_PATH}`, keyid);
} catch (err) {
  process.stderr.write(`npm start: ${err instanceof Error ? err.message : String(err)}\n`);
  await stop(1);
}

const worker = await mf.getWorker("countersign");
scheduleCrons(crons, async (expression, at) => {
  try {
    await worker.scheduled({ cron: expression, scheduledTime: at });
  } catch (err) {
    process.stderr.write(`cron "${expression}" failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }
});

process.stdout.write(
  [
    "",
    `countersign registry running at ${local!}${origin === local! ? "" : ` (signing as ${origin})`}`,
    `  fingerprint  ${signing}${signing === keyid ? "" : `   (rotated from ${keyid}: move REGISTRY_NEXT_SIGNING_KEY into REGISTRY_SIGNING_KEY in .dev.vars)`}`,
    `  npm key      ${devVars.npmKeyid}   (ECDSA P-256: what npm audit signatures checks)`,
    `  admin token  ${devVars.adminToken}   (local development only, from .dev.vars${devVars.created ? ", just created" : ""})`,
    `  storage      ${stateDir}`,
    ...(inspectorPort ? [`  inspector    127.0.0.1:${inspectorPort}`] : []),
    "",
    "Next (see README › Quick start), with the client from this checkout:",
    `  npm run release && npm install -g ./release/countersign-*.tgz   (or: alias countersign='node ${join(root, "dist", "countersign.mjs")}')`,
    `  export COUNTERSIGN_REGISTRY=${origin} COUNTERSIGN_ADMIN_TOKEN=${devVars.adminToken}`,
    "  countersign admin namespace add @acme",
    "",
  ].join("\n"),
);
