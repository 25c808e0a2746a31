/**
 * @module
 * Staged publishing (docs/PROTOCOL.md §12.1) under `/-/countersign/v1`:
 *
 *     PUT  /admin/namespaces/<ns>/approval  {"required": bool}   admin: require a second key's approval
 *     GET  /admin/namespaces/<ns>/approval                      admin: whether it is required
 *     PUT  /staged/<name>/<version>[?tag=latest]   stage (upload.ts format, every publish check) → 202
 *     GET  /staged/<name>/<version>                the staged publisher statement, for the approver
 *     DELETE /staged/<name>/<version>              withdraw it (e.g. staged with a stolen key)
 *     GET  /staged?namespace=<ns>                  the namespace's staged versions
 *     POST /staged/<name>/<version>/approval       the second key's approval (core/approval.ts) → 201 + bundle
 *
 * Staged versions are visible only here, and only to publish tokens of their namespace: until
 * approved they are in no packument, bundle, search, page or log.
 */

import { Hono } from "hono";
import * as z from "zod/mini";
import { namespaceOf, sriFromHex } from "../../core/index.js";
import { approveStaged } from "../approve.js";
import { bearerToken, checkPublishScope, requireAdmin, requireToken } from "../auth.js";
import { registryOrigin, type AppContext, type AppEnv } from "../context.js";
import { notFound } from "../errors.js";
import { readJson } from "../json.js";
import { namePaths, nameParam } from "../names.js";
import { stageVersion } from "../publish.js";
import { stagedExpiry } from "../storage/staging.js";
import { namespaceParam } from "./admin.js";
import { publishDeps, uploadRequest } from "./packages.js";

export const stagingRoutes = new Hono<AppEnv>();

const ApprovalSetting = z.strictObject({ required: z.boolean() });

/** Staged versions are for the namespace's publishers: a live publish token for it. */
async function requireNamespacePublisher(c: AppContext, namespace: string): Promise<void> {
  checkPublishScope(await requireToken(c.var.deps.meta, bearerToken(c)), namespace);
}

stagingRoutes.put("/admin/namespaces/:namespace/approval", async (c) => {
  await requireAdmin(c);
  const namespace = namespaceParam(c.req.param("namespace"));
  const { required } = await readJson(c, ApprovalSetting);
  const outcome = await c.var.deps.staging.setApprovalRequired(namespace, required, c.var.deps.now().toISOString());
  if (outcome === "no_namespace") throw notFound(`namespace ${namespace} does not exist`, "unknown_namespace");
  return c.json({ namespace, approvalRequired: required });
});

stagingRoutes.get("/admin/namespaces/:namespace/approval", async (c) => {
  await requireAdmin(c);
  const namespace = namespaceParam(c.req.param("namespace"));
  const { approvalRequired } = await c.var.deps.staging.context({ namespace, name: "", version: "", now: c.var.deps.now() });
  return c.json({ namespace, approvalRequired });
});

stagingRoutes.on("PUT", namePaths("/staged", "/:version"), async (c) => {
  const row = await stageVersion(await publishDeps(c), uploadRequest(c));
  return c.json(
    {
      staged: true,
      name: row.name,
      version: row.version,
      namespace: row.namespace,
      tag: row.tag,
      publisher: row.publisherKeyid,
      statementSha256: row.statementSha256,
      integrity: sriFromHex("sha512", row.sha512),
      size: row.size,
      stagedAt: row.stagedAt,
      expiresAt: stagedExpiry(row.stagedAt),
      next: `countersign approve ${row.name}@${row.version} --key <a second key enrolled in ${row.namespace}>`,
    },
    202,
  );
});

stagingRoutes.on("GET", namePaths("/staged", "/:version"), async (c) => {
  const name = nameParam(c);
  const version = c.req.param("version")!;
  await requireNamespacePublisher(c, namespaceOf(name));
  const row = await c.var.deps.staging.getStaged(name, version);
  if (!row) throw notFound(`${name}@${version.slice(0, 64)} is not staged`, "not_staged");
  return c.json(
    {
      name: row.name,
      version: row.version,
      namespace: row.namespace,
      tag: row.tag,
      publisher: { keyid: row.publisherKeyid, statementSha256: row.statementSha256 },
      integrity: sriFromHex("sha512", row.sha512),
      sha256: row.sha256,
      sha512: row.sha512,
      size: row.size,
      stagedAt: row.stagedAt,
      expiresAt: stagedExpiry(row.stagedAt),
      envelope: JSON.parse(row.envelope) as unknown,
    },
    200,
    { "Cache-Control": "no-store" },
  );
});

stagingRoutes.on("DELETE", namePaths("/staged", "/:version"), async (c) => {
  const name = nameParam(c);
  const version = c.req.param("version")!;
  await requireNamespacePublisher(c, namespaceOf(name));
  if ((await c.var.deps.staging.discard(name, version)) === "not_found") throw notFound(`${name}@${version.slice(0, 64)} is not staged`, "not_staged");
  return c.json({ name, version, discarded: true });
});

stagingRoutes.get("/staged", async (c) => {
  const namespace = namespaceParam(c.req.query("namespace"));
  await requireNamespacePublisher(c, namespace);
  const staged = (await c.var.deps.staging.listStaged(namespace)).map((row) => ({ ...row, expiresAt: stagedExpiry(row.stagedAt) }));
  return c.json({ namespace, staged }, 200, { "Cache-Control": "no-store" });
});

stagingRoutes.on("POST", namePaths("/staged", "/:version/approval"), async (c) => {
  const approval = await readJson(c, z.unknown());
  const { bundle, row, logged, approver } = await approveStaged(await publishDeps(c), { name: nameParam(c), version: c.req.param("version")!, token: bearerToken(c), approval, origin: registryOrigin(c) });
  // As a publish answers (packages.ts): the log index is the sequence number.
  const log = logged ? { logIndex: row.sequence, tlogProof: logged.tlogProof } : { logIndex: row.sequence, logPending: true };
  return c.json({ name: row.name, version: row.version, sequence: row.sequence, integrity: sriFromHex("sha512", row.sha512), approver, ...log, bundle }, 201);
});
