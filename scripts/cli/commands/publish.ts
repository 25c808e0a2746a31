/**
 * @module
 * `publish`: sign an artifact with the publisher key and upload it; the registry verifies,
 * countersigns and answers with the provenance bundle, which is checked before reporting success.
 * With `--stage` the registry checks and stores the upload but holds it, uncountersigned and
 * invisible, until a second enrolled key approves it (`countersign approve`, PROTOCOL §12.1).
 */

import { createReadStream, statSync, writeFileSync } from "node:fs";
import { Readable } from "node:stream";
import { createTarPacker } from "modern-tar";
import {
  ARTIFACT_MEMBER,
  checkPackageName,
  checkVersion,
  countersignatureEntry,
  createSigner,
  describeFailure,
  fromBase64,
  logOrigin,
  logVerifier,
  signPublishStatement,
  statementSha256,
  STATEMENT_MEMBER,
  uploadLength,
  UPLOAD_MEDIA_TYPE,
  utf8,
  verifyBundle,
  verifyTlogProof,
  type Bundle,
} from "../../../src/core/index.js";
import { AI_OPTIONS, AI_USAGE, aiAttribute } from "../ai.js";
import { emit, JSON_OPTION, REGISTRY_OPTION, str, wrongArguments, type Command, type Values } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { artifactHasher, resolveArtifact, type FileDigests } from "../files.js";
import { encodeName, registryBase, requestJson, requestTimeoutMs, seconds, TRANSFER_TIMEOUT_MS as UPLOAD_TIMEOUT_MS } from "../http.js";
import { readKeyFile } from "../keyfile.js";
import { registryOfBundle } from "../log/check.js";
import { createProgress, type Progress } from "../progress.js";

interface PublishResponse {
  name: string;
  version: string;
  sequence: number;
  integrity: string;
  bundle: Bundle & { tlogProof?: string };
  /** The version's index in the registry's transparency log (= sequence). */
  logIndex?: number;
  tlogProof?: string;
  logPending?: boolean;
}

/** The registry's answer to a staged upload (202): held, not countersigned. */
interface StagedResponse {
  staged: true;
  name: string;
  version: string;
  namespace: string;
  tag: string;
  publisher: string;
  statementSha256: string;
  integrity: string;
  size: number;
  stagedAt: string;
  /** When approvals stop being accepted (a registry from before staged expiry omits it). */
  expiresAt?: string;
}

/** The upload body (core/upload.ts), streamed: the artifact is never held in memory. */
/** Aborts `signal` when `arm` is not called again within `ms`; the reason is the last message armed. */
function stallTimer(ms: number): { signal: AbortSignal; arm(reason: string): void; stop(): void } {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  return {
    signal: controller.signal,
    arm(reason) {
      clearTimeout(timer);
      timer = setTimeout(() => controller.abort(new Error(reason)), ms);
    },
    stop: () => clearTimeout(timer),
  };
}

function uploadBody(statement: Uint8Array, file: string, size: number, progress: Progress, stall: ReturnType<typeof stallTimer>): ReadableStream<Uint8Array> {
  const { readable, controller } = createTarPacker();
  const epoch = new Date(0);
  void (async () => {
    const writer = controller.add({ name: STATEMENT_MEMBER, size: statement.length, mode: 0o644, mtime: epoch }).getWriter();
    await writer.write(statement);
    await writer.close();
    const artifact = controller.add({ name: ARTIFACT_MEMBER, size, mode: 0o644, mtime: epoch });
    let sent = 0;
    const source = createReadStream(file).on("data", (chunk) => {
      sent += chunk.length;
      progress.add(chunk.length);
      stall.arm(`took no more of the upload for ${seconds(requestTimeoutMs())}, after ${sent} of ${size} bytes`);
    });
    await (Readable.toWeb(source) as ReadableStream<Uint8Array>).pipeTo(artifact);
    controller.finalize();
    stall.arm(`no answer within ${seconds(requestTimeoutMs())} of the end of the upload`);
  })().catch((err) => controller.error(err));
  return readable;
}

