/**
 * @module
 * Which lockfiles a verification reads, without loading any parser (the runtime hook and the
 * unchanged-project check need the list, not the readers).
 */

import { existsSync } from "node:fs";
import { join } from "node:path";
import { CliError, EXIT } from "../errors.js";
import { LOCKFILES } from "../lockfile-names.js";

/** The lockfiles to verify: the ones given, or every known lockfile present in `dir`. */
export function lockfilePaths(dir: string, given: string[]): string[] {
  const paths = given.length ? given : LOCKFILES.map((name) => join(dir, name)).filter((path) => existsSync(path));
  if (paths.length === 0) throw new CliError(`no lockfile in ${dir} (looked for ${LOCKFILES.join(", ")}): install first, or pass --lockfile`, EXIT.usage);
  for (const path of paths) if (!existsSync(path)) throw new CliError(`${path} does not exist`, EXIT.usage);
  return paths;
}
