/**
 * @module
 * `inspect`: show what a version's provenance says — publisher, registry, sequence, the second
 * key's approval (staged publishing), the signed attributes (AI provenance, per-file digests)
 * and the reviews attached to it — checking every
 * signature along the way. With `--fingerprint` the bundle is verified against the pin.
 */

import { readFileSync } from "node:fs";
import {
  fromBase64,
  fromUtf8,
  isPlainObject,
  openEnvelope,
  parseCountersignStatement,
  parsePublishStatement,
  verifyBundle,
  verifyReview,
  type AiAttribute,
} from "../../../src/core/index.js";
import { emit, JSON_OPTION, parseSpec, REGISTRY_OPTION, str, wrongArguments, type Command } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { encodeName, registryBase, requestJson } from "../http.js";

const component = (c: { name: string; version?: string | undefined; provider?: string | undefined }) => `${c.name}${c.version ? ` ${c.version}` : ""}${c.provider ? ` (${c.provider})` : ""}`;

function aiLines(ai: AiAttribute | undefined): string[] {
  if (!ai) return ["  AI          not disclosed"];
  return [
    `  AI          ${ai.contribution}`,
    ...(ai.tools.length ? [`              tools:   ${ai.tools.map(component).join("; ")}`] : []),
    ...(ai.models.length ? [`              models:  ${ai.models.map(component).join("; ")}`] : []),
    ...(ai.files?.length ? [`              files:   ${ai.files.slice(0, 10).join(", ")}${ai.files.length > 10 ? ` … (${ai.files.length})` : ""}`] : []),
    ...(ai.session ? [`              session: sha256:${ai.session.sha256}`] : []),
  ];
}

export const inspect: Command = {
  name: "inspect",
  summary: "show a version's provenance: publisher, registry, AI attributes, file digests, reviews",
  usage: "countersign inspect <name@version> [--registry URL] [--fingerprint SHA256:...] [--files] [--json]\ncountersign inspect <name@version> --bundle BUNDLE.json [--fingerprint SHA256:...]",
  options: { ...REGISTRY_OPTION, fingerprint: { type: "string" }, bundle: { type: "string" }, files: { type: "boolean" }, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw wrongArguments(this, "one <name@version>", positionals);
    const { name, version } = parseSpec(positionals[0]);
    const bundlePath = str(values, "bundle");
    let bundle: unknown;
    if (bundlePath) {
      try {
        bundle = JSON.parse(readFileSync(bundlePath, "utf8"));
      } catch {
        throw usageError(`${bundlePath} is not a readable JSON bundle`);
      }
    } else {
      const registry = registryBase(str(values, "registry") ?? process.env.COUNTERSIGN_REGISTRY);
      bundle = await requestJson<unknown>(`${registry}/-/countersign/v1/packages/${encodeName(name)}/${encodeURIComponent(version)}`);
    }
    const b = isPlainObject(bundle) ? bundle : {};
    const counter = openEnvelope(b.countersignature);
    const publisher = openEnvelope(b.publisher);
    if ("problem" in counter || "problem" in publisher) throw new CliError("the bundle is malformed", EXIT.rejected);
    const cs = await parseCountersignStatement(counter.payload);
    const ps = await parsePublishStatement(publisher.payload);
    if (!cs.ok || !ps.ok) throw new CliError(`the bundle is malformed: ${!cs.ok ? cs.error : !ps.ok ? ps.error : ""}`, EXIT.rejected);
    const c = cs.value.statement.predicate;
    const p = ps.value.statement.predicate;
    const digests = cs.value.statement.subject[0].digest;

    const pinned = str(values, "fingerprint");
    const verification = pinned ? await verifyBundle({ name, version, artifact: { sha512: digests.sha512 }, bundle, pinned: [pinned] }) : undefined;
    const reviews = await Promise.all(((Array.isArray(b.reviews) ? b.reviews : []) as unknown[]).map(async (r) => ({ review: r, result: await verifyReview(r, { name, version, digests }) })));
    const reviewOf = (r: unknown) => {
      try {
        return JSON.parse(fromUtf8(fromBase64((r as { payload: string }).payload)!)) as { predicate: { reviewer: { keyid: string }; verdict: string; reviewedAt: string; note?: string } };
      } catch {
        return undefined;
      }
    };
    const files = p.attributes.files ?? [];

    emit(
      values,
      [
        `${p.name}@${p.version}  (namespace ${p.namespace})`,
        `  publisher   ${p.publisher.keyid}, signed ${p.createdAt}`,
        `  registry    ${c.registry.keyid} (${c.registry.origin}), publication ${c.sequence}, ${c.publishedAt}`,
        `  approval    ${approvalLine(c.approval?.keyid, verification?.ok ? verification.value.approval : undefined)}`,
        `  status      ${verification ? (verification.ok ? "verified against the pinned fingerprint (bytes not downloaded)" : `REJECTED: ${verification.error.layer} layer: ${verification.error.message}`) : "signatures not checked against a pin (pass --fingerprint)"}`,
        `  artifact    sha512:${digests.sha512.slice(0, 32)}…, ${p.artifact.size} bytes, ${files.length ? `${files.length} files with signed digests` : "no per-file digests"}`,
        ...(values.files ? files.map((f) => `              ${"sha256" in f ? f.sha256.slice(0, 16) : "link".padEnd(16)}  ${f.path}${"link" in f ? ` -> ${f.link}` : ""}`) : []),
        ...aiLines(p.attributes.ai),
        ...(reviews.length
          ? reviews.map(({ review, result }, i) => {
              const r = reviewOf(review);
              const head = i === 0 ? "  reviews     " : "              ";
              return result.ok ? `${head}${result.value.keyid} ${result.value.verdict} ${result.value.reviewedAt}${result.value.note ? ` "${result.value.note}"` : ""} (signature and digests check)` : `${head}${r?.predicate.reviewer.keyid ?? "?"} INVALID: ${result.error}`;
            })
          : ["  reviews     none"]),
      ],
      {
        name: p.name,
        version: p.version,
        namespace: p.namespace,
        publisher: { keyid: p.publisher.keyid, createdAt: p.createdAt },
        registry: c.registry,
        sequence: c.sequence,
        publishedAt: c.publishedAt,
        digests,
        size: p.artifact.size,
        attributes: p.attributes,
        approval: c.approval ? { keyid: c.approval.keyid, ...(verification?.ok && verification.value.approval ? { approvedAt: verification.value.approval.approvedAt } : {}) } : null,
        verification: verification ?? null,
        reviews: reviews.map(({ result }) => (result.ok ? { valid: true, ...result.value } : { valid: false, reason: result.error })),
      },
    );
    return verification && !verification.ok ? EXIT.rejected : EXIT.ok;
  },
};

/** The second key's approval a countersignature binds (staged publishing, PROTOCOL §12.1). */
function approvalLine(bound: string | undefined, verified: { keyid: string; approvedAt: string } | null | undefined): string {
  if (!bound) return "none (published directly, not staged)";
  if (verified) return `${verified.keyid}, a second key of the namespace, approved ${verified.approvedAt} (checked)`;
  return `${bound}, bound by the countersignature`;
}
