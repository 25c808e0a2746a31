/**
 * @module
 * Publishing one version: the registry's half of the dual-signature protocol.
 *
 *     check name, version, tag, size limit            (no I/O)
 *     open the publisher envelope (core openStatement; a bad signature is reported below)
 *     ONE D1 batch: token, namespace, enrolled key, version exists?, current tag
 *       (and the highest sequence number committed so far, and D1's clock); side by side, one
 *       query of staging (storage/staging.ts): does the namespace require approval, is it staged?
 *     check token scope, enrolment, 409, publisher signature, approval required
 *     ONE pump reads the artifact once and feeds R2 (under the signed sha512: R2 rejects other
 *       bytes), the native sha1/sha256/sha512 hashers and the package inspector (fanout.ts)
 *     countersign with the next sequence number (and, for an npm tarball with NPM_SIGNING_KEY
 *       set, sign npm's `name@version:integrity` for `dist.signatures`, once)
 *     ONE D1 batch (the commit point): version row + dist-tag, only if that sequence number is
 *       still the next one; otherwise read the highest, countersign again and retry
 *     ask the log's sequencer (log/durable.ts) to publish a checkpoint covering the sequence
 *       number, which is the version's log index; its tlog-proof goes into the answer
 *
 * Two halves: `acceptUpload` (everything up to the stored, checked bytes) and
 * `countersignAndCommit` (from the npm signature on). A direct publish runs both; a staged one
 * (`stageVersion`, docs/PROTOCOL.md §12.1) runs the first and records a staged row instead of
 * countersigning; an approval (approve.ts) later runs the second, with the approval bound into
 * the countersignature. Where the namespace requires approval, a direct publish is refused
 * (`approval_required`) once every other check has passed, before any artifact byte is read.
 *
 * A failure before the commit leaves no visible version and takes no sequence number: at most an
 * unreferenced, content-addressed blob that a retry reuses and the blob collector (gc.ts) later
 * deletes. A lost race for the version is a 409; for the sequence number, another attempt.
 * Once committed, the version is in the log whatever happens next: the sequencer reads entries
 * from the committed versions, so if it fails now, its next round (another publish, the cron)
 * covers this index, and the answer says the proof is pending.
 */

import semverGt from "semver/functions/gt.js";
import semverValidRange from "semver/ranges/valid.js";
import {
  BUNDLE_MEDIA_TYPE,
  checkPackageName,
  checkVersion,
  countersign,
  describePublisherProblem,
  diffFiles,
  fileEntries,
  fromUtf8,
  MAX_STATEMENT_BYTES,
  openStatement,
  PUBLISH_STATEMENT,
  readPackage,
  sriFromHex,
  statementSha256,
  type ApprovalStatement,
  type Bundle,
  type FileEntry,
  type NpmSigner,
  type OpenedStatement,
  type PublishStatement,
  type Signer,
} from "../core/index.js";
import { checkPublishScope, hashToken } from "./auth.js";
import type { Config } from "./config.js";
import type { Logged } from "./log/durable.js";
import type { LogHandle } from "./log/handle.js";
import { ApiError, badRequest } from "./errors.js";
import { fanOut } from "./fanout.js";
import { recordChange } from "./metadata-log.js";
import { digestStream, sha256Stream, type StreamDigests } from "./hashing.js";
import type { BlobStore } from "./storage/blobs.js";
import type { MetaStore, PublishContext, TagUpdate, VersionRow } from "./storage/meta.js";
import type { StagedRow, StagingStore } from "./storage/staging.js";
import { openUpload, UPLOAD_OVERHEAD_BYTES, type Upload } from "./upload.js";

export interface PublishDeps {
  meta: MetaStore;
  staging: StagingStore;
  blobs: BlobStore;
  signer: Signer;
  /**
   * The key that signs now, asked afresh: when a commit finds `signer` retired by a rotation
   * another isolate logged (signing-key.ts). Absent: such a commit fails (503, retry).
   */
  freshSigner?: () => Promise<Signer>;
  config: Config;
  now: () => Date;
  log: LogHandle;
  /** The npm signing key (NPM_SIGNING_KEY) for `dist.signatures`; absent or null: npm versions are stored unsigned. */
  npmSigner?: () => Promise<NpmSigner | null>;
}

export interface PublishRequest {
  name: string;
  version: string;
  tag: string;
  token: string | null;
  body: ReadableStream<Uint8Array> | null;
  contentLength: number | null;
  /** This registry's origin, bound into the countersignature. */
  origin: string;
}

