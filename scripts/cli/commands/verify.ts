/** @module `verify`: every package in the project's lockfiles against the pins (verification/project.ts). */

import { join, resolve } from "node:path";
import { describeFailure, PINS_FILE, RECEIPT_FILE } from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, wrongArguments, type Command, type Values } from "../command.js";
import { EXIT } from "../errors.js";
import { createProgress } from "../progress.js";
import type { NamespaceReport, PackageReport, ProjectReport } from "../verification/project.js";
import { unchangedSinceReceipt } from "../verification/unchanged.js";

const aliasNote = (p: PackageReport) => (p.installedAs.some((n) => n !== p.name) ? ` (installed as ${p.installedAs.join(", ")})` : "");
const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** "12 verified, 1 failed": the non-zero counts of one namespace (or group of them). */
function counts(n: Pick<NamespaceReport, "verified" | "unverified" | "failed" | "unavailable" | "rule">): string {
  return [
    n.verified ? `${n.verified} verified` : "",
    n.unverified ? `${n.unverified} allowed (unverified)` : "",
    n.failed ? `${n.failed} ${n.rule === "reject" ? "rejected" : "failed"}` : "",
    n.unavailable ? `${n.unavailable} could not be checked` : "",
  ]
    .filter(Boolean)
    .join(", ");
}

const ruleNote = (n: NamespaceReport) =>
  n.rule === "reject" ? (n.matched === null ? " (no rule covers it)" : ` (rule "${n.matched}": "reject")`) : n.rule === "allow" && n.matched !== n.namespace ? ` (by rule "${n.matched}")` : "";

/**
 * One line per namespace: pinned namespaces, then scopes, then the unscoped names allowed
 * unverified folded into one line per deciding rule (a project has hundreds of them; each is
 * its own namespace). A rejected or pinned unscoped name keeps its own line.
 */
export function namespaceLines(namespaces: NamespaceReport[]): string[] {
  const lines: string[] = [];
  const folded = new Map<string, { names: number; n: Pick<NamespaceReport, "verified" | "unverified" | "failed" | "unavailable" | "rule"> }>();
  for (const n of namespaces) {
    if (!n.namespace.startsWith("@") && n.rule === "allow" && n.failed === 0) {
      const key = n.matched === n.namespace ? "by name" : `by rule "${n.matched}"`;
      const group = folded.get(key) ?? { names: 0, n: { verified: 0, unverified: 0, failed: 0, unavailable: 0, rule: "allow" } };
      group.names++;
      group.n.verified += n.verified;
      group.n.unverified += n.unverified;
      group.n.unavailable += n.unavailable;
      folded.set(key, group);
      continue;
    }
    lines.push(`  ${n.namespace}${n.rule === "registry" ? ` → ${n.registry}` : ""}: ${counts(n)}${ruleNote(n)}`);
  }
  for (const [key, group] of folded) lines.push(`  unscoped (${plural(group.names, "name")}, allowed ${key}): ${counts(group.n)}`);
  return lines;
}

function humanReport(report: ProjectReport, verbose: boolean): string[] {
  const lines = [`verify: ${report.summary.total} packages from ${report.lockfiles.join(", ")} against ${report.pins}`];
  for (const note of report.notes) lines.push(`  note: ${note}`);
  for (const warning of report.warnings) lines.push(`  warning: ${warning}`);
  lines.push(...namespaceLines(report.namespaces ?? []));
  for (const p of report.packages) {
    if (p.status === "failed") lines.push(`  ✗ ${describeFailure(p.failure!)}`);
    else if (p.status === "unavailable") lines.push(`  ? ${p.message}`);
    else if (p.status === "unverified" && verbose) lines.push(`  ~ ${p.name}@${p.version}${aliasNote(p)}: unverified ${p.kind === "registry" ? "" : `${p.kind} `}package, allowed by rule "${p.rule}"`);
    else if (p.status === "verified" && verbose) lines.push(`  ✓ ${p.name}@${p.version}: countersigned by ${p.registry} (${p.verified!.registry.keyid}), publisher ${p.verified!.publisher.keyid}${p.verified!.approval ? `, approved by ${p.verified!.approval.keyid}` : ""}, sequence ${p.verified!.sequence}${p.log ? `, in its transparency log (checkpoint of size ${p.log.checkpoint})` : ""}${p.metadata ? `, listed in its signed metadata (serial ${p.metadata.serial}, expires ${p.metadata.expires}${p.metadata.logIndex ? `, log entry ${p.metadata.logIndex}` : ""})` : ""}`);
  }
  const rejected = (report.namespaces ?? []).filter((n) => n.rule === "reject" && n.failed > 0).map((n) => n.namespace);
  if (rejected.length) lines.push(`  to depend on ${rejected.length === 1 ? "this namespace" : "these namespaces"} on purpose: countersign pin ${rejected.map((ns) => `--rule '${ns}=allow'`).join(" ")} (check the names first: a look-alike of a namespace you use is how this attack looks)`);
  const { verified, unverified, failed, unavailable } = report.summary;
  const verdict = report.ok ? "ok" : failed > 0 ? "FAILED" : "COULD NOT VERIFY";
  lines.push(`${verdict}: ${verified} verified, ${unverified} unverified (allowed), ${failed} failed${unavailable ? `, ${unavailable} could not be checked (registry unreachable)` : ""}`);
  if (report.receipt) lines.push(`receipt for the runtime hook: ${report.receipt}`);
  if (!verbose && (verified || unverified)) lines.push("(--verbose lists every package)");
  return lines;
}

