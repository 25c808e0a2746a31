/**
 * @module
 * `add`: governed resolution. For a semver range, choose the highest version that passes both
 * verification against the pins and the pins' policy, say why newer ones were skipped, and write
 * it — exact version in package.json, exact integrity in package-lock.json (npm resolves it with
 * `--package-lock-only`, and the integrity it records must be the countersigned one, or nothing
 * is changed). Resolution itself is governed, not only checked afterwards.
 */

import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import semverPrerelease from "semver/functions/prerelease.js";
import semverRcompare from "semver/functions/rcompare.js";
import semverSatisfies from "semver/functions/satisfies.js";
import semverValidRange from "semver/ranges/valid.js";
import { checkPackageName, describeFailure, PINS_FILE, resolvePin } from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, type Command } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { registryBase } from "../http.js";
import { loadPins } from "../pins-file.js";
import { RegistryClient } from "../registry-client.js";
import { judge } from "../verification/judge.js";
import { lockedSha512 } from "../verification/plan.js";
import { readReceipt } from "../receipts.js";


function parseAddSpec(spec: string): { name: string; range: string } {
  const at = spec.lastIndexOf("@");
  const name = at > 0 ? spec.slice(0, at) : spec;
  const range = at > 0 ? spec.slice(at + 1) : "*";
  const check = checkPackageName(name);
  if (!check.ok) throw usageError(`${name}: ${check.reason}`);
  if (semverValidRange(range) === null) throw usageError(`"${range}" is not a semver range`);
  return { name, range };
}

export const add: Command = {
  name: "add",
  summary: "resolve name@range to the newest version that passes verification and policy, and write it for npm",
  usage: "countersign add <name>[@range] [--dev] [--approve-publisher SHA256:...] [--no-install] [--dir DIR] [--pins FILE] [--json]",
  options: { dev: { type: "boolean" }, "approve-publisher": { type: "string", multiple: true }, "no-install": { type: "boolean" }, dir: { type: "string" }, pins: { type: "string" }, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw usageError(`usage: ${this.usage}`);
    const { name, range } = parseAddSpec(positionals[0]!);
    const dir = resolve(str(values, "dir") ?? ".");
    const pins = loadPins(resolve(dir, str(values, "pins") ?? PINS_FILE));
    const { namespace, rule } = resolvePin(pins, name);
    if (rule.kind !== "registry") throw new CliError(`${namespace} is not pinned to a registry (rule: ${rule.kind}); add resolves only in pinned namespaces`, EXIT.rejected);
    const registry = registryBase(rule.url);

    const client = new RegistryClient(registry, process.env.COUNTERSIGN_TOKEN);
    const packument = await client.packument(name);
    if (!packument) throw new CliError(`${registry} has no package ${name}`, EXIT.rejected);
    const includePrerelease = semverPrerelease(range.replace(/^[^0-9]*/, "")) !== null;
    const candidates = Object.values(packument.versions ?? {})
      .flatMap((v) => (typeof v?.version === "string" && semverSatisfies(v.version, range, { includePrerelease }) ? [{ version: v.version, dist: v.dist }] : []))
      .sort((a, b) => semverRcompare(a.version, b.version));
    if (candidates.length === 0) throw new CliError(`no version of ${name} at ${registry} satisfies ${range}`, EXIT.rejected);

    // The publisher of what is locked now (or last verified) is the baseline for publisher continuity.
    const receipt = await readReceipt(dir, { pins });
    const previousPublisher = receipt?.packages.find((p) => p.name === name)?.publisher;
    const approvals = ((values["approve-publisher"] as string[] | undefined) ?? []).map((keyid) => ({ name, keyid }));

    const skipped: { version: string; reason: string }[] = [];
    let chosen: { version: string; integrity: string } | undefined;
    for (const candidate of candidates) {
      const integrity = typeof candidate.dist?.integrity === "string" ? candidate.dist.integrity : undefined;
      const locked = lockedSha512(integrity);
      if (!integrity || !locked.ok) {
        skipped.push({ version: candidate.version, reason: locked.ok ? "no integrity" : locked.reason.replace("the lockfile records", "the registry lists") });
        continue;
      }
      // The abbreviated packument only links each bundle: ask for it (batch API, or a mirror's full packument).
      const bundle = (await client.provenance([{ name, version: candidate.version }])).get(`${name}@${candidate.version}`);
      const verdict = await judge({ name, version: candidate.version, sha512: locked.sha512, bundle, fingerprints: rule.fingerprints, policy: pins.policy, previousPublisher, approvals });
      if (!verdict.ok) {
        skipped.push({ version: candidate.version, reason: verdict.error.layer === "policy" ? `policy: ${verdict.error.message}` : describeFailure(verdict.error) });
        continue;
      }
      chosen = { version: candidate.version, integrity };
      break;
    }
    const skippedLines = skipped.map((s) => `  skipped ${name}@${s.version}: ${s.reason}`);
    if (!chosen) throw new CliError(`no version of ${name}@${range} passes verification and policy:\n${skippedLines.join("\n")}`, EXIT.rejected, { skipped });

    const manifestPath = join(dir, "package.json");
    const lockPath = join(dir, "package-lock.json");
    const before = { manifest: readFileSync(manifestPath, "utf8"), lock: existsSync(lockPath) ? readFileSync(lockPath, "utf8") : undefined };
    const manifest = JSON.parse(before.manifest) as Record<string, Record<string, string> | undefined>;
    const field = values.dev ? "devDependencies" : manifest.devDependencies?.[name] !== undefined && !manifest.dependencies?.[name] ? "devDependencies" : "dependencies";
    manifest[field] = { ...manifest[field], [name]: chosen.version };
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);

    if (values["no-install"] !== true) {
      const restore = () => {
        writeFileSync(manifestPath, before.manifest);
        if (before.lock !== undefined) writeFileSync(lockPath, before.lock);
      };
      const npm = spawnSync("npm", ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"], { cwd: dir, encoding: "utf8", timeout: 300_000 });
      if (npm.status !== 0) {
        restore();
        throw new CliError(`npm could not lock ${name}@${chosen.version}: ${(npm.stderr || "").split("\n").find((l) => /error/i.test(l)) ?? `exit ${npm.status}`}`);
      }
      const lock = JSON.parse(readFileSync(lockPath, "utf8")) as { packages?: Record<string, { version?: string; integrity?: string }> };
      const locked = lock.packages?.[`node_modules/${name}`];
      if (locked?.version !== chosen.version || locked.integrity !== chosen.integrity) {
        restore();
        throw new CliError(
          `npm locked ${name}@${locked?.version ?? "?"} with integrity ${locked?.integrity ?? "none"}, but the countersigned ${chosen.version} has ${chosen.integrity}: is .npmrc routing ${namespace} to ${registry}? Nothing was changed.`,
          EXIT.rejected,
        );
      }
    }

    emit(
      values,
      [`added ${name}@${chosen.version} to ${field} (integrity ${chosen.integrity})${values["no-install"] ? "" : "; package-lock.json updated — run npm ci"}`, ...skippedLines],
      { name, version: chosen.version, integrity: chosen.integrity, field, skipped },
    );
    return EXIT.ok;
  },
};
