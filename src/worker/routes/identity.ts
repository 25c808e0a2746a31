/** @module `GET /.well-known/countersign.json`: the self-signed registry identity (core/identity.ts). */

import { Hono } from "hono";
import { signIdentity, WELL_KNOWN_PATH } from "../../core/index.js";
import { registryOrigin, type AppEnv } from "../context.js";

export const identityRoutes = new Hono<AppEnv>();

identityRoutes.get(WELL_KNOWN_PATH, async (c) => {
  const { meta, config, signer } = c.var.deps;
  const [namespaces, key] = await Promise.all([meta.listNamespaces(), signer()]);
  const envelope = await signIdentity({ name: config.name, origin: registryOrigin(c), namespaces: namespaces.map((n) => n.namespace) }, key);
  return c.json(envelope, 200, { "Cache-Control": "public, max-age=60" });
});

identityRoutes.get("/", (c) => c.json({ registry: c.var.deps.config.name, identity: new URL(WELL_KNOWN_PATH, c.req.url).href }));
