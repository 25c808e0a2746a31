/** @module The Worker's bindings, secrets and variables (wrangler.toml, `.dev.vars`, `wrangler secret put`). */

import type { LogSequencer } from "./log/durable.js";

export interface Env {
  /** D1: namespaces, publisher keys, versions, dist-tags, tokens. */
  DB: D1Database;
  /** R2: artifact bytes, content-addressed by sha512. */
  ARTIFACTS: R2Bucket;
  /** Durable Object: the transparency log's sequencer (log/durable.ts), one instance named "log". */
  LOG?: DurableObjectNamespace<LogSequencer>;
  /** Secret: base64 of the registry's 32-byte Ed25519 seed. */
  REGISTRY_SIGNING_KEY?: string;
  /**
   * Secret, during a key rotation only: the successor key's seed. `POST /-/countersign/v1/admin/rotate`
   * logs the rotation signed by both keys; from then on this key signs (signing-key.ts), until it
   * is moved into REGISTRY_SIGNING_KEY.
   */
  REGISTRY_NEXT_SIGNING_KEY?: string;
  /**
   * Secret: the registry's npm signing key, base64 of an ECDSA P-256 private key's PKCS#8 DER
   * (`countersign registry-keygen --npm`). Signs every npm version's `dist.signatures` and is
   * served at `/-/npm/v1/keys` for `npm audit signatures`; listed in the identity document.
   * Unset: no npm signatures, an empty key list.
   */
  NPM_SIGNING_KEY?: string;
  /** Secret: bearer token for the admin API. */
  ADMIN_TOKEN?: string;
  /** Human name in the identity document. */
  REGISTRY_NAME?: string;
  /**
   * Public origin (https://npm.example.com), bound into every signature. Required to sign: without
   * it publishes and the identity document answer 503 (`npm start` sets it to its own address).
   */
  REGISTRY_ORIGIN?: string;
  /** Largest accepted artifact in bytes (default 50 MiB). */
  MAX_ARTIFACT_BYTES?: string;
  /** "public" (default): anyone may read; "token": reads need a read or publish token. */
  READ_ACCESS?: string;
  /**
   * Witnesses asked to cosign each log checkpoint: one per line (or `;`), `<cosignature vkey> <URL
   * prefix>` (src/worker/log/witnesses.ts). Empty: checkpoints carry the registry's signature only.
   */
  LOG_WITNESSES?: string;
  /** "off": no per-isolate memory of downloads (src/worker/hot-cache.ts); default "on". */
  HOT_CACHE?: string;
}
