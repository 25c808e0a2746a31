/**
 * @module
 * What every route gets in `c.var`: storage behind its interfaces, the checked configuration,
 * the clock and the registry signer. Tests build the app with other stores to inject faults.
 */

import type { Context } from "hono";
import type { NpmSigner, Signer } from "../core/index.js";
import { npmSigner, readConfig, type Config } from "./config.js";
import { currentSigner } from "./signing-key.js";
import type { Env } from "./env.js";
import { durableLog, type LogHandle } from "./log/handle.js";
import { r2BlobStore, type BlobStore } from "./storage/blobs.js";
import { d1MetaStore } from "./storage/d1.js";
import type { MetaStore } from "./storage/meta.js";
import { d1StagingStore, type StagingStore } from "./storage/staging.js";

export interface Deps {
  meta: MetaStore;
  /** Staged publishing: namespaces that require approval, versions awaiting one (migrations/0010). */
  staging: StagingStore;
  blobs: BlobStore;
  config: Config;
  now: () => Date;
  /** The registry key that signs now (signing-key.ts: the successor, once a rotation is logged). */
  signer: () => Promise<Signer>;
  /** The npm signing key (NPM_SIGNING_KEY), null when not configured; 500 `misconfigured` if unusable. */
  npmSigner: () => Promise<NpmSigner | null>;
  /** The transparency log's sequencer (a Durable Object stub; throws if the binding is missing). */
  log: () => LogHandle;
}

export type AppEnv = { Bindings: Env; Variables: { deps: Deps } };
export type AppContext = Context<AppEnv>;

/** Overrides for tests: wrap or replace the stores built from the bindings. */
export interface StoreFactories {
  meta?: (env: Env) => MetaStore;
  staging?: (env: Env) => StagingStore;
  blobs?: (env: Env) => BlobStore;
  now?: () => Date;
  log?: (env: Env) => LogHandle;
}

export function buildDeps(env: Env, factories: StoreFactories): Deps {
  const meta = factories.meta?.(env) ?? d1MetaStore(env.DB);
  return {
    meta,
    staging: factories.staging?.(env) ?? d1StagingStore(env.DB),
    blobs: factories.blobs?.(env) ?? r2BlobStore(env.ARTIFACTS),
    config: readConfig(env),
    now: factories.now ?? (() => new Date()),
    signer: () => currentSigner(env, () => meta.rotations()),
    npmSigner: () => npmSigner(env),
    log: () => factories.log?.(env) ?? durableLog(env),
  };
}

/** This registry's origin: REGISTRY_ORIGIN if set, else the origin the request came to. */
export function registryOrigin(c: AppContext): string {
  return c.var.deps.config.origin ?? new URL(c.req.url).origin;
}

/** Runs background work after the response when the runtime allows it (not under app.request). */
export function waitUntil(c: AppContext, work: Promise<unknown>): void {
  try {
    c.executionCtx.waitUntil(work.catch(() => undefined));
  } catch {
    void work.catch(() => undefined);
  }
}

/** Workers' edge cache (`caches.default`); undefined where there is none (app.request in tests). */
export const edgeCache = (): Cache | undefined => (globalThis as { caches?: { default?: Cache } }).caches?.default;
