/**
 * @module
 * Run by `npm start` in a short-lived child process, so that neither wrangler (≈200 MB once
 * imported) nor Miniflare (≈70 MB) stays in the server's memory:
 *
 * 1. reads wrangler.toml and `.dev.vars` the way wrangler does;
 * 2. starts the Worker once through Miniflare (storage persisted under the state directory) and
 *    applies the D1 migrations in wrangler's bookkeeping (migrations.ts);
 * 3. has Miniflare generate the workerd configuration for the server (crons enabled on its
 *    entry socket) without starting it, and writes that configuration (V8 flags added:
 *    workerd-config.ts) to file descriptor 3 for `npm start` to run workerd with, on its own.
 *
 * Input: one JSON argument (PrepareRequest). Output on fd 3: a JSON Prepared. The configuration
 * holds the Worker's secrets (`.dev.vars`): it only ever travels through pipes, never a file.
 */

import { readdirSync, readFileSync, writeSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { getDirectSocketName, Log, LogLevel, Miniflare, Runtime, SOCKET_ENTRY, SERVICE_LOOPBACK, type MiniflareOptions, type WorkerOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig, unstable_splitSqlQuery } from "wrangler";
import { applyMigrations } from "./migrations.js";
import { SERVER_V8_FLAGS, withV8Flags } from "./workerd-config.js";

export interface PrepareRequest {
  root: string;
  stateDir: string;
  /** The origin the registry signs with (REGISTRY_ORIGIN). */
  origin: string;
}

export interface Prepared {
  /** The workerd binary Miniflare runs. */
  workerd: string;
  /** workerd's binary (Cap'n Proto) configuration, base64. */
  config: string;
  /** Socket names in it: Miniflare's entry, and the one bound straight to the Worker. */
  sockets: { entry: string; direct: string };
  /** The external service that stands for Miniflare's Node process (logs, errors). */
  loopback: string;
  /** wrangler.toml's `[triggers] crons`. */
  crons: string[];
}

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

const request = JSON.parse(process.argv[2] ?? "null") as PrepareRequest | null;
if (!request) fail("usage: prepare-server '<json request>'");
const { root, stateDir, origin } = request;

const configPath = join(root, "wrangler.toml");
const wranglerConfig = unstable_readConfig({ config: configPath });
const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath);
const migrationsDir = join(root, wranglerConfig.d1_databases[0]?.migrations_dir ?? "migrations");
const migrations = readdirSync(migrationsDir)
  .filter((file) => file.endsWith(".sql"))
  .sort()
  .map((name) => ({ name, statements: unstable_splitSqlQuery(readFileSync(join(migrationsDir, name), "utf8")) }));

const { modulesRules: _rules, ...fromWrangler } = workerOptions as WorkerOptions & { modulesRules?: unknown };
/** The server's Miniflare options; `crons`: whether the entry socket fires the scheduled handler on request. */
function options(crons: boolean): MiniflareOptions {
  return {
    host: "127.0.0.1",
    port: 0,
    log: new Log(LogLevel.WARN),
    cf: false, // no request to workers.cloudflare.com for a placeholder `request.cf`
    structuredWorkerdLogs: false, // plain lines on workerd's stdout and stderr, which npm start passes on
    unsafeTriggerHandlers: crons, // `/cdn-cgi/handler/scheduled` on the entry socket: how npm start fires crons
    d1Persist: join(stateDir, "v3", "d1"),
    r2Persist: join(stateDir, "v3", "r2"),
    durableObjectsPersist: join(stateDir, "v3", "do"),
    logRequests: false,
    workers: [
      {
        ...fromWrangler,
        name: "countersign",
        modules: true,
        scriptPath: join(root, "dist", "worker.mjs"),
        bindings: { ...(fromWrangler.bindings as Record<string, unknown> | undefined), REGISTRY_ORIGIN: origin },
        // No Cache API here: it would be a simulator in another isolate (SQLite and files) in front
        // of storage on the same disk, costing a round trip and memory. The isolate's own memory
        // (src/worker/hot-cache.ts) is this server's cache.
        cache: false,
        // The port is npm start's to choose (--socket-addr); here any free one.
        unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }],
      } as WorkerOptions,
    ],
  };
}

// 1. The migrations, with the Worker running (its entry socket, on a TCP port for these few
//    seconds, does not fire crons).
const migrating = new Miniflare(options(false));
let failure: string | undefined;
try {
  await migrating.ready;
  await applyMigrations(await migrating.getD1Database("DB"), migrations);
} catch (err) {
  failure = err instanceof Error ? err.message : String(err);
} finally {
  await migrating.dispose().catch(() => undefined);
}
if (failure !== undefined) fail(failure);

// 2. The configuration npm start runs: Miniflare hands its Runtime the encoded configuration to
//    start workerd with; keep it, and start nothing.
let captured: Uint8Array | undefined;
Runtime.prototype.updateConfig = async function (configBuffer: Buffer) {
  captured = new Uint8Array(configBuffer);
  return new Map([[SOCKET_ENTRY, 0]]);
};
const configuring = new Miniflare(options(true));
try {
  await configuring.ready;
} finally {
  await configuring.dispose().catch(() => undefined);
}
if (!captured) fail("Miniflare did not hand a configuration to workerd (a Miniflare version this script does not know?)");

const require = createRequire(createRequire(import.meta.url).resolve("miniflare"));
const prepared: Prepared = {
  workerd: process.env.MINIFLARE_WORKERD_PATH ?? (require("workerd") as { default: string }).default,
  config: Buffer.from(withV8Flags(captured, SERVER_V8_FLAGS)).toString("base64"),
  sockets: { entry: SOCKET_ENTRY, direct: getDirectSocketName(0, "default") },
  loopback: SERVICE_LOOPBACK,
  crons: wranglerConfig.triggers?.crons ?? [],
};
// Megabytes (the Worker's code is in it): a pipe may take them in parts.
const out = Buffer.from(JSON.stringify(prepared));
for (let written = 0; written < out.length; ) {
  try {
    written += writeSync(3, out, written);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EAGAIN") throw err;
  }
}
process.exit(0);
