/**
 * @module
 * `.dev.vars`: the local server's secrets (mode 0600, gitignored). On first run it gets a
 * development signing key and an admin token; later runs reuse them, so the fingerprint stays.
 * The key is never printed.
 */

import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { fromBase64, generateKeyPair, randomBytes, SEED_LENGTH, toBase64, toBase64Url } from "../../src/core/index.js";

export interface DevVars {
  seed: Uint8Array;
  adminToken: string;
  created: boolean;
}

function parse(text: string): Map<string, string> {
  return new Map(
    text
      .split("\n")
      .map((line) => /^\s*([A-Z_][A-Z0-9_]*)\s*=\s*"?([^"\n]*)"?\s*$/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1]!, m[2]!] as const),
  );
}

/** Reads `.dev.vars` at `path`, adding what is missing; a reason string if the key is unusable. */
export async function ensureDevVars(path: string): Promise<DevVars | string> {
  const text = existsSync(path) ? readFileSync(path, "utf8") : "";
  const vars = parse(text);
  const additions: string[] = [];
  if (!vars.has("REGISTRY_SIGNING_KEY")) {
    const pair = await generateKeyPair();
    vars.set("REGISTRY_SIGNING_KEY", toBase64(pair.seed));
    additions.push(`# development signing key, made by npm start on ${new Date().toISOString()}`, `REGISTRY_SIGNING_KEY="${vars.get("REGISTRY_SIGNING_KEY")}"`);
  }
  if (!vars.has("ADMIN_TOKEN")) {
    vars.set("ADMIN_TOKEN", `cs_admin_${toBase64Url(randomBytes(24))}`);
    additions.push(`ADMIN_TOKEN="${vars.get("ADMIN_TOKEN")}"`);
  }
  if (additions.length) {
    writeFileSync(path, `${text}${text && !text.endsWith("\n") ? "\n" : ""}${additions.join("\n")}\n`, { mode: 0o600 });
    chmodSync(path, 0o600);
  }
  const seed = fromBase64(vars.get("REGISTRY_SIGNING_KEY")!.trim());
  if (!seed || seed.length !== SEED_LENGTH) return ".dev.vars: REGISTRY_SIGNING_KEY is not base64 of a 32-byte seed (delete the line to make a new key)";
  return { seed, adminToken: vars.get("ADMIN_TOKEN")!, created: additions.length > 0 };
}
