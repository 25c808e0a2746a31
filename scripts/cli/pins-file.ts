/**
 * @module
 * The one reader of the pins file (`countersign.json`) for every command and the runtime hook:
 * read, parse as JSON, check with the core's `parsePins`. A missing, unreadable or invalid pins
 * file is never "no pins": callers turn the typed problem into a refusal.
 */

import { readFileSync } from "node:fs";
import { parsePins, type Pins } from "../../src/core/index.js";
import { fail, type Result } from "../../src/core/result.js";
import { CliError, EXIT } from "./errors.js";

export type PinsProblem = { kind: "missing" | "unreadable" | "invalid"; message: string };

export function readPinsFile(path: string): Result<Pins, PinsProblem> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    const missing = (err as { code?: string }).code === "ENOENT";
    return fail({ kind: missing ? "missing" : "unreadable", message: missing ? `no pins file at ${path}` : `${path} cannot be read: ${(err as Error).message}` });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return fail({ kind: "invalid", message: `${path} is not valid JSON` });
  }
  const pins = parsePins(json);
  return pins.ok ? pins : fail({ kind: "invalid", message: `${path}: ${pins.error}` });
}

/** The pins for a command: any problem is a usage error with the way out. */
export function loadPins(path: string): Pins {
  const pins = readPinsFile(path);
  if (pins.ok) return pins.value;
  const hint = pins.error.kind === "missing" ? ": create one with `countersign init` (from the lockfiles; add --registry URL --name NAME --namespace @scope --fingerprint SHA256:… to bind your team's namespaces) or `countersign pin <registry-url> --name <name> --namespace @scope`" : "";
  throw new CliError(`${pins.error.message}${hint}`, EXIT.usage);
}
