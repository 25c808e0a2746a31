/**
 * @module
 * `npm start`: the registry on 127.0.0.1 with persisted R2 and D1, from a fresh clone — a server
 * a small team can run, not a development proxy.
 *
 * 1. Creates `.dev.vars` (mode 0600, gitignored) with a development signing key and admin token
 *    on first run; later runs reuse them, so the fingerprint stays the same.
 * 2. In a short-lived child process (scripts/server/prepare.ts): reads wrangler.toml as wrangler
 *    does, starts the bundled Worker (dist/worker.mjs) once through Miniflare to apply the D1
 *    migrations (wrangler's bookkeeping), and hands back the workerd configuration Miniflare
 *    made for it. Storage is persisted under COUNTERSIGN_STATE_DIR in wrangler's layout;
 *    REGISTRY_ORIGIN is set to this server's own address (the Worker signs nothing without it,
 *    and never a request's Host).
 * 3. Runs workerd with that configuration itself (scripts/server/workerd.ts), so this process
 *    holds neither wrangler nor Miniflare: on PORT, a socket bound straight to the Worker (no
 *    proxy, none of Miniflare's development entry worker, which honours `MF-*` request headers
 *    that rewrite the URL, the route and `request.cf`), no live reload, no inspector unless
 *    INSPECTOR_PORT is set; Miniflare's entry socket and loopback are Unix sockets in a
 *    directory only this user can open.
 * 4. Fires wrangler.toml's cron triggers on schedule, waits until the identity document verifies
 *    under the key from `.dev.vars` and names that origin, and prints the fingerprint and token.
 *
 * Environment: PORT (8787), INSPECTOR_PORT (unset: no inspector), COUNTERSIGN_STATE_DIR (local
 * storage directory, default .wrangler/state), REGISTRY_ORIGIN (default http://127.0.0.1:PORT;
 * set it when clients reach this registry under another address, e.g. through a tunnel).
 */

import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { get } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { keyPairFromSeed, openIdentityFollowing, WELL_KNOWN_PATH } from "../src/core/index.js";
import { parseCron, scheduleCrons } from "./server/cron.js";
import { ensureDevVars } from "./server/dev-vars.js";
import type { Prepared, PrepareRequest } from "./server/prepare.js";
import { fireScheduled, startLoopback, startWorkerd } from "./server/workerd.js";

// Who started us, read before anything slow (preparing takes seconds, and a parent gone by then
// would otherwise be mistaken for init).
const parent = process.ppid;
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

/** The workerd configuration and migrations, from a child process (see prepare.ts). */
function prepare(): Prepared {
  const request: PrepareRequest = { root, stateDir, origin };
  const result = spawnSync(process.execPath, [join(root, "dist", "prepare-server.mjs"), JSON.stringify(request)], {
    cwd: root,
    env: { ...process.env, WRANGLER_SEND_METRICS: "false", WRANGLER_SEND_ERROR_REPORTS: "false" },
    stdio: ["ignore", "ignore", "pipe", "pipe"],
    timeout: 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
  const json = result.output?.[3]?.toString("utf8");
  if (result.status !== 0 || !json) die(`preparing the server failed: ${result.stderr?.toString("utf8").trim() || `exit ${result.status ?? result.signal}`}`);
  return JSON.parse(json) as Prepared;
}

/** Whether 127.0.0.1:port can be listened on now (workerd would otherwise fail with a stack dump). */
function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once("error", () => resolve(false));
    probe.listen(port, "127.0.0.1", () => probe.close(() => resolve(true)));
  });
}

/** GET `url` as JSON (node:http: `fetch` would load undici into this process for one request). */
function getJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const req = get(url, { timeout: 10_000 }, (res) => {
      let body = "";
      res.setEncoding("utf8").on("data", (text: string) => (body += text));
      res.on("end", () => {
        if (res.statusCode !== 200) return reject(new Error(`the registry answered ${res.statusCode} for its identity document`));
        try {
          resolve(JSON.parse(body));
        } catch {
          reject(new Error("the registry's identity document is not JSON"));
        }
      });
    });
    req.on("timeout", () => req.destroy(new Error("the registry did not answer for its identity document within 10 s")));
    req.on("error", reject);
  });
}

