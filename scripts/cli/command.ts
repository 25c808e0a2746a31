/**
 * @module
 * Command plumbing: argument parsing with `node:util` parseArgs (strict: unknown flags are
 * errors), per-command usage text, and human-or-JSON output.
 */

import { parseArgs, type ParseArgsConfig } from "node:util";
import { checkPackageName } from "../../src/core/index.js";
import { CliError, usageError } from "./errors.js";
import { didYouMean } from "./suggest.js";

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

/** Options every command takes besides its own (parsed in main.ts or here). */
export const GLOBAL_OPTIONS = ["help", "json", "timeout", "version"] as const;

export function parse(command: Command, argv: string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options: { ...command.options, help: { type: "boolean", short: "h" } }, allowPositionals: true, strict: true });
    return { values: values as Values, positionals };
  } catch (err) {
    throw usageError(describeParseError(command, err as Error & { code?: string }), { command: command.name, usage: command.usage });
  }
}

/** parseArgs' messages, made one line, with a "did you mean" for an unknown option. */
function describeParseError(command: Command, err: Error & { code?: string }): string {
  const first = err.message.split("\n")[0]!;
  if (err.code === "ERR_PARSE_ARGS_UNKNOWN_OPTION") {
    const option = /Unknown option '([^']+)'/.exec(first)?.[1] ?? first;
    const names = [...Object.keys(command.options), ...GLOBAL_OPTIONS];
    const bare = option.replace(/^-+/, "").replace(/=.*$/, "");
    return `${command.name}: unknown option ${option}${didYouMean(bare, names, (n) => `--${n}`)}`;
  }
  return `${command.name}: ${first.replace(/\.$/, "")}`;
}
/** The usage error for wrong positional arguments: one line naming what was expected, the usage in detail. */
export function wrongArguments(command: Command, expected: string, positionals: string[]): CliError {
  const got = positionals.length === 0 ? "none given" : `got ${positionals.map((p) => `"${p}"`).join(" ")}`;
  return usageError(`${command.name} takes ${expected}; ${got}`, { command: command.name, usage: command.usage });
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
  const name = spec.slice(0, at);
  const check = checkPackageName(name);
  if (!check.ok) throw usageError(`${name}: ${check.reason}`);
  return { name, version: spec.slice(at + 1) };
}

export function fail(message: string, exitCode: number, detail?: unknown): never {
  throw new CliError(message, exitCode, detail);
}