export const verify: Command = {
  name: "verify",
  summary: "verify every package in the project's lockfiles against the pins (fail-closed)",
  usage:
    "countersign verify [--dir DIR] [--pins countersign.json] [--lockfile FILE]... [--no-receipt] [--no-cache] [--verbose] [--json]\n" +
    "  reads npm-shrinkwrap.json, package-lock.json, pnpm-lock.yaml, yarn.lock and bun.lock (every one present)\n" +
    "  applies the pins' policy; on success writes countersign-receipt.json for the runtime hook\n" +
    "  an unchanged project (same pins, lockfiles, package.json and client) is not re-verified; --no-cache forces it\n" +
    "  prints one line per namespace (unscoped names allowed unverified on one line) and every failure; --verbose lists every package\n" +
    "  every countersignature must be in its registry's transparency log, and the log consistent with the checkpoint\n" +
    "  this machine stored last (config directory, checkpoints/; COUNTERSIGN_LOG_STATE_DIR): a split view fails\n" +
    "  every package's signed metadata must list its version, be unexpired and not older than the serial this\n" +
    "  machine accepted before (metadata/ beside checkpoints/): a rollback, a freeze or a hidden version fails\n" +
    "  exit 0 verified, 1 rejected, 3 could not verify (a registry or its log unreachable)\n" +
    "  token for pinned registries with READ_ACCESS=token: $COUNTERSIGN_TOKEN",
  options: { dir: { type: "string" }, pins: { type: "string" }, lockfile: { type: "string", multiple: true }, "no-receipt": { type: "boolean" }, "no-cache": { type: "boolean" }, verbose: { type: "boolean", short: "v" }, ...JSON_OPTION },
  async run(values: Values, positionals) {
    if (positionals.length) throw wrongArguments(this, "no arguments", positionals);
    const dir = resolve(str(values, "dir") ?? ".");
    const pinsPath = resolve(dir, str(values, "pins") ?? PINS_FILE);
    const lockfiles = ((values.lockfile as string[] | undefined) ?? []).map((f) => resolve(dir, f));
    if (values["no-cache"] !== true) {
      const receipt = await unchangedSinceReceipt({ dir, pinsPath, lockfiles });
      if (receipt?.verdict) {
        const { summary } = receipt.verdict;
        const path = join(dir, RECEIPT_FILE);
        emit(
          values,
          [`verify: nothing changed since ${path} (${receipt.createdAt}): pins, lockfiles and package.json are byte for byte the ones verified then (--no-cache re-verifies)`, `ok: ${summary.verified} verified, ${summary.unverified} unverified (allowed), 0 failed`],
          { ok: true, exitCode: EXIT.ok, cached: true, receipt: path, verifiedAt: receipt.createdAt, summary: { ...summary, failed: 0, unavailable: 0 } },
        );
        return EXIT.ok;
      }
    }
    // The lockfile parsers are most of the client's code: loaded only when there is work to do.
    const { verifyProject } = await import("../verification/project.js");
    const progress = createProgress("verifying", { unit: "items", json: values.json === true });
    let report;
    try {
      report = await verifyProject({ dir, pinsPath, lockfiles, token: process.env.COUNTERSIGN_TOKEN, receipt: values["no-receipt"] !== true, onProgress: (done, total) => progress.update(done, total) });
    } finally {
      progress.done();
    }
    emit(values, humanReport(report, values.verbose === true), report);
    return report.exitCode;
  },
};
