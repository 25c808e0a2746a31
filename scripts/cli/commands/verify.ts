/**
 * @module
 * `verify`: the resolver-side enforcement over a whole project. Every locked package whose
 * namespace is pinned must carry a countersignature by a pinned key that binds its name,
 * version, namespace and the exact bytes the lockfile's integrity names; names no pin covers
 * follow the pins' `@*` / `*` rules (reject by default). Fail-closed: any failure exits 1.
 *
 * Provenance comes from the pinned registry (batched), and, for packages it does not vouch for,
 * from the registry the package was installed from (the lockfile's `resolved` URL, else npm's
 * configured registry for the scope): a URL only says where to look, the keys decide.
 */

import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import {
  checkPackageName,
  describeFailure,
  hexFromSri,
  parsePins,
  PINS_FILE,
  resolvePin,
  verifyBundle,
  type Pins,
  type Verified,
  type VerifyFailure,
} from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, type Command, type Values } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { registryBase } from "../http.js";
import { readLockfiles, type LockedPackage } from "../lockfiles.js";
import { fetchBundles } from "../provenance.js";

export type PackageStatus = "verified" | "unverified" | "failed";

export interface PackageReport {
  name: string;
  version: string;
  namespace: string;
  status: PackageStatus;
  lockfile: string;
  /** The pinned registry (pins name) that vouches for it. */
  registry?: string;
  verified?: Verified;
  failure?: VerifyFailure;
  /** For unverified packages: the rule that allowed them. */
  rule?: string;
}

export interface ProjectReport {
  ok: boolean;
  pins: string;
  lockfiles: string[];
  summary: { total: number; verified: number; unverified: number; failed: number };
  packages: PackageReport[];
}

export function loadPins(path: string): Pins {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new CliError(`no pins file at ${path}: create one with \`countersign pin <registry-url> --name <name> --namespace @scope\``, EXIT.usage);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new CliError(`${path} is not valid JSON`, EXIT.usage);
  }
  const pins = parsePins(json);
  if (!pins.ok) throw new CliError(`${path}: ${pins.error}`, EXIT.usage);
  return pins.value;
}

