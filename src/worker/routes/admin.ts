/**
 * @module
 * Admin API under `/-/countersign/v1/admin`, guarded by the ADMIN_TOKEN secret:
 * namespaces, publisher keys per namespace (enrol, revoke, list) and tokens (create, list,
 * revoke). Secrets appear in exactly one response: the token creation that shows a token once.
 * Namespace and key changes are signed, logged registry statements (registry-statements.ts).
 */

import { Hono } from "hono";
import * as z from "zod/mini";
import { checkNamespace, fingerprint, isFingerprint, KEY_PROBLEM_TEXT, parsePublicKey, signRotation } from "../../core/index.js";
import { hashToken, newToken, requireAdmin } from "../auth.js";
import { originNotConfigured, registrySigner } from "../config.js";
import { forgetCurrentSigner, nextSigner } from "../signing-key.js";
import type { AppContext, AppEnv } from "../context.js";
import { ApiError, badRequest, notFound } from "../errors.js";
import { readJson } from "../json.js";
import { recordStatement, type Recorded } from "../registry-statements.js";
import { TOKEN_DISPLAY_LENGTH } from "../npm/tokens.js";

export const adminRoutes = new Hono<AppEnv>();

adminRoutes.use("*", async (c, next) => {
  await requireAdmin(c);
  await next();
});

const NamespaceBody = z.strictObject({ namespace: z.string() });
const Label = z.optional(z.string().check(z.maxLength(200)));
const KeyBody = z.strictObject({ publicKey: z.string(), label: Label });
const RotateBody = z.strictObject({ compromisedSince: z.optional(z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER))) });
const TokenBody = z.strictObject({
  scope: z.enum(["read", "publish"]),
  namespaces: z.optional(z.array(z.string()).check(z.maxLength(1000))),
  label: Label,
});

export function namespaceParam(value: string | undefined): string {
  const check = checkNamespace(value);
  if (!check.ok) throw badRequest("invalid_namespace", check.reason);
  return value!;
}

adminRoutes.get("/namespaces", async (c) => c.json({ namespaces: await c.var.deps.meta.listNamespaces() }));

// Namespace claims, enrolments and revocations are registry statements (PROTOCOL §20): signed,
// committed with the change, and logged. Answers carry the statement and its log index.
adminRoutes.post("/namespaces", async (c) => {
  const body = await readJson(c, NamespaceBody);
  const namespace = namespaceParam(body.namespace);
  const { meta, now } = c.var.deps;
  const context = await meta.statementContext(namespace);
  if (context.namespaceExists) throw namespaceExists(namespace);
  const recorded = await recordStatement(c.var.deps, signingOrigin(c), { kind: "namespace_claimed", namespace }, context.lastSequence, (row) => meta.createNamespace(namespace, now().toISOString(), row), "created");
  if (recorded.outcome === "exists") throw namespaceExists(namespace);
  return c.json({ namespace, ...logged(recorded) }, 201);
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
  const { meta } = c.var.deps;
  const label = body.label ?? "";
  const context = await meta.statementContext(namespace, keyid);
  if (!context.namespaceExists) throw noNamespace(namespace);
  if (context.key) throw keyExists(keyid, namespace, context.key.revokedAt);
  const claim = { kind: "key_enrolled", namespace, key: { keyid, publicKey: body.publicKey, label } } as const;
  const recorded = await recordStatement(c.var.deps, signingOrigin(c), claim, context.lastSequence, (row) => meta.enrolKey({ namespace, keyid, publicKey: body.publicKey, label, createdAt: row.createdAt }, row), "enrolled");
  if (recorded.outcome === "no_namespace") throw noNamespace(namespace);
  if (recorded.outcome === "exists") throw keyExists(keyid, namespace, null);
  return c.json({ namespace, keyid, ...logged(recorded) }, 201);
});

/**
 * Revokes a publisher key. `?since=<sequence>` also voids the versions it published from that
 * sequence number on (a key stolen before it was revoked; `since=all`: every version it ever
 * published); without it, only versions after the revocation are refused (none can be published).
 */
adminRoutes.delete("/namespaces/:namespace/keys/:keyid", async (c) => {
  const namespace = namespaceParam(c.req.param("namespace"));
  const keyid = c.req.param("keyid");
  if (!isFingerprint(keyid)) throw badRequest("invalid_keyid", "keyid must be a SHA256: fingerprint (URL-encoded)");
  const since = sinceParam(c.req.query("since"));
  const { meta, now } = c.var.deps;
  const context = await meta.statementContext(namespace, keyid);
  if (!context.key || context.key.revokedAt) throw noActiveKey(keyid, namespace);
  if (since !== undefined && since > context.lastSequence + 1) throw badRequest("invalid_since", `since must be a sequence number at most ${context.lastSequence + 1} (the next one), or "all"`);
  const claim = (sequence: number) => ({ kind: "key_revoked", namespace, keyid, since: since ?? sequence }) as const;
  const recorded = await recordStatement(c.var.deps, signingOrigin(c), claim, context.lastSequence, (row) => meta.revokeKey(namespace, keyid, now().toISOString(), row), "revoked");
  if (recorded.outcome === "not_found") throw noActiveKey(keyid, namespace);
  return c.json({ namespace, keyid, revoked: true, since: since ?? recorded.statement!.sequence, ...logged(recorded) });
});