const TAG = /^[A-Za-z][A-Za-z0-9._-]{0,63}$/;

const publisherError = (status: 400 | 403, code: string, message: string, details: Record<string, unknown> = {}) =>
  new ApiError(status, code, message, { layer: "publisher", ...details });

export function checkTag(tag: string): void {
  if (!TAG.test(tag) || semverValidRange(tag) !== null) {
    throw badRequest("invalid_tag", `dist-tag "${tag.slice(0, 64)}" must start with a letter, use A-Z a-z 0-9 . _ -, and not be a semver range`);
  }
}

/**
 * Commit attempts before a publish gives up (503). Each failed attempt means another publish
 * committed in between, so N concurrent publishes need at most N attempts each.
 */
const MAX_COMMIT_ATTEMPTS = 64;

const storageUnavailable = (why: string, retry = "retry the same upload") => new ApiError(503, "storage_unavailable", `${why}; nothing was published, ${retry}`);

export function tooLarge(limit: number): ApiError {
  return new ApiError(413, "too_large", `artifact exceeds this registry's limit of ${limit} bytes (${(limit / 1048576).toFixed(1)} MiB)`, { limit });
}

export interface Published {
  bundle: Bundle & { tlogProof?: string };
  row: VersionRow;
  /** The version's place in the log, or null when the sequencer did not answer (pending). */
  logged: Logged | null;
}

export async function publishVersion(deps: PublishDeps, req: PublishRequest): Promise<Published> {
  return withUpload(deps.config, req, async (checked, upload) => {
    // Before any byte is accepted: a misconfigured NPM_SIGNING_KEY refuses the publish (500) here.
    const npmSigner = (await deps.npmSigner?.()) ?? null;
    const accepted = await acceptUpload(deps, req, checked, upload, "publish");
    return countersignAndCommit(deps, { ...accepted, approval: null, origin: req.origin }, npmSigner);
  });
}

/**
 * `publish --stage`: every check of a publish, the bytes stored, then a staged row instead of a
 * countersignature. No sequence number, no log entry, no read route shows it (§12.1).
 */
export async function stageVersion(deps: PublishDeps, req: PublishRequest): Promise<StagedRow> {
  return withUpload(deps.config, req, async (checked, upload) => {
    const accepted = await acceptUpload(deps, req, checked, upload, "stage");
    const row: StagedRow = {
      name: req.name,
      version: req.version,
      namespace: accepted.namespace,
      tag: req.tag,
      publisherKeyid: accepted.publisher.keyid,
      statementSha256: await statementSha256(accepted.publisher.envelope.payload),
      envelope: JSON.stringify(accepted.publisher.envelope.envelope),
      ...accepted.artifact,
      manifest: accepted.contents.manifest,
      readme: accepted.contents.readme,
      stagedAt: deps.now().toISOString(),
    };
    const outcome = await deps.staging.stage(row, accepted.context.readAt);
    if (outcome === "exists") throw versionStaged(req.name, req.version);
    if (outcome === "published") throw new ApiError(409, "version_exists", `${req.name}@${req.version} was published concurrently; versions are immutable`);
    if (outcome === "blob_collected") throw storageUnavailable("these bytes were being garbage-collected while they were uploaded", "retry the same upload in 5 minutes");
    return row;
  });
}

export const versionStaged = (name: string, version: string) =>
  new ApiError(409, "version_staged", `${name}@${version} is already staged and awaits approval (countersign approve ${name}@${version}); stage a new version instead`);

async function withUpload<T>(config: Config, req: PublishRequest, run: (checked: CheckedRequest, upload: Upload) => Promise<T>): Promise<T> {
  const checked = checkRequest(config, req);
  const upload = openUpload(checked.body);
  try {
    return await run(checked, upload);
  } catch (err) {
    // Refused before the body was read to its end: release it rather than leave it half-read.
    await upload.cancel();
    throw err;
  }
}

/** The request after the checks that need no I/O. */
interface CheckedRequest {
  namespace: string;
  token: string;
  body: ReadableStream<Uint8Array>;
}