/** The registry base of a tarball URL, `https://host/path/@s/n/-/n-1.0.0.tgz` → `https://host/path`. */
export function registryOfTarball(resolved: string | undefined, name: string): string | undefined {
  if (!resolved || !/^https?:\/\//.test(resolved)) return undefined;
  for (const marker of [`/${name}/-/`, `/${name.replace("/", "%2f")}/-/`, `/${name.replace("/", "%2F")}/-/`]) {
    const at = resolved.indexOf(marker);
    if (at > 0) return resolved.slice(0, at);
  }
  return undefined;
}

/** npm's configured registry per scope, read once from the project's npm config. */
function npmRegistries(dir: string): (name: string) => string | undefined {
  let config: Record<string, unknown> | undefined;
  return (name) => {
    if (!config) {
      const result = spawnSync("npm", ["config", "list", "--json"], { cwd: dir, encoding: "utf8", timeout: 30_000 });
      try {
        config = result.status === 0 ? (JSON.parse(result.stdout) as Record<string, unknown>) : {};
      } catch {
        config = {};
      }
    }
    const scope = name.startsWith("@") ? name.slice(0, name.indexOf("/")) : undefined;
    const value = (scope && config[`${scope}:registry`]) || config.registry;
    return typeof value === "string" ? value.replace(/\/+$/, "") : undefined;
  };
}

const failed = (pkg: LockedPackage, namespace: string, layer: VerifyFailure["layer"], code: VerifyFailure["code"], message: string, extra: Partial<VerifyFailure> = {}): PackageReport => ({
  name: pkg.name,
  version: pkg.version,
  namespace,
  status: "failed",
  lockfile: pkg.lockfile,
  failure: { layer, code, message, name: pkg.name, version: pkg.version, namespace, ...extra },
});

export async function verifyProject(options: { dir: string; pinsPath: string; lockfiles: string[]; token?: string | undefined }): Promise<ProjectReport> {
  const pins = loadPins(options.pinsPath);
  const locked = readLockfiles(options.dir, options.lockfiles);
  const seen = new Set<string>();
  const packages = locked.filter((p) => {
    const key = `${p.name}@${p.version} ${p.integrity ?? ""}`;
    return seen.has(key) ? false : (seen.add(key), true);
  });

  const reports: (PackageReport | undefined)[] = [];
  const pending: { index: number; pkg: LockedPackage; sha512: string; registry: string; url: string; fingerprints: string[] }[] = [];
  packages.forEach((pkg, index) => {
    const check = checkPackageName(pkg.name);
    const { namespace, rule, matched } = resolvePin(pins, pkg.name);
    if (rule.kind === "allow") {
      reports[index] = { name: pkg.name, version: pkg.version, namespace, status: "unverified", lockfile: pkg.lockfile, rule: matched ?? "" };
    } else if (rule.kind === "reject") {
      const why = matched ? `rule "${matched}": "reject"` : "no rule covers it";
      reports[index] = failed(pkg, namespace, "binding", "unpinned_namespace", `${namespace} is not pinned (${why})`);
    } else if (!check.ok) {
      reports[index] = failed(pkg, namespace, "binding", "invalid_request", check.reason);
    } else if (pkg.resolved && !/^https?:\/\//.test(pkg.resolved)) {
      reports[index] = failed(pkg, namespace, "binding", "not_countersigned", `not installed from a registry (resolved: ${pkg.resolved.slice(0, 80)})`);
    } else {
      const sha512 = pkg.integrity ? hexFromSri(pkg.integrity, "sha512") : undefined;
      if (!sha512) reports[index] = failed(pkg, namespace, "integrity", "digest_mismatch", `the lockfile records no sha512 integrity for it (found: ${pkg.integrity ?? "none"})`);
      else pending.push({ index, pkg, sha512, registry: rule.registry, url: registryBase(rule.url), fingerprints: rule.fingerprints });
    }
  });

  // 1. Ask each pinned registry, in batches.
  const spec = (p: LockedPackage) => `${p.name}@${p.version}`;
  const byPinned = groupBy(pending, (p) => p.url);
  const fromPinned = new Map<string, Map<string, unknown>>();
  await Promise.all(
    [...byPinned].map(async ([url, items]) => {
      fromPinned.set(url, (await fetchBundles({ url, token: options.token }, items.map((i) => spec(i.pkg)))).bundles);
    }),
  );
  const attempt = async (item: (typeof pending)[number], bundle: unknown) =>
    verifyBundle({ name: item.pkg.name, version: item.pkg.version, artifact: { sha512: item.sha512 }, bundle, pinned: item.fingerprints });

  const retry: { item: (typeof pending)[number]; origin: string; first?: VerifyFailure }[] = [];
  const npmRegistryFor = npmRegistries(options.dir);
  await Promise.all(
    pending.map(async (item) => {
      const bundle = fromPinned.get(item.url)!.get(spec(item.pkg));
      const result = bundle ? await attempt(item, bundle) : undefined;
      if (result?.ok) {
        reports[item.index] = { name: item.pkg.name, version: item.pkg.version, namespace: result.value.namespace, status: "verified", lockfile: item.pkg.lockfile, registry: item.registry, verified: result.value };
        return;
      }
      const origin = registryOfTarball(item.pkg.resolved, item.pkg.name) ?? npmRegistryFor(item.pkg.name);
      if (origin && origin !== item.url) retry.push({ item, origin, ...(result ? { first: result.error } : {}) });
      else settleFailure(item, result?.error);
    }),
  );

  // 2. Ask the registries the rest were installed from (no token is ever sent to those).
  await Promise.all(
    [...groupBy(retry, (r) => r.origin)].map(async ([origin, items]) => {
      const { bundles, supported } = await fetchBundles({ url: origin }, items.map((r) => spec(r.item.pkg))).catch(() => ({ bundles: new Map<string, unknown>(), supported: false }));
      await Promise.all(
        items.map(async ({ item, first }) => {
          const bundle = bundles.get(spec(item.pkg));
          const result = bundle ? await attempt(item, bundle) : undefined;
          if (result?.ok) {
            reports[item.index] = { name: item.pkg.name, version: item.pkg.version, namespace: result.value.namespace, status: "verified", lockfile: item.pkg.lockfile, registry: item.registry, verified: result.value };
          } else if (result) {
            reports[item.index] = { ...failed(item.pkg, result.error.namespace, result.error.layer, result.error.code, `${result.error.message} (installed from ${origin})`, result.error), registry: item.registry };
          } else {
            settleFailure(item, first, supported ? `nor at ${origin}, where it was installed from` : `and ${origin}, where it was installed from, serves no countersign provenance`);
          }
        }),
      );
    }),
  );

  function settleFailure(item: (typeof pending)[number], failure: VerifyFailure | undefined, elsewhere = ""): void {
    if (failure) {
      reports[item.index] = { ...failed(item.pkg, failure.namespace, failure.layer, failure.code, failure.message, failure), registry: item.registry };
      return;
    }
    const namespace = resolvePin(pins, item.pkg.name).namespace;
    reports[item.index] = {
      ...failed(item.pkg, namespace, "binding", "not_countersigned", `no registry pinned for ${namespace} countersigned ${spec(item.pkg)}: not at ${item.registry} (${item.url})${elsewhere ? ` ${elsewhere}` : ""}`, { expected: item.fingerprints.join(" "), actual: "none" }),
      registry: item.registry,
    };
  }

  const final = reports as PackageReport[];
  const count = (status: PackageStatus) => final.filter((r) => r.status === status).length;
  const summary = { total: final.length, verified: count("verified"), unverified: count("unverified"), failed: count("failed") };
  return { ok: summary.failed === 0, pins: options.pinsPath, lockfiles: [...new Set(locked.map((p) => p.lockfile))], summary, packages: final };
}

function groupBy<T>(items: T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const k = key(item);
    const list = groups.get(k);
    if (list) list.push(item);
    else groups.set(k, [item]);
  }
  return groups;
}

