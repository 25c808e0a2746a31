/**
 * @module
 * Shared pieces of the lockfile reader tests: fixture paths (written by the real tools, see
 * test/fixtures/lockfiles/generate.mjs), a one-line view of an entry, scratch lockfiles and the
 * check that a refusal is a one-line usage error.
 */

import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";
import { CliError, EXIT } from "../../scripts/cli/errors.js";
import type { LockEntry } from "../../scripts/cli/lockfiles/index.js";

export const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/lockfiles/${name}`, import.meta.url));

/** `kind installedAs = name@version [+integrity]`: what the verifier judges an entry by. */
export const row = (e: LockEntry) => `${e.kind} ${e.installedAs.join(",")} = ${e.name}@${e.version}${e.integrity ? " +integrity" : ""}`;

/** A well-formed sha512 SRI of no particular bytes. */
export const SRI = `sha512-${"A".repeat(86)}==`;

/** Writes `text` as `fileName` in a fresh temporary directory and returns its path. */
export function scratchLockfile(fileName: string, text: string): string {
  const path = join(mkdtempSync(join(tmpdir(), "countersign-lock-")), fileName);
  writeFileSync(path, text);
  return path;
}

/** The error `read` throws, which must be a one-line usage CliError. */
export function refusalOf(read: () => unknown): CliError {
  try {
    read();
  } catch (error) {
    expect(error).toBeInstanceOf(CliError);
    const cliError = error as CliError;
    expect(cliError.exitCode).toBe(EXIT.usage);
    expect(cliError.message).not.toContain("\n");
    return cliError;
  }
  throw new Error("expected a refusal");
}

/** The message of the refusal `read` throws. */
export const refusal = (read: () => unknown): string => refusalOf(read).message;