function checkRequest(config: Config, req: PublishRequest): CheckedRequest {
  const name = checkPackageName(req.name);
  if (!name.ok) throw badRequest("invalid_name", name.reason);
  const version = checkVersion(req.version);
  if (!version.ok) throw badRequest("invalid_version", version.reason);
  checkTag(req.tag);
  if (!req.token) throw new ApiError(401, "unauthorized", "a publish token is required: send Authorization: Bearer <token>");
  if (req.contentLength !== null && req.contentLength > config.maxArtifactBytes + MAX_STATEMENT_BYTES + UPLOAD_OVERHEAD_BYTES) {
    throw tooLarge(config.maxArtifactBytes);
  }
  if (!req.body) throw badRequest("malformed_upload", "upload: the request has no body");
  return { namespace: name.namespace, token: req.token, body: req.body };
}

/** The stored artifact's facts, as a version row records them. */
export interface ArtifactFacts {
  size: number;
  sha256: string;
  sha512: string;
  sha1: string;
}

/** What an npm tarball contributes to its version row (JSON manifest), nulls for other artifacts. */
export interface StoredContents {
  manifest: string | null;
  readme: string | null;
}

/** An upload that passed every check, its bytes in R2: ready to countersign, or to stage. */
interface AcceptedUpload {
  name: string;
  version: string;
  namespace: string;
  tag: string;
  publisher: OpenedStatement<PublishStatement>;
  artifact: ArtifactFacts;
  contents: StoredContents;
  context: Pick<PublishContext, "taggedVersion" | "lastSequence" | "readAt">;
}

async function acceptUpload(deps: PublishDeps, req: PublishRequest, checked: CheckedRequest, upload: Upload, mode: "publish" | "stage"): Promise<AcceptedUpload> {
  const { meta, blobs, config } = deps;
  const { namespace } = checked;

  // The publisher's statement, before any artifact byte is accepted.
  const envelopeBytes = await upload.statement();
  let envelopeJson: unknown;
  try {
    envelopeJson = JSON.parse(fromUtf8(envelopeBytes));
  } catch {
    throw publisherError(400, "malformed_statement", "publisher envelope is not UTF-8 JSON");
  }
  // The signature is checked here but reported after the checks below it in the header (token,
  // enrolment, 409), so it is read from the problem until then: never acted on before.
  const opened = await openStatement(envelopeJson, PUBLISH_STATEMENT);
  let claimed: OpenedStatement<PublishStatement>;
  if (opened.ok) claimed = opened.value;
  else if (opened.error.code === "bad_signature") claimed = opened.error.unverified;
  else throw publisherError(400, "malformed_statement", describePublisherProblem(opened.error));
  const { statement, keyid } = claimed;
  const predicate = statement.predicate;
  if (predicate.name !== req.name || predicate.version !== req.version) {
    throw badRequest("statement_mismatch", `publisher statement is for ${predicate.name}@${predicate.version}, but the request publishes ${req.name}@${req.version}`);
  }
  if (predicate.artifact.size > config.maxArtifactBytes) throw tooLarge(config.maxArtifactBytes);

  // One round trip for everything the decision needs (two queries, side by side).
  const [ctx, staging] = await Promise.all([
    meta.publishContext({
      name: req.name,
      version: req.version,
      namespace,
      keyid,
      tokenHash: await hashToken(checked.token),
      tag: req.tag,
    }),
    deps.staging.context({ namespace, name: req.name, version: req.version, now: deps.now() }),
  ]);
  if (!ctx.token || ctx.token.revokedAt) throw new ApiError(401, "unauthorized", "token is not valid or has been revoked");
  checkPublishScope(ctx.token, namespace);
  if (!ctx.namespaceExists) throw new ApiError(404, "unknown_namespace", `this registry is not authoritative for ${namespace}`);
  if (!ctx.key || ctx.key.publicKey !== predicate.publisher.publicKey) {
    throw publisherError(403, "publisher_not_enrolled", `publisher key ${keyid} is not enrolled in ${namespace}`, { namespace, actual: keyid });
  }
  if (ctx.key.revokedAt) throw publisherError(403, "publisher_key_revoked", `publisher key ${keyid} was revoked in ${namespace} at ${ctx.key.revokedAt}`, { namespace, actual: keyid });
  if (ctx.versionExists) throw new ApiError(409, "version_exists", `${req.name}@${req.version} already exists; versions are immutable, publish a new version`);
  // A staged version is settled by its approval, not replaced by another upload.
  if (staging.staged) throw versionStaged(req.name, req.version);
  if (!opened.ok) throw publisherError(403, "bad_publisher_signature", `publisher signature by ${keyid} does not verify`, { namespace, actual: keyid });
  if (mode === "publish" && staging.approvalRequired) throw approvalRequired(namespace);
  const publisher = opened.value;

  // The bytes: streamed to R2 under the signed digest while hashed natively.
  const subject = statement.subject[0].digest;
  const artifact = await upload.artifact();
  if (artifact.size > config.maxArtifactBytes) {
    await artifact.body.cancel();
    throw tooLarge(config.maxArtifactBytes);
  }
  if (artifact.size !== predicate.artifact.size) {
    await artifact.body.cancel();
    throw new ApiError(400, "digest_mismatch", `artifact is ${artifact.size} bytes, the signed statement says ${predicate.artifact.size}`, {
      layer: "integrity",
      expected: String(predicate.artifact.size),
      actual: String(artifact.size),
    });
  }
  const fed = await fanOut<[void, StreamDigests, PackageRead]>(artifact.body, [
    (stream) => blobs.put(subject.sha512, stream, artifact.size),
    digestStream,
    (stream) => readPackage(stream, sha256Stream),
  ]);
  // A failure stops every consumer; the first one says why. The upload's own (truncated or
  // malformed) is the client's; then bytes that are not the signed ones, whatever R2 said about
  // them; then a broken hasher or inspector (ours: a 500); then R2's.
  if (fed.failure?.from === "source") throw badRequest("malformed_upload", "upload: truncated inside the artifact");
  const [stored, hashed, inspected] = fed.results;
  if (hashed.status === "fulfilled" && (hashed.value.sha512 !== subject.sha512 || hashed.value.sha256 !== subject.sha256)) {
    const digests = hashed.value;
    const algorithm = digests.sha512 !== subject.sha512 ? "sha512" : "sha256";
    throw new ApiError(400, "digest_mismatch", `uploaded bytes do not match the ${algorithm} digest the publisher signed`, {
      layer: "integrity",
      expected: `${algorithm}:${subject[algorithm]}`,
      actual: `${algorithm}:${digests[algorithm]}`,
    });
  }
  if (fed.failure?.from === "consumer" && fed.failure.index !== 0) throw fed.failure.reason;
  if (stored.status === "rejected") throw storageUnavailable("artifact storage failed");
  if (hashed.status === "rejected") throw hashed.reason;
  const digests = hashed.value;
  await upload.end();
  const contents = npmContents(inspected, req);
  checkSignedFiles(predicate.attributes.files, contents?.files);
  return {
    name: req.name,
    version: req.version,
    namespace,
    tag: req.tag,
    publisher,
    artifact: { size: artifact.size, sha256: digests.sha256, sha512: digests.sha512, sha1: digests.sha1 },
    contents: { manifest: contents && JSON.stringify(contents.manifest), readme: contents?.readme ?? null },
    context: ctx,
  };
}