/**
 * Rotates the registry key (PROTOCOL §21): the rotation from REGISTRY_SIGNING_KEY to
 * REGISTRY_NEXT_SIGNING_KEY, signed by both, committed at the next sequence number and logged.
 * From the commit on, the successor signs (signing-key.ts). Asked again once done, it answers
 * the rotation it logged (200). `compromisedSince` also voids what the old key countersigned from
 * that sequence number on (it leaked before it was rotated away).
 */
adminRoutes.post("/rotate", async (c) => {
  const origin = signingOrigin(c);
  // Optional body: { "compromisedSince": <sequence> } when the old key is rotated away because it leaked.
  const hasBody = c.req.header("content-type") !== undefined || !["", "0", undefined].includes(c.req.header("content-length"));
  const { compromisedSince } = hasBody ? await readJson(c, RotateBody) : {};
  const pending = nextSigner(c.env);
  if (!pending) throw badRequest("no_next_key", "set REGISTRY_NEXT_SIGNING_KEY to the new key's seed first (countersign registry-keygen), then rotate");
  const [current, successor] = await Promise.all([registrySigner(c.env), pending]);
  const { meta, now } = c.var.deps;
  const done = (await meta.rotations()).find((r) => r.to === successor.keyid);
  if (done) {
    const { proofs } = await c.var.deps.log().proofs([done.sequence]);
    return c.json({ rotated: true, from: done.from, to: done.to, statement: JSON.parse(done.envelope) as unknown, log: { index: done.sequence, ...(proofs[0] ? { tlogProof: proofs[0] } : { pending: true }) } });
  }
  let sequence = (await meta.lastSequence()) + 1;
  if (compromisedSince !== undefined && compromisedSince >= sequence) throw badRequest("invalid_compromised_since", `compromisedSince must be a sequence number below ${sequence}, the rotation's own`);
  for (let attempt = 1; attempt <= 64; attempt++) {
    const createdAt = now().toISOString();
    const envelope = await signRotation({ origin, sequence, at: createdAt, compromisedSince }, current, successor);
    const outcome = await meta.commitRotation({ sequence, from: current.keyid, to: successor.keyid, envelope: JSON.stringify(envelope), createdAt });
    if (outcome === "committed") {
      forgetCurrentSigner();
      let tlogProof: string | null = null;
      try {
        tlogProof = (await c.var.deps.log().logged(sequence)).tlogProof;
      } catch (err) {
        console.error(`log: key rotation ${sequence} is committed but not yet in a checkpoint: ${err instanceof Error ? err.message : String(err)}`);
      }
      return c.json({ rotated: true, from: current.keyid, to: successor.keyid, statement: envelope, log: { index: sequence, ...(tlogProof ? { tlogProof } : { pending: true }) } }, 201);
    }
    if (outcome === "not_current") {
      throw new ApiError(409, "key_not_current", `REGISTRY_SIGNING_KEY (${current.keyid}) is not the registry's current key, or one of the two keys was in a rotation before: nothing was rotated`);
    }
    sequence = (await meta.lastSequence()) + 1;
  }
  throw new ApiError(503, "storage_unavailable", "too many changes at once; nothing was rotated, retry");
});

function sinceParam(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (value === "all") return 1;
  const since = /^[1-9][0-9]{0,15}$/.test(value) ? Number(value) : NaN;
  if (!Number.isSafeInteger(since)) throw badRequest("invalid_since", 'since must be a positive sequence number or "all"');
  return since;
}

/** The origin statements bind: the configured one (the signer refuses without it). */
function signingOrigin(c: AppContext): string {
  const origin = c.var.deps.config.origin;
  if (!origin) throw originNotConfigured();
  return origin;
}

const logged = (recorded: Recorded<string>) => ({ statement: recorded.statement!.envelope, log: { index: recorded.statement!.sequence, ...(recorded.statement!.tlogProof ? { tlogProof: recorded.statement!.tlogProof } : { pending: true }) } });
const namespaceExists = (namespace: string) => new ApiError(409, "namespace_exists", `namespace ${namespace} already exists`);
const noNamespace = (namespace: string) => notFound(`namespace ${namespace} does not exist; create it first`, "unknown_namespace");
const noActiveKey = (keyid: string, namespace: string) => notFound(`no active key ${keyid} in ${namespace}`, "unknown_key");
const keyExists = (keyid: string, namespace: string, revokedAt: string | null) =>
  new ApiError(409, "key_exists", revokedAt ? `key ${keyid} was enrolled in ${namespace} and revoked at ${revokedAt}; a revoked key is never enrolled again (make a new one)` : `key ${keyid} is already enrolled in ${namespace}`);

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
