/**
 * @module
 * Approving a staged version (docs/PROTOCOL.md §12.1): the registry countersigns a staged publish
 * statement only once a *second* key enrolled in the namespace has signed an approval of exactly
 * that statement (core/approval.ts). Then it commits exactly as a direct publish does
 * (publish.ts `countersignAndCommit`), with the approval bound into the countersignature, and the
 * commit deletes the staged row in its own transaction (migrations/0010).
 *
 *     check name, version, token present                                   (no I/O)
 *     open the approval envelope (a bad signature is reported below, as for a publish)
 *     read the staged row; then ONE round trip: token, namespace, approver key, dist-tag,
 *       sequence, D1's clock (publishContext) and the namespace's keys (listKeys)
 *     check token scope, staged (and not expired: storage/staging.ts), approver enrolled and active, publisher key still active,
 *     the approval's signature, then that it covers exactly the staged statement by another key
 *     countersign and commit (shared with publish)
 */

import { approvalTarget, checkApproval, checkPackageName, checkVersion, openStatement, APPROVAL_STATEMENT, PUBLISH_STATEMENT, type ApprovalStatement, type OpenedStatement } from "../core/index.js";
import { checkPublishScope, hashToken } from "./auth.js";
import { ApiError, badRequest, notFound } from "./errors.js";
import { countersignAndCommit, type Published, type PublishDeps } from "./publish.js";
import { stagedExpiry } from "./storage/staging.js";

export interface ApproveRequest {
  name: string;
  version: string;
  token: string | null;
  /** The approval envelope as received (attacker-controlled JSON). */
  approval: unknown;
  /** This registry's origin, bound into the countersignature. */
  origin: string;
}

const refused = (status: 400 | 403, code: string, message: string, details: Record<string, unknown> = {}) => new ApiError(status, code, message, { layer: "publisher", ...details });

export async function approveStaged(deps: PublishDeps, req: ApproveRequest): Promise<Published & { approver: string }> {
  const name = checkPackageName(req.name);
  if (!name.ok) throw badRequest("invalid_name", name.reason);
  const version = checkVersion(req.version);
  if (!version.ok) throw badRequest("invalid_version", version.reason);
  if (!req.token) throw new ApiError(401, "unauthorized", "a publish token is required: send Authorization: Bearer <token>");
  const { namespace } = name;
  // Before anything is decided: a misconfigured NPM_SIGNING_KEY refuses the approval (500) here.
  const npmSigner = (await deps.npmSigner?.()) ?? null;

  // The signature is checked here, reported after the token and enrolment (as for a publish).
  const opened = await openStatement(req.approval, APPROVAL_STATEMENT);
  let claimed: OpenedStatement<ApprovalStatement>;
  if (opened.ok) claimed = opened.value;
  else if (opened.error.code === "bad_signature") claimed = opened.error.unverified;
  else throw refused(400, "bad_approval", `approval: ${opened.error.message}`);
  const approver = claimed.keyid;

  const staged = await deps.staging.getStaged(req.name, req.version);
  const [ctx, keys] = await Promise.all([
    deps.meta.publishContext({ name: req.name, version: req.version, namespace, keyid: approver, tokenHash: await hashToken(req.token), tag: staged?.tag ?? "latest" }),
    deps.meta.listKeys(namespace),
  ]);
  if (!ctx.token || ctx.token.revokedAt) throw new ApiError(401, "unauthorized", "token is not valid or has been revoked");
  checkPublishScope(ctx.token, namespace);
  if (!ctx.namespaceExists) throw new ApiError(404, "unknown_namespace", `this registry is not authoritative for ${namespace}`);
  if (ctx.versionExists) throw new ApiError(409, "version_exists", `${req.name}@${req.version} is already published; there is nothing to approve`);
  if (!staged) throw notFound(`${req.name}@${req.version} is not staged (countersign publish <dir> --stage)`, "not_staged");
  const expired = stagedExpiry(staged.stagedAt);
  if (expired <= deps.now().toISOString()) {
    throw new ApiError(410, "staged_expired", `${req.name}@${req.version} was staged at ${staged.stagedAt} and could be approved until ${expired}; stage it again (countersign publish <dir> --stage) to have it approved`, { layer: "publisher", namespace, expected: `approved before ${expired}`, actual: deps.now().toISOString() });
  }
  if (!ctx.key || ctx.key.publicKey !== claimed.statement.predicate.approver.publicKey) {
    throw refused(403, "approver_not_enrolled", `approver key ${approver} is not enrolled in ${namespace}`, { namespace, actual: approver });
  }
  if (ctx.key.revokedAt) throw refused(403, "approver_key_revoked", `approver key ${approver} was revoked in ${namespace} at ${ctx.key.revokedAt}`, { namespace, actual: approver });
  // The publisher key may have been revoked since it staged (it was stolen): its statement is void.
  const publisherKey = keys?.find((k) => k.keyid === staged.publisherKeyid);
  if (!publisherKey || publisherKey.revokedAt) {
    throw refused(403, "publisher_key_revoked", `publisher key ${staged.publisherKeyid} that staged ${req.name}@${req.version} is no longer active in ${namespace}`, { namespace, actual: staged.publisherKeyid });
  }
  if (!opened.ok) throw refused(403, "bad_approval_signature", `approval signature by ${approver} does not verify`, { namespace, actual: approver });

  // The staged statement was verified when it was staged; opened again for its bytes and signature.
  const publisher = await openStatement(JSON.parse(staged.envelope), PUBLISH_STATEMENT, { signedBy: [staged.publisherKeyid] });
  if (!publisher.ok) throw new Error(`staged publisher envelope of ${req.name}@${req.version} no longer opens: ${publisher.error.code}`);
  const checked = await checkApproval(req.approval, await approvalTarget(publisher.value));
  if (!checked.ok) {
    const { code, message, expected, actual } = checked.error;
    throw refused(code === "bad_approval" ? 400 : 403, code, message, { namespace, ...(expected !== undefined ? { expected } : {}), ...(actual !== undefined ? { actual } : {}) });
  }

  const published = await countersignAndCommit(
    deps,
    {
      name: req.name,
      version: req.version,
      namespace,
      tag: staged.tag,
      publisher: publisher.value,
      approval: checked.value.opened,
      artifact: { size: staged.size, sha256: staged.sha256, sha512: staged.sha512, sha1: staged.sha1 },
      contents: { manifest: staged.manifest, readme: staged.readme },
      context: ctx,
      origin: req.origin,
    },
    npmSigner,
  );
  return { ...published, approver };
}