export function approvalRequired(namespace: string): ApiError {
  return publisherError(
    403,
    "approval_required",
    `${namespace} requires a second key's approval for every version: stage it (countersign publish <dir> --stage) and have another key enrolled in ${namespace} approve it (countersign approve <name>@<version> --key <second key>)`,
    { namespace },
  );
}

/** An accepted publish statement (and its approval, if it was staged), the bytes stored: what the registry countersigns. */
export interface Countersignable {
  name: string;
  version: string;
  namespace: string;
  tag: string;
  publisher: OpenedStatement<PublishStatement>;
  /** The second key's approval, checked by the caller (approve.ts), or null for a direct publish. */
  approval: OpenedStatement<ApprovalStatement> | null;
  artifact: ArtifactFacts;
  contents: StoredContents;
  context: Pick<PublishContext, "taggedVersion" | "lastSequence" | "readAt">;
  /** This registry's origin, bound into the countersignature. */
  origin: string;
}

/**
 * The commit half, shared by a direct publish and an approval: the npm signature, the
 * countersignature with the next sequence number (binding the approval, if any), the commit that
 * takes the number only if it is still the next one, and the log.
 */
export async function countersignAndCommit(deps: PublishDeps, c: Countersignable, npmSigner: NpmSigner | null): Promise<Published> {
  const { meta } = deps;
  let { signer } = deps;
  const { publisher, approval, artifact } = c;
  // npm's registry signature over `<name>@<version>:<integrity>` (docs/PROTOCOL.md §11), made
  // before the commit so that it is written with the row, in the same statement.
  const npmSignature = c.contents.manifest !== null && npmSigner ? JSON.stringify(await npmSigner.sign(c.name, c.version, sriFromHex("sha512", artifact.sha512))) : null;

  // Countersign with the next sequence number and commit; the commit takes the number only if it
  // is still the next one (storage/d1.ts), else sign again with the new next one.
  const tag = tagUpdate(c.tag, c.version, c.context.taggedVersion);
  let sequence = c.context.lastSequence + 1;
  for (let attempt = 1; ; attempt++) {
    const now = deps.now();
    const countersignature = await countersign(publisher.envelope, publisher.statement, signer, { origin: c.origin, publishedAt: now, sequence, approval: approval?.envelope });
    const bundle: Bundle = { mediaType: BUNDLE_MEDIA_TYPE, publisher: publisher.envelope.envelope, countersignature, ...(approval ? { approval: approval.envelope.envelope } : {}) };
    const row: VersionRow = {
      name: c.name,
      version: c.version,
      namespace: c.namespace,
      sequence,
      ...artifact,
      publisherKeyid: publisher.keyid,
      bundle: JSON.stringify(bundle),
      manifest: c.contents.manifest,
      publishedAt: now.toISOString(),
      deprecated: null,
      npmSignature,
      readme: c.contents.readme,
    };
    const outcome = await meta.commitVersion(row, tag, c.context.readAt);
    if (outcome === "committed") {
      // The package's new serial goes into the log with the version: one round covers both.
      await recordChange({ meta, signer, origin: c.origin, now: deps.now() }, [c.name]);
      const logged = await logVersion(deps.log, sequence);
      return { bundle: logged ? { ...bundle, tlogProof: logged.tlogProof } : bundle, row, logged };
    }
    if (outcome === "exists") throw new ApiError(409, "version_exists", `${c.name}@${c.version} was published concurrently; versions are immutable`);
    if (outcome === "blob_collected") throw storageUnavailable("these bytes were being garbage-collected while they were uploaded", "retry the same upload in 5 minutes");
    if (attempt === MAX_COMMIT_ATTEMPTS) throw storageUnavailable("too many publishes at once");
    if (outcome === "key_retired") {
      // The registry rotated its key since this isolate read it: sign again with the successor.
      if (!deps.freshSigner) throw storageUnavailable("the registry's key was rotated during the publish");
      signer = await deps.freshSigner();
    }
    sequence = (await meta.lastSequence()) + 1;
  }
}

