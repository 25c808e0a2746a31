/**
 * @module
 * Real yarn (classic 1.x and berry 4.x, both from the npm registry) and bun (the `bun` npm
 * package), run in a consumer project with their own caches, offline except for 127.0.0.1,
 * bounded in time. Each writes its own configuration file, since none of them reads only .npmrc.
 */

import { execFile } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { cleanEnv } from "./cli.js";
import type { Run } from "./npm.js";
import { ROOT } from "./paths.js";

const YARN_CLASSIC = join(ROOT, "node_modules", "yarn", "bin", "yarn.js");
const YARN_BERRY = join(ROOT, "node_modules", "@yarnpkg", "cli-dist", "bin", "yarn.js");
const BUN = join(ROOT, "node_modules", ".bin", "bun");

function run(command: string, args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env: cleanEnv({ CI: "true", ...env }), timeout: 180_000, maxBuffer: 32 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stdout, stderr });
    });
  });
}

export interface ManagerProject {
  /** Where unscoped names (and unrouted scopes) go. */
  registry: string;
  /** Where @acme goes; omitted to model the missing scope line. */
  acmeRegistry?: string;
  dependencies: Record<string, string>;
  pins: unknown;
}

function writeProject(dir: string, project: ManagerProject, extra: Record<string, unknown> = {}): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name: "consumer", version: "1.0.0", private: true, dependencies: project.dependencies, ...extra }, null, 2));
  writeFileSync(join(dir, "countersign.json"), `${JSON.stringify(project.pins, null, 2)}\n`);
}

export function yarnBerry(args: string[], cwd: string): Promise<Run> {
  // CI=true makes yarn berry refuse to write a lockfile (immutable installs): these installs create one.
  return run(process.execPath, [YARN_BERRY, ...args], cwd, { YARN_ENABLE_IMMUTABLE_INSTALLS: "0", YARN_ENABLE_TELEMETRY: "0", YARN_ENABLE_GLOBAL_CACHE: "0", YARN_CACHE_FOLDER: join(cwd, ".yarn-cache"), YARN_GLOBAL_FOLDER: join(cwd, ".yarn-global") });
}

/** A yarn berry project: .yarnrc.yml carries the registries (yarn berry ignores .npmrc). */
export function writeYarnBerryProject(dir: string, project: ManagerProject): string {
  writeProject(dir, project);
  // The age gate applies per scope too.
  const scopes = project.acmeRegistry ? ["npmScopes:", "  acme:", `    npmRegistryServer: "${project.acmeRegistry}"`, "    npmMinimalAgeGate: 0"] : [];
  writeFileSync(
    join(dir, ".yarnrc.yml"),
    [
      `npmRegistryServer: "${project.registry}"`,
      ...scopes,
      'unsafeHttpWhitelist: ["127.0.0.1"]',
      // Quarantine of fresh versions (default 1d since 4.15): the fixtures were published seconds ago.
      "npmMinimalAgeGate: 0",
      "nodeLinker: node-modules",
      "enableGlobalCache: false",
      "enableTelemetry: false",
      "",
    ].join("\n"),
  );
  writeFileSync(join(dir, "yarn.lock"), ""); // marks the project root for yarn berry
  return dir;
}

export function yarnClassic(args: string[], cwd: string): Promise<Run> {
  return run(process.execPath, [YARN_CLASSIC, ...args, "--cache-folder", join(cwd, ".yarn-cache"), "--non-interactive", "--no-progress"], cwd);
}

/** A yarn 1 project: it reads .npmrc (and .yarnrc). */
export function writeYarnClassicProject(dir: string, project: ManagerProject): string {
  writeProject(dir, project);
  writeFileSync(join(dir, ".npmrc"), [`registry=${project.registry}/`, ...(project.acmeRegistry ? [`@acme:registry=${project.acmeRegistry}/`] : []), ""].join("\n"));
  return dir;
}

export function bun(args: string[], cwd: string): Promise<Run> {
  return run(BUN, args, cwd, { BUN_INSTALL_CACHE_DIR: join(cwd, ".bun-cache"), DO_NOT_TRACK: "1" });
}

/** A bun project: bunfig.toml carries the registries. */
export function writeBunProject(dir: string, project: ManagerProject): string {
  writeProject(dir, project);
  writeFileSync(
    join(dir, "bunfig.toml"),
    ["[install]", `registry = "${project.registry}/"`, ...(project.acmeRegistry ? ["[install.scopes]", `acme = "${project.acmeRegistry}/"`] : []), ""].join("\n"),
  );
  return dir;
}
