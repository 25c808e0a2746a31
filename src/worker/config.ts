/**
 * @module
 * Turns the Worker's variables and secrets into a checked configuration, once per isolate.
 * A misconfigured registry answers 500 `misconfigured` and names the variable, never its value.
 */

import { createNpmSigner, createSigner, fromBase64, SEED_LENGTH, type NpmSigner, type Signer } from "../core/index.js";
import type { Env } from "./env.js";
import { ApiError } from "./errors.js";

export const DEFAULT_MAX_ARTIFACT_BYTES = 50 * 1024 * 1024;

export interface Config {
  name: string;
  /**
   * The configured public origin (REGISTRY_ORIGIN). Undefined: nothing is signed (publishes and
   * the identity document answer 503, see `registrySigner`), and unsigned reads such as tarball
   * URLs in packuments use the request's origin.
   */
  origin: string | undefined;
  maxArtifactBytes: number;
  readAccess: "public" | "token";
  /** Whether downloads may be served from the isolate's memory (HOT_CACHE, default on). */
  hotCache: boolean;
}

const misconfigured = (variable: string, problem: string) => new ApiError(500, "misconfigured", `registry is misconfigured: ${variable} ${problem}`);

export function readConfig(env: Env): Config {
  const max = env.MAX_ARTIFACT_BYTES === undefined || env.MAX_ARTIFACT_BYTES === "" ? DEFAULT_MAX_ARTIFACT_BYTES : Number(env.MAX_ARTIFACT_BYTES);
  if (!Number.isSafeInteger(max) || max <= 0) throw misconfigured("MAX_ARTIFACT_BYTES", "must be a positive integer");
  const readAccess = env.READ_ACCESS || "public";
  if (readAccess !== "public" && readAccess !== "token") throw misconfigured("READ_ACCESS", 'must be "public" or "token"');
  const hotCache = env.HOT_CACHE || "on";
  if (hotCache !== "on" && hotCache !== "off") throw misconfigured("HOT_CACHE", 'must be "on" or "off"');
  let origin: string | undefined;
  if (env.REGISTRY_ORIGIN) {
    let url: URL;
    try {
      url = new URL(env.REGISTRY_ORIGIN);
    } catch {
      throw misconfigured("REGISTRY_ORIGIN", "is not a URL");
    }
    // Other schemes have an opaque origin ("null"), which must never be signed.
    if (url.protocol !== "https:" && url.protocol !== "http:") throw misconfigured("REGISTRY_ORIGIN", "must be an http(s) URL");
    origin = url.origin;
  }
  return { name: env.REGISTRY_NAME || "countersign", origin, maxArtifactBytes: max, readAccess, hotCache: hotCache === "on" };
}

let cached: { secret: string; signer: Promise<Signer> } | undefined;

/**
 * The origin every signature binds must be configured, never taken from a request's `Host`:
 * a registry without REGISTRY_ORIGIN refuses to sign (503), while unsigned reads keep working.
 */
export const originNotConfigured = () =>
  new ApiError(503, "origin_not_configured", "this registry does not sign: REGISTRY_ORIGIN must be set to its public origin (see README: Configuration)");

/**
 * The registry's signer, from the REGISTRY_SIGNING_KEY secret (imported once per isolate).
 * Every signature binds the registry's origin, so there is no signer without REGISTRY_ORIGIN.
 */
export function registrySigner(env: Env): Promise<Signer> {
  const secret = env.REGISTRY_SIGNING_KEY;
  if (!secret) throw misconfigured("REGISTRY_SIGNING_KEY", "is not set (see README: Deploy)");
  if (!readConfig(env).origin) throw originNotConfigured();
  if (cached?.secret !== secret) {
    const seed = fromBase64(secret.trim());
    if (!seed || seed.length !== SEED_LENGTH) throw misconfigured("REGISTRY_SIGNING_KEY", "is not base64 of a 32-byte Ed25519 seed");
    cached = { secret, signer: createSigner(seed) };
  }
  return cached.signer;
}

let cachedNpm: { secret: string; signer: Promise<NpmSigner> } | undefined;

/**
 * The registry's npm signer (ECDSA P-256, `dist.signatures` and `GET /-/npm/v1/keys`), from the
 * NPM_SIGNING_KEY secret (base64 PKCS#8 DER; imported once per isolate), or null when the secret
 * is not set: the registry then serves no npm signatures and an empty key list. A secret that is
 * set but unusable is a 500 `misconfigured` naming the variable, never its value.
 */
export async function npmSigner(env: Env): Promise<NpmSigner | null> {
  const secret = env.NPM_SIGNING_KEY;
  if (!secret) return null;
  if (cachedNpm?.secret !== secret) {
    const signer = createNpmSigner(secret);
    cachedNpm = { secret, signer };
    // A bad key is not remembered: the next request imports again (and fails again) rather than
    // keep a rejected promise around.
    signer.catch(() => {
      if (cachedNpm?.signer === signer) cachedNpm = undefined;
    });
  }
  try {
    return await cachedNpm.signer;
  } catch {
    throw misconfigured("NPM_SIGNING_KEY", "is not base64 of a PKCS#8 ECDSA P-256 private key (see README: Deploy)");
  }
}