/** The committed version's tlog-proof; null (logged for the operator) if the sequencer failed. */
async function logVersion(log: LogHandle, sequence: number): Promise<Logged | null> {
  try {
    return await log.logged(sequence);
  } catch (err) {
    console.error(`log: publication ${sequence} is committed but not yet in a checkpoint: ${err instanceof Error ? err.message : String(err)}`);
    return null;
  }
}

type PackageRead = Awaited<ReturnType<typeof readPackage>>;

/**
 * The package.json and files of an npm tarball (whose name and version must be the published
 * ones), null for any other artifact. An npm tarball that breaks core/package.ts's rules is refused.
 */
function npmContents(inspected: PromiseSettledResult<PackageRead>, req: PublishRequest): { manifest: Record<string, unknown>; files: FileEntry[]; readme: string | null } | null {
  if (inspected.status === "rejected") throw inspected.reason;
  const result = inspected.value;
  if ("notPackage" in result) return null;
  if (!result.ok) throw badRequest("malformed_package", `npm package: ${result.error}`);
  const { manifest, files, readme } = result.value;
  if (manifest.name !== req.name || manifest.version !== req.version) {
    throw badRequest("manifest_mismatch", `package.json says ${String(manifest.name).slice(0, 100)}@${String(manifest.version).slice(0, 50)}, but this publishes ${req.name}@${req.version}`);
  }
  return { manifest, files: fileEntries(files), readme: readme?.text ?? null };
}

/** Signed per-file digests must be exactly the tarball's, recomputed here. */
function checkSignedFiles(signed: FileEntry[] | undefined, actual: FileEntry[] | undefined): void {
  if (!signed) return;
  const difference = actual ? diffFiles(signed, actual) : "the artifact is not an npm package";
  if (difference) throw new ApiError(400, "files_mismatch", `signed per-file digests do not match the tarball: ${difference}`, { layer: "integrity" });
}

/** `latest` only moves forward in semver order; any other tag moves to the new version. */
function tagUpdate(tag: string, version: string, current: string | null): TagUpdate | null {
  if (current === null) return { tag, from: null };
  if (tag === "latest" && !semverGt(version, current)) return null;
  return { tag, from: current };
}
