/**
 * @module
 * Run in a short-lived child process by `npm start`: reads wrangler.toml (and `.dev.vars`) the
 * way wrangler does and writes, as JSON on file descriptor 3, what the server needs: Miniflare's
 * options for the Worker, its cron triggers and the D1 migrations split into statements.
 *
 * A separate process because wrangler's API costs ~200 MB of RSS once imported; the server
 * process should hold only Miniflare.
 */

import { readdirSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { unstable_getMiniflareWorkerOptions, unstable_readConfig, unstable_splitSqlQuery } from "wrangler";

export interface ServerConfig {
  /** Miniflare worker options derived from wrangler.toml, bindings from `.dev.vars` included. */
  workerOptions: Record<string, unknown>;
  crons: string[];
  migrations: { name: string; statements: string[] }[];
}

const root = process.argv[2];
if (!root) throw new Error("usage: read-config <repository root>");
const configPath = join(root, "wrangler.toml");
const config = unstable_readConfig({ config: configPath });
const { workerOptions } = unstable_getMiniflareWorkerOptions(configPath);
const migrationsDir = join(root, config.d1_databases[0]?.migrations_dir ?? "migrations");
const migrations = readdirSync(migrationsDir)
  .filter((file) => file.endsWith(".sql"))
  .sort()
  .map((name) => ({ name, statements: unstable_splitSqlQuery(readFileSync(join(migrationsDir, name), "utf8")) }));
const result: ServerConfig = { workerOptions: workerOptions as Record<string, unknown>, crons: config.triggers?.crons ?? [], migrations };
writeSync(3, JSON.stringify(result));
