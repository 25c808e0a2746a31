/**
 * @module
 * How a reader refuses. Lockfiles are input from the repository: anything a reader does not
 * understand is a usage error (exit 2) that names the file and the entry, on one line, instead
 * of a guess or a silent skip: an entry nobody judged is an entry nobody verified.
 */

import { readFileSync } from "node:fs";
import type * as z from "zod/mini";
import { describeIssue } from "../../../src/core/schema.js";
import { CliError, EXIT } from "../errors.js";

/** A lockfile key or value quoted for a one-line message (long or odd ones shortened). */
export const quote = (text: string): string => JSON.stringify(text.length > 120 ? `${text.slice(0, 117)}...` : text);

export function fileProblem(file: string, problem: string): CliError {
  return new CliError(`${file}: ${problem}`.replace(/\s*\n\s*/g, " "), EXIT.usage);
}

export function entryProblem(file: string, location: string, problem: string): CliError {
  return fileProblem(file, `${location}: ${problem}`);
}

export function readText(file: string): string {
  try {
    return readFileSync(file, "utf8");
  } catch {
    throw fileProblem(file, "cannot be read");
  }
}

/** Checks `value` (the part of `file` at `where`) against `schema`; the error names the first wrong field. */
export function validate<T>(schema: z.ZodMiniType<T>, value: unknown, file: string, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw fileProblem(file, describeIssue(issue && { ...issue, path: [where, ...issue.path] }, where));
}
