/**
 * @module
 * yarn.lock, whichever yarn wrote it: Yarn 2+ ("berry") files have a `__metadata` block, Yarn 1
 * ("classic") files the `# yarn lockfile v1` header. Both are parsed with yarn's own parser
 * (@yarnpkg/parsers `parseSyml`, which reads the v1 syntax too); anything else is refused.
 */

import { parseSyml } from "@yarnpkg/parsers";
import { fileProblem, readText } from "./problems.js";
import type { LockEntry, Manager } from "./types.js";
import { readYarnBerryLockfile } from "./yarn-berry.js";
import { readYarnClassicLockfile } from "./yarn-classic.js";

function parse(path: string): { manager: Extract<Manager, "yarn-classic" | "yarn-berry">; lock: Record<string, unknown> } {
  const text = readText(path);
  let lock: Record<string, unknown>;
  try {
    lock = parseSyml(text);
  } catch (error) {
    throw fileProblem(path, `is not a valid yarn lockfile (${error instanceof Error ? error.message.split("\n")[0] : "unreadable"})`);
  }
  if ("__metadata" in lock) return { manager: "yarn-berry", lock };
  if (/^# yarn lockfile v1$/m.test(text)) return { manager: "yarn-classic", lock };
  throw fileProblem(path, "is neither a Yarn 1 lockfile (no `# yarn lockfile v1` header) nor a Yarn 2+ one (no __metadata)");
}

/** The entries of a yarn.lock and which yarn wrote it. */
export function readYarnLock(path: string): { manager: Manager; entries: LockEntry[] } {
  const { manager, lock } = parse(path);
  return { manager, entries: manager === "yarn-berry" ? readYarnBerryLockfile(path, lock) : readYarnClassicLockfile(path, lock) };
}

export const readYarnLockfile = (path: string): LockEntry[] => readYarnLock(path).entries;