export const publish: Command = {
  name: "publish",
  summary: "sign an artifact (a file, an npm tarball, or a package directory) and publish it",
  usage: `countersign publish <file|dir> --registry URL [--key FILE] [--name N --version V] [--tag TAG] [--stage] [--fingerprint SHA256:...] [--bundle-out FILE] [--json]\n${AI_USAGE}\n  --stage: upload and hold until a second enrolled key approves it (countersign approve)\n  token: $COUNTERSIGN_TOKEN (or --token)`,
  options: {
    ...REGISTRY_OPTION,
    key: { type: "string", short: "k" },
    token: { type: "string" },
    name: { type: "string" },
    version: { type: "string" },
    tag: { type: "string" },
    stage: { type: "boolean" },
    fingerprint: { type: "string" },
    "bundle-out": { type: "string" },
    ...AI_OPTIONS,
    ...JSON_OPTION,
  },
  async run(values, positionals) {
    if (positionals.length !== 1) throw wrongArguments(this, "one <file|dir>", positionals);
    const registry = registryBase(str(values, "registry") ?? process.env.COUNTERSIGN_REGISTRY);
    const token = str(values, "token") ?? process.env.COUNTERSIGN_TOKEN;
    if (!token) throw usageError("no publish token: set COUNTERSIGN_TOKEN (or pass --token)");
    const pair = await readKeyFile(str(values, "key"));
    const artifact = await resolveArtifact(positionals[0]!, str(values, "name"), str(values, "version"));
    const { file, name, version } = artifact;
    const nameCheck = checkPackageName(name);
    if (!nameCheck.ok) throw usageError(`${name}: ${nameCheck.reason}`);
    const versionCheck = checkVersion(version);
    if (!versionCheck.ok) throw usageError(`${name}@${version}: ${versionCheck.reason}`);
    if (values.stage && str(values, "bundle-out")) throw usageError("--bundle-out needs a countersigned bundle; a staged version has none until it is approved");
    const ai = aiAttribute(values, artifact.dir);
    // A progress line on a terminal (stderr, not with --json): hashing, then uploading.
    const progress = createProgress("hashing", { unit: "bytes", total: statSync(file).size, json: values.json === true });
    try {
      return await signAndUpload(values, { ...artifact, ai }, registry, token, pair, progress);
    } finally {
      progress.done();
    }
  },
};

async function hashWithProgress(file: string, progress: Progress): Promise<FileDigests> {
  const hasher = artifactHasher();
  for await (const chunk of createReadStream(file)) {
    hasher.update(chunk as Buffer);
    progress.add((chunk as Buffer).length);
  }
  return hasher.digests();
}

async function signAndUpload(
  values: Values,
  artifact: Awaited<ReturnType<typeof resolveArtifact>> & { ai: ReturnType<typeof aiAttribute> },
  registry: string,
  token: string,
  pair: Awaited<ReturnType<typeof readKeyFile>>,
  progress: Progress,
): Promise<number> {
  const { file, name, version, ai } = artifact;
  const digests = await hashWithProgress(file, progress);
  const attributes = { ...(ai ? { ai } : {}), ...(artifact.files ? { files: artifact.files } : {}) };
  const envelope = await signPublishStatement({ name, version, digests, size: digests.size, publisher: await createSigner(pair), attributes });
  const statement = utf8(JSON.stringify(envelope));

  const tag = str(values, "tag");
  const stage = values.stage === true;
  const url = `${registry}/-/countersign/v1/${stage ? "staged" : "packages"}/${encodeName(name)}/${encodeURIComponent(version)}${tag ? `?tag=${encodeURIComponent(tag)}` : ""}`;
  progress.phase("uploading", digests.size);
  // The whole upload may take up to UPLOAD_TIMEOUT_MS, but a registry that stops taking bytes, or
  // does not answer once it has them all, fails after the request timeout (--timeout), not then.
  const stall = stallTimer(requestTimeoutMs());
  stall.arm(`no answer within ${seconds(requestTimeoutMs())}`);
  let answer: PublishResponse | StagedResponse;
  try {
    answer = await requestJson<PublishResponse | StagedResponse>(url, {
      method: "PUT",
      token,
      headers: { "content-type": UPLOAD_MEDIA_TYPE, "content-length": String(uploadLength(statement.length, digests.size)) },
      body: uploadBody(statement, file, digests.size, progress, stall),
      timeoutMs: UPLOAD_TIMEOUT_MS,
      signal: stall.signal,
    });
  } finally {
    stall.stop();
  }
  progress.done();
  if (stage) return reportStaged(values, answer as StagedResponse, { name, version, statementPayload: envelope.payload, size: digests.size, publisher: pair.keyid });
  const response = answer as PublishResponse;

  // Check what came back: our statement, countersigned for this name, version and these bytes.
  const counterKeyid = response.bundle?.countersignature?.signatures?.[0]?.keyid;
  const pinned = str(values, "fingerprint");
  const check = await verifyBundle({ name, version, artifact: digests, bundle: response.bundle, pinned: [pinned ?? String(counterKeyid)] });
  if (!check.ok) throw new CliError(`published, but the registry's answer does not verify: ${describeFailure(check.error)}`, EXIT.rejected, check.error);
  if (JSON.stringify(response.bundle.publisher) !== JSON.stringify(envelope)) throw new CliError("published, but the registry returned a different publisher statement", EXIT.rejected);
  const bundleOut = str(values, "bundle-out");
  if (bundleOut) writeFileSync(bundleOut, `${JSON.stringify(response.bundle, null, 2)}\n`);

  const v = check.value;
  const log = await loggedAt(response, v.sequence);
  emit(
    values,
    [
      `published ${name}@${version} (${digests.size} bytes, sequence ${v.sequence})`,
      `integrity:        ${response.integrity}`,
      `publisher key:    ${v.publisher.keyid}`,
      `countersigned by: ${v.registry.keyid} (${v.registry.origin})${pinned ? " — matches --fingerprint" : ""}`,
      ...(artifact.files ? [`file digests:     ${artifact.files.length} files signed`] : []),
      ...(ai ? [`AI provenance:    ${ai.contribution}${ai.models.length ? ` (${ai.models.map((m) => m.name).join(", ")})` : ""}`] : []),
      log ? `transparency log: entry ${v.sequence}, in the checkpoint of size ${log.size}` : `transparency log: entry ${v.sequence}, pending (the registry's next checkpoint covers it)`,
    ],
    { name, version, size: digests.size, integrity: response.integrity, sequence: v.sequence, publisher: v.publisher.keyid, registry: v.registry, log: log ? { index: v.sequence, checkpoint: log.size } : { index: v.sequence, pending: true }, bundle: response.bundle },
  );
  return 0;
}

