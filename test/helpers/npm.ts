/**
 * @module
 * Real npm and pnpm, run in a consumer project with their own caches, bounded in time. The
 * project's `.npmrc` is the only configuration that differs between scenarios.
 */

import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv } from "./cli.js";
import { ROOT } from "./paths.js";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv(env), timeout: 180_000, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stdout, stderr });
    });
  });
}

export function npm(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return run("npm", [...args, "--cache", join(cwd, ".npm-cache"), "--no-audit", "--no-fund", "--no-update-notifier"], cwd, env);
}

export function pnpm(args: string[], cwd: string): Promise<Run> {
  // Its own metadata cache too: pnpm keys cached packuments by host and port, and a later test's
  // registry may get a port an earlier one had.
  return run(join(ROOT, "node_modules", ".bin", "pnpm"), [...args, "--store-dir", join(cwd, ".pnpm-store"), "--config.cache-dir=" + join(cwd, ".pnpm-cache"), "--config.minimum-release-age=0"], cwd, {
    npm_config_cache: join(cwd, ".npm-cache"),
    XDG_CACHE_HOME: join(cwd, ".pnpm-cache"),
  });
}

export interface ConsumerOptions {
  /** The default registry (where an unscoped or unrouted name goes). */
  registry: string;
  /** The `@acme:registry=` line; omitted to model the missing-config failure. */
  acmeRegistry?: string;
  /** Whether npm writes `resolved` URLs into package-lock.json. */
  resolved: boolean;
  dependencies: Record<string, string>;
  pins: unknown;
}

export function writeConsumer(dir: string, options: ConsumerOptions): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true, dependencies: options.dependencies }, null, 2));
  writeFileSync(
    join(dir, ".npmrc"),
    [`registry=${options.registry}/`, ...(options.acmeRegistry ? [`@acme:registry=${options.acmeRegistry}/`] : []), `omit-lockfile-registry-resolved=${!options.resolved}`, ""].join("\n"),
  );
  writeFileSync(join(dir, "countersign.json"), `${JSON.stringify(options.pins, null, 2)}\n`);
  return dir;
}

/** Runs the installed package's entry point and returns what it exports. */
export async function requireIn(dir: string, name: string): Promise<string> {
  const result = await run(process.execPath, ["-e", `process.stdout.write(String(require(${JSON.stringify(name)})))`], dir);
  return result.code === 0 ? result.stdout : `error: ${result.stderr}`;
}
