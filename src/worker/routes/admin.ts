/**
 * @module
 * Admin API under `/-/countersign/v1/admin`, guarded by the ADMIN_TOKEN secret:
 * namespaces, publisher keys per namespace (enrol, revoke, list) and tokens (create, list,
 * revoke). Secrets appear in exactly one response: the token creation that shows a token once.
 */

import { Hono } from "hono";
import * as z from "zod/mini";
import { checkNamespace, fingerprint, isFingerprint, KEY_PROBLEM_TEXT, parsePublicKey } from "../../core/index.js";
import { hashToken, newToken, requireAdmin } from "../auth.js";
import type { AppEnv } from "../context.js";
import { ApiError, badRequest, notFound } from "../errors.js";
import { readJson } from "../json.js";
import { TOKEN_DISPLAY_LENGTH } from "../npm/tokens.js";

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use("*", async (c, next) => {
  await requireAdmin(c);
  await next();
});

const NamespaceBody = z.strictObject({ namespace: z.string() });
const Label = z.optional(z.string().check(z.maxLength(200)));
const KeyBody = z.strictObject({ publicKey: z.string(), label: Label });
const TokenBody = z.strictObject({
  scope: z.enum(["read", "publish"]),
  namespaces: z.optional(z.array(z.string()).check(z.maxLength(1000))),
  label: Label,
});

function namespaceParam(value: string | undefined): string {
  const check = checkNamespace(value);
  if (!check.ok) throw badRequest("invalid_namespace", check.reason);
  return value!;
}

adminRoutes.get("/namespaces", async (c) => c.json({ namespaces: await c.var.deps.meta.listNamespaces() }));

adminRoutes.post("/namespaces", async (c) => {
  const body = await readJson(c, NamespaceBody);
  const namespace = namespaceParam(body.namespace);
  const outcome = await c.var.deps.meta.createNamespace(namespace, c.var.deps.now().toISOString());
  if (outcome === "exists") throw new ApiError(409, "namespace_exists", `namespace ${namespace} already exists`);
  return c.json({ namespace }, 201);
});

adminRoutes.get("/namespaces/:namespace/keys", async (c) => {
  const namespace = namespaceParam(c.req.param("namespace"));
  const keys = await c.var.deps.meta.listKeys(namespace);
  if (!keys) throw notFound(`namespace ${namespace} does not exist`, "unknown_namespace");
  return c.json({ namespace, keys });
});

adminRoutes.post("/namespaces/:namespace/keys", async (c) => {
  const namespace = namespaceParam(c.req.param("namespace"));
  const body = await readJson(c, KeyBody);
  const key = parsePublicKey(body.publicKey);
  if ("problem" in key) throw badRequest("invalid_public_key", `publicKey rejected: ${KEY_PROBLEM_TEXT[key.problem]}`);
  const keyid = await fingerprint(key.key);
  const outcome = await c.var.deps.meta.enrolKey({ namespace, keyid, publicKey: body.publicKey, label: body.label ?? "", createdAt: c.var.deps.now().toISOString() });
  if (outcome === "no_namespace") throw notFound(`namespace ${namespace} does not exist; create it first`, "unknown_namespace");
  if (outcome === "exists") throw new ApiError(409, "key_exists", `key ${keyid} is already enrolled in ${namespace}`);
  return c.json({ namespace, keyid }, 201);
});

adminRoutes.delete("/namespaces/:namespace/keys/:keyid", async (c) => {
  const namespace = namespaceParam(c.req.param("namespace"));
  const keyid = c.req.param("keyid");
  if (!isFingerprint(keyid)) throw badRequest("invalid_keyid", "keyid must be a SHA256: fingerprint (URL-encoded)");
  const outcome = await c.var.deps.meta.revokeKey(namespace, keyid, c.var.deps.now().toISOString());
  if (outcome === "not_found") throw notFound(`no active key ${keyid} in ${namespace}`, "unknown_key");
  return c.json({ namespace, keyid, revoked: true });
});

adminRoutes.get("/tokens", async (c) => c.json({ tokens: await c.var.deps.meta.listTokens() }));

adminRoutes.post("/tokens", async (c) => {
  const body = await readJson(c, TokenBody);
  const namespaces = (body.namespaces ?? []).map(namespaceParam);
  if (body.scope === "publish" && namespaces.length === 0) throw badRequest("invalid_token_request", "a publish token needs at least one namespace");
  if (body.scope === "read" && namespaces.length > 0) throw badRequest("invalid_token_request", "read tokens read every namespace; omit namespaces");
  const { id, token } = newToken();
  const createdAt = c.var.deps.now().toISOString();
  await c.var.deps.meta.createToken({ id, hash: await hashToken(token), scope: body.scope, namespaces, label: body.label ?? "", createdAt, revokedAt: null, prefix: token.slice(0, TOKEN_DISPLAY_LENGTH) });
  return c.json({ id, token, scope: body.scope, namespaces, label: body.label ?? "", createdAt, note: "store this token now: it is not shown again" }, 201, { "Cache-Control": "no-store" });
});

adminRoutes.delete("/tokens/:id", async (c) => {
  const id = c.req.param("id");
  const outcome = await c.var.deps.meta.revokeToken(id, c.var.deps.now().toISOString());
  if (outcome === "not_found") throw notFound(`no active token ${id.slice(0, 40)}`, "unknown_token");
  return c.json({ id, revoked: true });
});