function humanReport(report: ProjectReport, verbose: boolean): string[] {
  const lines = [`verify: ${report.summary.total} packages from ${report.lockfiles.join(", ")} against ${report.pins}`];
  for (const p of report.packages) {
    if (p.status === "failed") lines.push(`  ✗ ${describeFailure(p.failure!)}`);
    else if (p.status === "unverified") lines.push(`  ~ ${p.name}@${p.version}: unverified, allowed by rule "${p.rule}"`);
    else if (verbose) lines.push(`  ✓ ${p.name}@${p.version}: countersigned by ${p.registry} (${p.verified!.registry.keyid}), publisher ${p.verified!.publisher.keyid}, sequence ${p.verified!.sequence}`);
  }
  const { verified, unverified, failed: bad } = report.summary;
  lines.push(`${report.ok ? "ok" : "FAILED"}: ${verified} verified, ${unverified} unverified (allowed), ${bad} failed`);
  return lines;
}

export const verify: Command = {
  name: "verify",
  summary: "verify every package in the project's lockfile against the pins (fail-closed)",
  usage: "countersign verify [--dir DIR] [--pins countersign.json] [--lockfile FILE]... [--verbose] [--json]\n  token for pinned registries with READ_ACCESS=token: $COUNTERSIGN_TOKEN",
  options: { dir: { type: "string" }, pins: { type: "string" }, lockfile: { type: "string", multiple: true }, verbose: { type: "boolean", short: "v" }, ...JSON_OPTION },
  async run(values: Values, positionals) {
    if (positionals.length) throw usageError(`usage: ${this.usage}`);
    const dir = resolve(str(values, "dir") ?? ".");
    const report = await verifyProject({
      dir,
      pinsPath: resolve(dir, str(values, "pins") ?? PINS_FILE),
      lockfiles: ((values.lockfile as string[] | undefined) ?? []).map((f) => resolve(dir, f)),
      token: process.env.COUNTERSIGN_TOKEN,
    });
    emit(values, humanReport(report, values.verbose === true), report);
    return report.ok ? EXIT.ok : EXIT.rejected;
  },
};
