/** @module `verify`: every package in the project's lockfiles against the pins (project.ts). */

import { resolve } from "node:path";
import { describeFailure, PINS_FILE } from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, type Command, type Values } from "../command.js";
import { EXIT, usageError } from "../errors.js";
import { verifyProject, type ProjectReport } from "../project.js";

function humanReport(report: ProjectReport, verbose: boolean): string[] {
  const lines = [`verify: ${report.summary.total} packages from ${report.lockfiles.join(", ")} against ${report.pins}`];
  for (const p of report.packages) {
    if (p.status === "failed") lines.push(`  ✗ ${describeFailure(p.failure!)}`);
    else if (p.status === "unverified") lines.push(`  ~ ${p.name}@${p.version}: unverified, allowed by rule "${p.rule}"`);
    else if (verbose) lines.push(`  ✓ ${p.name}@${p.version}: countersigned by ${p.registry} (${p.verified!.registry.keyid}), publisher ${p.verified!.publisher.keyid}, sequence ${p.verified!.sequence}`);
  }
  const { verified, unverified, failed: bad } = report.summary;
  lines.push(`${report.ok ? "ok" : "FAILED"}: ${verified} verified, ${unverified} unverified (allowed), ${bad} failed`);
  if (report.receipt) lines.push(`receipt for the runtime hook: ${report.receipt}`);
  return lines;
}

export const verify: Command = {
  name: "verify",
  summary: "verify every package in the project's lockfile against the pins (fail-closed)",
  usage:
    "countersign verify [--dir DIR] [--pins countersign.json] [--lockfile FILE]... [--no-receipt] [--verbose] [--json]\n" +
    "  applies the pins' policy; on success writes countersign-receipt.json for the runtime hook\n  token for pinned registries with READ_ACCESS=token: $COUNTERSIGN_TOKEN",
  options: { dir: { type: "string" }, pins: { type: "string" }, lockfile: { type: "string", multiple: true }, "no-receipt": { type: "boolean" }, verbose: { type: "boolean", short: "v" }, ...JSON_OPTION },
  async run(values: Values, positionals) {
    if (positionals.length) throw usageError(`usage: ${this.usage}`);
    const dir = resolve(str(values, "dir") ?? ".");
    const report = await verifyProject({
      dir,
      pinsPath: resolve(dir, str(values, "pins") ?? PINS_FILE),
      lockfiles: ((values.lockfile as string[] | undefined) ?? []).map((f) => resolve(dir, f)),
      token: process.env.COUNTERSIGN_TOKEN,
      receipt: values["no-receipt"] !== true,
    });
    emit(values, humanReport(report, values.verbose === true), report);
    return report.ok ? EXIT.ok : EXIT.rejected;
  },
};