/**
 * A staged upload's answer, checked against what was signed here: the registry holds exactly
 * this statement (by the SHA-256 of its bytes) for this name, version and key, and says so.
 */
async function reportStaged(values: Values, staged: StagedResponse, sent: { name: string; version: string; statementPayload: string; size: number; publisher: string }): Promise<number> {
  const payload = fromBase64(sent.statementPayload);
  const digest = payload && (await statementSha256(payload));
  if (staged?.staged !== true || staged.name !== sent.name || staged.version !== sent.version || staged.publisher !== sent.publisher || staged.statementSha256 !== digest) {
    throw new CliError("uploaded, but the registry's answer is not a staging of this statement", EXIT.rejected, { answer: staged });
  }
  emit(
    values,
    [
      `staged ${sent.name}@${sent.version} (${sent.size} bytes): held, not published, until a second key approves it`,
      `integrity:        ${staged.integrity}`,
      `publisher key:    ${staged.publisher}`,
      `statement sha256: ${staged.statementSha256}`,
      `approve with:     countersign approve ${sent.name}@${sent.version} --registry <registry> --key <a second key enrolled in ${staged.namespace}>`,
      ...(staged.expiresAt ? [`approve before:   ${staged.expiresAt} (then it expires unapproved)`] : []),
    ],
    { staged: true, name: sent.name, version: sent.version, namespace: staged.namespace, tag: staged.tag, size: sent.size, integrity: staged.integrity, publisher: staged.publisher, statementSha256: staged.statementSha256, stagedAt: staged.stagedAt, ...(staged.expiresAt ? { expiresAt: staged.expiresAt } : {}) },
  );
  return 0;
}

/**
 * The answer's tlog-proof, checked offline against the key that countersigned (PROTOCOL §18): the
 * checkpoint's size, or undefined when the registry says the proof is pending. A proof that does
 * not verify is refused: the registry answered with a log that is not its own.
 */
async function loggedAt(response: PublishResponse, sequence: number): Promise<{ size: number; cosignatures: number } | undefined> {
  const proof = response.bundle.tlogProof ?? response.tlogProof;
  if (proof === undefined && response.logPending) return undefined;
  const registry = registryOfBundle(response.bundle);
  const entry = countersignatureEntry(response.bundle.countersignature);
  const verifier = registry && (await logVerifier(registry.origin, registry.publicKey));
  if (typeof proof !== "string" || !entry.ok || !registry || !verifier?.ok) throw new CliError("published, but the registry's answer has no transparency-log proof and does not say it is pending", EXIT.rejected);
  const proved = await verifyTlogProof(proof, entry.value, { origin: logOrigin(registry.origin), verifier: verifier.value });
  if (!proved.ok) throw new CliError(`published, but the registry's log proof does not verify: ${proved.error}`, EXIT.rejected);
  if (proved.value.index !== sequence) throw new CliError(`published, but the registry's log proof is for entry ${proved.value.index}, not ${sequence}`, EXIT.rejected);
  return { size: proved.value.checkpoint.size, cosignatures: proved.value.cosignatures.length };
}
