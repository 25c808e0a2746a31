/**
 * @module
 * Which project the runtime hook enforces (docs/PROTOCOL.md §17). Rule, first that applies:
 *
 *   1. COUNTERSIGN_PROJECT_DIR, when set;
 *   2. upward from the real path of the entry module (process.argv[1]);
 *   3. upward from the working directory, only when there is no entry module (`node -e`, REPL).
 *
 * A project is a directory holding countersign.json *or* countersign-receipt.json, so deleting
 * the pins file does not switch the hook off. The working directory is not used when there is an
 * entry module: starting node elsewhere (`cd / && node /srv/app/app.js`) must not find nothing.
 * The search starts above the outermost node_modules of the path, so a package cannot make itself
 * "the project" by shipping its own countersign.json.
 */

import { existsSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve, sep } from "node:path";
import { PINS_FILE, RECEIPT_FILE } from "../../src/core/index.js";

export const PROJECT_DIR_ENV = "COUNTERSIGN_PROJECT_DIR";

export interface ProjectSearch {
  env: NodeJS.ProcessEnv;
  /** process.argv[1]: the entry module, or undefined / "-" when there is none. */
  entry: string | undefined;
  cwd: string;
}

/** The entry module of this process: argv[1], unless node runs code from -e/-p (then argv[1] is an argument). */
export function entryModule(argv: readonly string[], execArgv: readonly string[]): string | undefined {
  const evaluates = execArgv.some((a) => /^(-[a-z]*[ep][a-z]*|--eval(=.*)?|--print(=.*)?)$/.test(a));
  return evaluates ? undefined : argv[1];
}

/** The project directory (a real path), or undefined when there is none to enforce. */
export function findProjectDir(search: ProjectSearch): string | undefined {
  const explicit = search.env[PROJECT_DIR_ENV];
  if (explicit) return realPath(resolve(search.cwd, explicit));
  const hasEntry = search.entry !== undefined && search.entry !== "" && search.entry !== "-";
  const start = hasEntry ? dirname(realPath(resolve(search.cwd, search.entry!))) : realPath(search.cwd);
  return findUpward(outsideNodeModules(start));
}

/** The nearest directory upward from `from` holding countersign.json or its receipt. */
export function findUpward(from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, PINS_FILE)) || existsSync(join(dir, RECEIPT_FILE))) return dir;
    if (dirname(dir) === dir) return undefined;
  }
}

/** `/p/node_modules/a/node_modules/b/bin` → `/p`: the directory holding the outermost node_modules. */
export function outsideNodeModules(path: string): string {
  const at = `${path}${sep}`.indexOf(`${sep}node_modules${sep}`);
  return at < 0 ? path : path.slice(0, at) || sep;
}

/** The real path of `path`; of its nearest existing parent (joined with the rest) when it does not exist. */
export function realPath(path: string): string {
  try {
    return realpathSync.native(path);
  } catch {
    const parent = dirname(path);
    return parent === path ? path : join(realPath(parent), basename(path));
  }
}
