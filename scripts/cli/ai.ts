/**
 * @module
 * The AI-generation attribute from the command line and from `countersign-ai.json` in the
 * package (flags win). The session transcript is hashed here; only its digest is signed.
 *
 *     { "contribution": "generated",
 *       "tools":  [{ "name": "claude-code", "version": "2.1.0", "provider": "anthropic" }],
 *       "models": [{ "name": "claude-opus-4", "version": "20260501", "provider": "anthropic" }],
 *       "files":  ["src/parser.js"],
 *       "session": "transcripts/session.jsonl" }
 */

import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { AI_CONTRIBUTIONS, AiAttribute, parseWith, type AiAttribute as AiAttributeType } from "../../src/core/index.js";
import { str, type Options, type Values } from "./command.js";
import { CliError, EXIT, usageError } from "./errors.js";

export const AI_CONFIG_FILE = "countersign-ai.json";

export const AI_OPTIONS: Options = {
  ai: { type: "string" },
  "ai-tool": { type: "string", multiple: true },
  "ai-model": { type: "string", multiple: true },
  "ai-file": { type: "string", multiple: true },
  "ai-session": { type: "string" },
  "ai-config": { type: "string" },
};

export const AI_USAGE = `  AI provenance: --ai none|assisted|generated --ai-model provider/name@version --ai-tool provider/name@version
                 --ai-file PATH --ai-session TRANSCRIPT   (or ${AI_CONFIG_FILE} in the package; flags win)`;

/** `anthropic/claude-opus-4@20260501` → { provider, name, version }. */
export function parseComponent(spec: string): { name: string; version?: string; provider?: string } {
  const slash = spec.indexOf("/");
  const provider = slash > 0 ? spec.slice(0, slash) : undefined;
  const rest = slash > 0 ? spec.slice(slash + 1) : spec;
  const at = rest.lastIndexOf("@");
  const name = at > 0 ? rest.slice(0, at) : rest;
  const version = at > 0 ? rest.slice(at + 1) : undefined;
  if (!name) throw usageError(`"${spec}" is not provider/name@version`);
  return { name, ...(version ? { version } : {}), ...(provider ? { provider } : {}) };
}

function sessionDigest(path: string): { sha256: string } {
  try {
    return { sha256: createHash("sha256").update(readFileSync(path)).digest("hex") };
  } catch {
    throw usageError(`cannot read the AI session transcript ${path}`);
  }
}

/** The `ai` attribute for a publish, or undefined when neither flags nor a config file give one. */
export function aiAttribute(values: Values, packageDir: string | undefined): AiAttributeType | undefined {
  const configPath = str(values, "ai-config") ?? (packageDir && existsSync(join(packageDir, AI_CONFIG_FILE)) ? join(packageDir, AI_CONFIG_FILE) : undefined);
  let config: Record<string, unknown> = {};
  if (configPath) {
    try {
      config = JSON.parse(readFileSync(configPath, "utf8")) as Record<string, unknown>;
    } catch {
      throw new CliError(`${configPath} is not readable JSON`, EXIT.usage);
    }
  }
  const flagged = (name: string) => (values[name] as string[] | undefined) ?? [];
  const contribution = str(values, "ai") ?? config.contribution;
  if (contribution === undefined) {
    if (flagged("ai-model").length || flagged("ai-tool").length || flagged("ai-file").length || str(values, "ai-session")) throw usageError(`--ai ${AI_CONTRIBUTIONS.join("|")} is required with the other --ai-* flags`);
    return undefined;
  }
  const session = str(values, "ai-session") ?? (typeof config.session === "string" ? resolve(dirname(configPath!), config.session) : undefined);
  const candidate = {
    contribution,
    tools: flagged("ai-tool").length ? flagged("ai-tool").map(parseComponent) : (config.tools ?? []),
    models: flagged("ai-model").length ? flagged("ai-model").map(parseComponent) : (config.models ?? []),
    ...(flagged("ai-file").length ? { files: flagged("ai-file") } : config.files ? { files: config.files } : {}),
    ...(session ? { session: sessionDigest(session) } : {}),
  };
  const parsed = parseWith(AiAttribute, candidate, "ai");
  if (!parsed.ok) throw new CliError(`AI provenance: ${parsed.error}`, EXIT.usage);
  return parsed.value;
}
