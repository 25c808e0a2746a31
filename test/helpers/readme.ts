/**
 * @module
 * The README as a test reads it: the shell blocks marked `<!-- walkthrough:NAME -->`, run
 * verbatim by bash in an empty directory, with an environment built from nothing (no variable of
 * the test runner's leaks in: HOME, caches and config directories are fresh), and a PATH that
 * holds this checkout's pnpm, yarn berry and bun under the names a reader types.
 */

import { execFile, execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "./paths.js";

export const README = join(ROOT, "README.md");

/** Every `<!-- walkthrough:NAME -->` followed by a ```sh block: NAME → the block's text. */
export function walkthroughBlocks(markdown: string): Map<string, string> {
  const blocks = new Map<string, string>();
  for (const match of markdown.matchAll(/<!--\s*walkthrough:([\w-]+)\s*-->\s*\n```sh\n([\s\S]*?)\n```/g)) {
    if (blocks.has(match[1]!)) throw new Error(`README: two walkthrough blocks named ${match[1]}`);
    blocks.set(match[1]!, match[2]!);
  }
  return blocks;
}

/** Every ```sh block of the README (marked or not), for checks that apply to all commands shown. */
export function shellBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/```sh\n([\s\S]*?)\n```/g)].map((m) => m[1]!);
}

/**
 * A directory of the tools a reader has on PATH besides Node and npm: `pnpm` and `bun` from this
 * checkout, and `yarn` as yarn berry (what corepack gives a project today; this checkout's
 * node_modules/.bin/yarn is yarn classic, kept for the tests of yarn 1 lockfiles).
 */
export function toolsDir(parent: string): string {
  const bin = join(parent, "bin");
  mkdirSync(bin, { recursive: true });
  symlinkSync(join(ROOT, "node_modules", ".bin", "pnpm"), join(bin, "pnpm"));
  symlinkSync(join(ROOT, "node_modules", ".bin", "bun"), join(bin, "bun"));
  const yarn = join(bin, "yarn");
  writeFileSync(yarn, `#!/bin/sh\nexec "${process.execPath}" "${join(ROOT, "node_modules", "@yarnpkg", "cli-dist", "bin", "yarn.js")}" "$@"\n`);
  chmodSync(yarn, 0o755);
  return bin;
}

/**
 * The client's release tarball, made from this checkout as the README says (`npm run release`,
 * here with `--out` so that nothing is written into the checkout), in `dest`. Fails if the
 * tarball declares runtime dependencies: installing it would then ask a public registry for them.
 */
export function clientTarball(dest: string): string {
  mkdirSync(dest, { recursive: true });
  const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string };
  execFileSync("npm", ["run", "--silent", "release", "--", "--out", dest], { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], timeout: 180_000 });
  const file = join(dest, `countersign-${pkg.version}.tgz`);
  if (!existsSync(file)) throw new Error(`npm run release did not write ${file} (${readdirSync(dest).join(", ")})`);
  const manifest = JSON.parse(execFileSync("tar", ["-xzOf", file, "package/package.json"], { encoding: "utf8" })) as Record<string, Record<string, string> | undefined>;
  const deps = Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies, ...manifest.peerDependencies });
  if (deps.length > 0) throw new Error(`the client tarball declares runtime dependencies (${deps.join(", ")}): installing it would fetch them from a public registry`);
  return file;
}

export interface BlockRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The directory the block ran in (empty before it ran, unless `setup` or `cwd` said otherwise). */
  dir: string;
  /** The run's own directory (HOME, global prefix, and `dir` unless `cwd` was given): for cleaning up. */
  root: string;
}

/**
 * Runs one README block with `bash -e -x` in a fresh empty directory. `vars` are the README's
 * documented placeholders (exported, as the README tells the reader to); everything else in the
 * environment only isolates the run: a fresh HOME (so npm, pnpm, yarn and bun caches and the
 * countersign config directory are new), `npm install -g` into a prefix of the run's own (on
 * PATH), no CI variable, and an unreachable default registry for every package manager, so that
 * anything the block would fetch from a public registry fails at once instead of needing the
 * internet. `setup` fills the directory first (a clone of a project, for the CI block); `cwd`
 * runs the block in an existing directory instead (this checkout, for its own commands).
 */
export function runBlock(block: string, options: { vars: Record<string, string>; tools: string; timeoutMs?: number; setup?: (dir: string) => void; cwd?: string }): Promise<BlockRun> {
  const root = mkdtempSync(join(tmpdir(), "countersign-readme-"));
  const home = join(root, "home");
  const dir = options.cwd ?? join(root, "work");
  const globalPrefix = join(root, "global"); // where `npm install -g` puts things: this run's own
  mkdirSync(home);
  if (!options.cwd) mkdirSync(dir);
  options.setup?.(dir);
  const script = join(root, "block.sh");
  writeFileSync(script, `${block}\n`);
  const deadRegistry = "http://127.0.0.1:9/";
  const env: Record<string, string> = {
    PATH: [join(globalPrefix, "bin"), options.tools, dirname(process.execPath), "/usr/local/bin", "/usr/bin", "/bin"].join(":"),
    HOME: home,
    TMPDIR: tmpdir(),
    LANG: "C.UTF-8",
    // isolation, not configuration a reader needs: no telemetry, update checks or audit calls
    npm_config_registry: deadRegistry,
    npm_config_audit: "false",
    npm_config_fund: "false",
    npm_config_update_notifier: "false",
    npm_config_prefix: globalPrefix,
    PNPM_CONFIG_UPDATE_NOTIFIER: "false",
    YARN_NPM_REGISTRY_SERVER: deadRegistry,
    YARN_ENABLE_TELEMETRY: "0",
    YARN_GLOBAL_FOLDER: join(home, ".yarn-global"),
    BUN_CONFIG_REGISTRY: deadRegistry,
    DO_NOT_TRACK: "1",
    ...options.vars,
  };
  return new Promise((resolve) => {
    execFile("bash", ["-e", "-x", script], { cwd: dir, env, timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === "number" ? error.code : 99) : 0, stdout, stderr, dir, root });
    });
  });
}
