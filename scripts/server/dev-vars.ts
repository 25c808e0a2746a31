/**
 * @module
 * `.dev.vars`: the local server's secrets (mode 0600, gitignored). On first run it gets a
 * development signing key, an npm signing key (NPM_SIGNING_KEY, for `npm audit signatures`) and an
 * admin token; later runs reuse them, so the fingerprint stays. A file made before one of them
 * existed gets just the missing lines appended; nothing else in it changes. Keys are never printed.
 */

import { chmodSync, existsSync, readFileSync, writeFileSync } from "node:fs";
import { createNpmSigner, fromBase64, generateKeyPair, generateNpmSigningKey, randomBytes, SEED_LENGTH, toBase64, toBase64Url } from "../../src/core/index.js";

export interface DevVars {
  seed: Uint8Array;
  adminToken: string;
  /** The npm signing key's keyid (NPM_SIGNING_KEY). */
  npmKeyid: string;
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
  // (The banner's "just created" is about the key and admin token, not an npm key added later.)
  const created = !vars.has("REGISTRY_SIGNING_KEY") || !vars.has("ADMIN_TOKEN");
  if (!vars.has("REGISTRY_SIGNING_KEY")) {
    const pair = await generateKeyPair();
    vars.set("REGISTRY_SIGNING_KEY", toBase64(pair.seed));
    additions.push(`# development signing key, made by npm start on ${new Date().toISOString()}`, `REGISTRY_SIGNING_KEY="${vars.get("REGISTRY_SIGNING_KEY")}"`);
  }
  if (!vars.has("NPM_SIGNING_KEY")) {
    const npmKey = await generateNpmSigningKey();
    vars.set("NPM_SIGNING_KEY", npmKey.secret);
    additions.push(`# development npm signing key (ECDSA P-256, PKCS#8), made by npm start on ${new Date().toISOString()}`, `NPM_SIGNING_KEY="${npmKey.secret}"`);
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
  const npm = await createNpmSigner(vars.get("NPM_SIGNING_KEY")!).catch(() => null);
  if (!npm) return ".dev.vars: NPM_SIGNING_KEY is not base64 of a PKCS#8 ECDSA P-256 key (delete the line to make a new key)";
  return { seed, adminToken: vars.get("ADMIN_TOKEN")!, npmKeyid: npm.keyid, created };
}
