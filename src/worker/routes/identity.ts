/** @module `GET /.well-known/countersign.json`: the self-signed registry identity (core/identity.ts). */

import { Hono } from "hono";
import { ED25519_TYPE, formatVerifierKey, logOrigin, logUrl, NPM_KEY_TYPE, signIdentity, WELL_KNOWN_PATH, type Envelope, type IdentityInput } from "../../core/index.js";
import { registryOrigin, type AppEnv } from "../context.js";
import { loggedRotations } from "../signing-key.js";

export const identityRoutes = new Hono<AppEnv>();

identityRoutes.get(WELL_KNOWN_PATH, async (c) => {
  const { meta, config, signer, npmSigner } = c.var.deps;
  const [namespaces, key, npm, rotations] = await Promise.all([meta.listNamespaces(), signer(), npmSigner(), meta.rotations()]);
  const origin = registryOrigin(c);
  const log = { url: logUrl(origin), origin: logOrigin(origin), key: await formatVerifierKey(logOrigin(origin), ED25519_TYPE, key.publicKey) };
  // Keys rotated away (PROTOCOL §21): listed as retired with the index of their rotation, and the rotations themselves.
  const envelopes = rotations.map((r) => JSON.parse(r.envelope) as Envelope);
  const retired = loggedRotations(rotations).map((r) => ({ keyid: r.from.keyid, publicKey: r.from.publicKey, until: r.sequence }));
  const npmKeys: IdentityInput["npmKeys"] = npm ? [{ keyid: npm.keyid, keytype: NPM_KEY_TYPE, key: npm.key }] : undefined;
  const envelope = await signIdentity({ name: config.name, origin, namespaces: namespaces.map((n) => n.namespace), log, npmKeys, retired, rotations: envelopes }, key);
  return c.json(envelope, 200, { "Cache-Control": "public, max-age=60" });
});

identityRoutes.get("/", (c) => c.json({ registry: c.var.deps.config.name, identity: new URL(WELL_KNOWN_PATH, c.req.url).href }));
