/** @module `GET /.well-known/countersign.json`: the self-signed registry identity (core/identity.ts). */

import { Hono } from "hono";
import { ED25519_TYPE, formatVerifierKey, logOrigin, logUrl, NPM_KEY_TYPE, signIdentity, WELL_KNOWN_PATH } from "../../core/index.js";
import { registryOrigin, type AppEnv } from "../context.js";

export const identityRoutes = new Hono<AppEnv>();

identityRoutes.get(WELL_KNOWN_PATH, async (c) => {
  const { meta, config, signer, npmSigner } = c.var.deps;
  const [namespaces, key, npm] = await Promise.all([meta.listNamespaces(), signer(), npmSigner()]);
  const origin = registryOrigin(c);
  const log = { url: logUrl(origin), origin: logOrigin(origin), key: await formatVerifierKey(logOrigin(origin), ED25519_TYPE, key.publicKey) };
  const envelope = await signIdentity({ name: config.name, origin, namespaces: namespaces.map((n) => n.namespace), log, npmKeys: npm ? [{ keyid: npm.keyid, keytype: NPM_KEY_TYPE, key: npm.key }] : undefined }, key);
  return c.json(envelope, 200, { "Cache-Control": "public, max-age=60" });
});

identityRoutes.get("/", (c) => c.json({ registry: c.var.deps.config.name, identity: new URL(WELL_KNOWN_PATH, c.req.url).href }));
