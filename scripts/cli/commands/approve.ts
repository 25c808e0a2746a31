/**
 * @module
 * `approve`: a second key enrolled in the namespace approves a staged version (PROTOCOL §12.1).
 * The staged publisher statement is fetched and checked here (its signature, name, version and
 * the digests the registry reports), shown, and only then is the approval signed, over the
 * SHA-256 of exactly those statement bytes as computed here, never as the registry reports it.
 * With `--file`, the approver's own copy of the artifact must be the staged bytes. The registry
 * countersigns on the approval and answers with the bundle, which is verified before reporting.
 */

import {
  approvalTarget,
  createSigner,
  describeFailure,
  openStatement,
  PUBLISH_STATEMENT,
  signApproval,
  verifyBundle,
  type Bundle,
  type Envelope,
} from "../../../src/core/index.js";
import { emit, JSON_OPTION, parseSpec, REGISTRY_OPTION, str, wrongArguments, type Command } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { hashFile } from "../files.js";
import { encodeName, registryBase, requestJson } from "../http.js";
import { readKeyFile } from "../keyfile.js";

interface StagedVersion {
  name: string;
  version: string;
  namespace: string;
  tag: string;
  sha256: string;
  sha512: string;
  size: number;
  stagedAt: string;
  expiresAt?: string;
  envelope: unknown;
}

interface ApprovedResponse {
  name: string;
  version: string;
  sequence: number;
  integrity: string;
  approver: string;
  logPending?: boolean;
  bundle: Bundle & { tlogProof?: string };
}

export const approve: Command = {
  name: "approve",
  summary: "approve a staged version with a second key enrolled in its namespace; the registry then publishes it",
  usage:
    "countersign approve <name@version> --registry URL --key SECOND_KEY [--file TARBALL] [--fingerprint SHA256:...] [--json]\n" +
    "  --file: your own copy of the artifact, which must be the staged bytes\n" +
    "  token: $COUNTERSIGN_TOKEN (or --token), a publish token for the namespace",
  options: {
    ...REGISTRY_OPTION,
    key: { type: "string", short: "k" },
    token: { type: "string" },
    file: { type: "string" },
    fingerprint: { type: "string" },
    ...JSON_OPTION,
  },
  async run(values, positionals) {
    if (positionals.length !== 1) throw wrongArguments(this, "one <name@version>", positionals);
    const { name, version } = parseSpec(positionals[0]);
    const registry = registryBase(str(values, "registry") ?? process.env.COUNTERSIGN_REGISTRY);
    const token = str(values, "token") ?? process.env.COUNTERSIGN_TOKEN;
    if (!token) throw usageError("no publish token: set COUNTERSIGN_TOKEN (or pass --token)");
    const keyPath = str(values, "key");
    if (!keyPath) throw usageError("--key is required: a second key enrolled in the namespace, not the one that staged the version");
    const approver = await createSigner(await readKeyFile(keyPath));

    // What is staged, checked here: the publisher's signature, and that it is this name@version.
    const base = `${registry}/-/countersign/v1/staged/${encodeName(name)}/${encodeURIComponent(version)}`;
    const staged = await requestJson<StagedVersion>(base, { token });
    const opened = await openStatement(staged.envelope, PUBLISH_STATEMENT);
    if (!opened.ok) throw new CliError(`not approving: the staged publisher statement does not verify: ${opened.error.message}`, EXIT.rejected);
    const statement = opened.value.statement;
    const p = statement.predicate;
    const subject = statement.subject[0].digest;
    if (p.name !== name || p.version !== version) throw new CliError(`not approving: the registry staged a statement for ${p.name}@${p.version}, not ${name}@${version}`, EXIT.rejected);
    if (staged.sha512 !== subject.sha512 || staged.sha256 !== subject.sha256 || staged.size !== p.artifact.size) {
      throw new CliError("not approving: the registry reports other digests than the staged statement signs", EXIT.rejected);
    }
    const file = str(values, "file");
    if (file) {
      const local = await hashFile(file);
      if (local.sha512 !== subject.sha512 || local.size !== p.artifact.size) {
        throw new CliError(`not approving: ${file} is not the staged artifact (sha512 ${local.sha512.slice(0, 16)}…, staged ${subject.sha512.slice(0, 16)}…)`, EXIT.rejected);
      }
    }
    const target = await approvalTarget(opened.value);
    const shown = [
      `approving ${name}@${version} (${p.namespace}), staged ${staged.stagedAt}${staged.expiresAt ? ` (approvable until ${staged.expiresAt})` : ""} for dist-tag ${staged.tag}:`,
      `  publisher key:    ${opened.value.keyid}`,
      `  statement sha256: ${target.statementSha256}`,
      `  artifact:         ${p.artifact.size} bytes, sha512 ${subject.sha512}${file ? ` (= ${file})` : ""}`,
      `  signed at:        ${p.createdAt}`,
      ...(p.attributes.ai ? [`  AI provenance:    ${p.attributes.ai.contribution}`] : []),
      ...(p.attributes.files ? [`  file digests:     ${p.attributes.files.length} files signed`] : []),
      `  approver key:     ${approver.keyid}`,
    ];
    if (!values.json) process.stderr.write(`${shown.join("\n")}\n`);

    const approval: Envelope = await signApproval(target, approver);
    const response = await requestJson<ApprovedResponse>(`${base}/approval`, { method: "POST", token, headers: { "content-type": "application/json" }, body: JSON.stringify(approval) });

    // Check what came back: this statement, countersigned with this approval bound.
    const pinned = str(values, "fingerprint");
    const counterKeyid = response.bundle?.countersignature?.signatures?.[0]?.keyid;
    const check = await verifyBundle({ name, version, artifact: subject, bundle: response.bundle, pinned: [pinned ?? String(counterKeyid)] });
    if (!check.ok) throw new CliError(`approved, but the registry's answer does not verify: ${describeFailure(check.error)}`, EXIT.rejected, check.error);
    if (JSON.stringify(response.bundle.approval) !== JSON.stringify(approval) || check.value.approval?.keyid !== approver.keyid) {
      throw new CliError("approved, but the registry's bundle does not bind this approval", EXIT.rejected);
    }
    const v = check.value;
    emit(
      values,
      [
        `published ${name}@${version} (sequence ${v.sequence}), approved by ${approver.keyid}`,
        `integrity:        ${response.integrity}`,
        `publisher key:    ${v.publisher.keyid}`,
        `countersigned by: ${v.registry.keyid} (${v.registry.origin})${pinned ? " — matches --fingerprint" : ""}`,
        `transparency log: entry ${v.sequence}${response.logPending ? ", pending (the registry's next checkpoint covers it)" : ""}`,
      ],
      { name, version, sequence: v.sequence, integrity: response.integrity, publisher: v.publisher.keyid, approver: approver.keyid, registry: v.registry, statementSha256: target.statementSha256, bundle: response.bundle },
    );
    return 0;
  },
};
