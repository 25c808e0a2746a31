/**
 * @module
 * Command plumbing: argument parsing with `node:util` parseArgs (strict: unknown flags are
 * errors), per-command usage text, and human-or-JSON output.
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { CliError, usageError } from "./errors.js";

export type Options = NonNullable<ParseArgsConfig["options"]>;
export type Values = Record<string, string | boolean | string[] | undefined>;

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Options;
  run(values: Values, positionals: string[]): Promise<number>;
}

export const JSON_OPTION = { json: { type: "boolean" } } as const;
export const REGISTRY_OPTION = { registry: { type: "string", short: "r" } } as const;

export function parse(command: Command, argv: string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...command.options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (err) {
    throw usageError(`${(err as Error).message.split("\n")[0]}\nusage: ${command.usage}`);
  }
}

export function str(values: Values, name: string): string | undefined {
  const v = values[name];
  return typeof v === "string" ? v : undefined;
}

export function required(values: Values, name: string, hint = ""): string {
  const v = str(values, name);
  if (!v) throw usageError(`--${name} is required${hint ? `: ${hint}` : ""}`);
  return v;
}

/** Prints `data` as JSON with --json, else the human lines. */
export function emit(values: Values, human: string | string[], data: unknown): void {
  if (values.json) process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
  else process.stdout.write(`${Array.isArray(human) ? human.join("\n") : human}\n`);
}

/** `name@version` with an optional leading scope `@`. */
export function parseSpec(spec: string | undefined): { name: string; version: string } {
  const at = spec ? spec.lastIndexOf("@") : -1;
  if (!spec || at <= 0) throw usageError(`expected name@version, got "${spec ?? ""}"`);
  return { name: spec.slice(0, at), version: spec.slice(at + 1) };
}

export function fail(message: string, exitCode: number, detail?: unknown): never {
  throw new CliError(message, exitCode, detail);
}