/** Checks the running registry's identity under its configured key (or the key a logged rotation led to); the key that signs it. */
async function verifyIdentity(url: string, expected: string): Promise<string> {
  const opened = await openIdentityFollowing(await getJson(url), { fingerprints: [expected] });
  if (!opened.ok) throw new Error(`the running registry's identity does not verify: ${opened.error}`);
  if (opened.value.document.origin !== origin) throw new Error(`the running registry signs origin ${opened.value.document.origin}, expected ${origin}`);
  return opened.value.keyid;
}

if (!(await portIsFree(port))) die(`port ${port} on 127.0.0.1 is in use (another registry already running?); stop it or set PORT to another port`);
const devVars = await ensureDevVars(join(root, ".dev.vars"));
if (typeof devVars === "string") die(devVars);
const { keyid } = await keyPairFromSeed(devVars.seed);
const prepared = prepare();
const crons = prepared.crons.map((expression) => {
  const matches = parseCron(expression);
  return typeof matches === "string" ? die(`wrangler.toml: ${matches}`) : { expression, matches };
});

// Mode 0700: the entry socket honours Miniflare's MF-* headers and fires the scheduled handler
// at whatever time a request names (expiring staged versions, collecting blobs): this user's only.
const privateDir = mkdtempSync(join(tmpdir(), "countersign-"));
const entrySocket = join(privateDir, "entry.sock");
const loopbackSocket = join(privateDir, "loopback.sock");
let workerd: ChildProcess | undefined;

// One stop, however many signals ask for it: the first one's exit code.
let stopping: Promise<never> | undefined;
function stop(code: number): Promise<never> {
  stopping ??= (async () => {
    if (workerd && workerd.exitCode === null && workerd.signalCode === null) {
      const exited = new Promise((resolve) => workerd!.once("exit", resolve));
      workerd.kill("SIGTERM");
      const timer = setTimeout(() => workerd!.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    return process.exit(code); // the exit handler below removes the directory
  })();
  return stopping;
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, () => void stop(130));
// However this process ends (a stop above, a crash), workerd goes with it: never a registry left
// running with nobody to stop it (only SIGKILL escapes this); its sockets' directory too.
process.on("exit", () => {
  if (workerd && workerd.exitCode === null && workerd.signalCode === null) workerd.kill("SIGKILL");
  rmSync(privateDir, { recursive: true, force: true });
});
// Whoever read our output may be gone (a terminal closed, a supervisor that crashed): that is no
// reason to crash, and the parent check below stops us if it was our parent.
for (const stream of [process.stdout, process.stderr]) stream.on("error", () => undefined);
// If whatever started us goes away without signalling us (`kill <npm pid>` stops npm and its
// shell, not this process), we are re-parented: stop the registry rather than leak it.
setInterval(() => {
  if (process.ppid !== parent) void stop(1);
}, 1000).unref();

const local = `http://127.0.0.1:${port}`;
// The key the running registry signs with: the configured one, or the one a logged rotation led to.
let signing = keyid;
try {
  await startLoopback(loopbackSocket);
  workerd = await startWorkerd({ prepared, port, entrySocket, loopbackSocket, ...(inspectorPort ? { inspectorPort } : {}) });
  signing = await verifyIdentity(`${local}${WELL_KNOWN_PATH}`, keyid);
} catch (err) {
  process.stderr.write(`npm start: ${err instanceof Error ? err.message : String(err)}\n`);
  await stop(1);
}
workerd!.once("exit", (code, signal) => {
  if (stopping) return;
  process.stderr.write(`npm start: workerd exited (${signal ?? `code ${code}`}); stopping\n`);
  void stop(1);
});

scheduleCrons(crons, async (expression, at) => {
  try {
    await fireScheduled(entrySocket, expression, at);
  } catch (err) {
    process.stderr.write(`cron "${expression}" failed: ${err instanceof Error ? err.message : String(err)}\n`);
  }
});

process.stdout.write(
  [
    "",
    `countersign registry running at ${local}${origin === local ? "" : ` (signing as ${origin})`}`,
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
