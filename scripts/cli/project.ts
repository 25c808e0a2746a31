/**
 * @module
 * Project verification, the resolver-side enforcement behind `countersign verify`. Every locked package whose
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
import {
  checkPackageName,
  hexFromSri,
  parsePins,
  resolvePin,
  verifyBundle,
  evaluatePolicy,
  type Pins,
  type Verified,
  type VerifyFailure,
} from "../../src/core/index.js";
import { CliError, EXIT } from "./errors.js";
import { registryBase } from "./http.js";
import { readLockfiles, type LockedPackage } from "./lockfiles.js";
import { fetchBundles, fetchPackumentBundles } from "./provenance.js";
import { readReceipt, writeReceipt } from "./receipts.js";

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
  /** The receipt written for the runtime phase, when verification passed. */
  receipt?: string;
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

export interface VerifyOptions {
  dir: string;
  pinsPath: string;
  lockfiles: string[];
  token?: string | undefined;
  /** Write countersign-receipt.json when everything passes (default true). */
  receipt?: boolean;
}

export async function verifyProject(options: VerifyOptions): Promise<ProjectReport> {
  const pins = loadPins(options.pinsPath);
  const policy = pins.policy ?? { rules: [] };
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
  const unreachable = new Map<string, string>();
  await Promise.all(
    [...byPinned].map(async ([url, items]) => {
      // An unreachable pinned registry is not fatal: a mirror may serve the same signed bundles.
      const fetched = await fetchBundles({ url, token: options.token }, items.map((i) => spec(i.pkg))).catch((err: Error) => {
        unreachable.set(url, err.message);
        return { bundles: new Map<string, unknown>() };
      });
      fromPinned.set(url, fetched.bundles);
    }),
  );
  const attempt = async (item: (typeof pending)[number], bundle: unknown) =>
    verifyBundle({ name: item.pkg.name, version: item.pkg.version, artifact: { sha512: item.sha512 }, bundle, pinned: item.fingerprints });

  const retry: { item: (typeof pending)[number]; origin: string; first?: VerifyFailure }[] = [];
  const bundleOf = new Map<number, unknown>();
  const npmRegistryFor = npmRegistries(options.dir);
  await Promise.all(
    pending.map(async (item) => {
      const bundle = fromPinned.get(item.url)!.get(spec(item.pkg));
      const result = bundle ? await attempt(item, bundle) : undefined;
      if (result?.ok) bundleOf.set(item.index, bundle);
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
      let { bundles, supported } = await fetchBundles({ url: origin }, items.map((r) => spec(r.item.pkg))).catch(() => ({ bundles: new Map<string, unknown>(), supported: false }));
      if (!supported) {
        bundles = await fetchPackumentBundles(origin, items.map((r) => r.item.pkg));
        supported = bundles.size > 0;
      }
      await Promise.all(
        items.map(async ({ item, first }) => {
          const bundle = bundles.get(spec(item.pkg));
          const result = bundle ? await attempt(item, bundle) : undefined;
          if (result?.ok) bundleOf.set(item.index, bundle);
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
    const pinnedSaid = unreachable.has(item.url) ? `${item.registry} (${item.url}) could not be reached: ${unreachable.get(item.url)}` : `not at ${item.registry} (${item.url})`;
    reports[item.index] = {
      ...failed(item.pkg, namespace, "binding", "not_countersigned", `no registry pinned for ${namespace} countersigned ${spec(item.pkg)}: ${pinnedSaid}${elsewhere ? ` ${elsewhere}` : ""}`, { expected: item.fingerprints.join(" "), actual: "none" }),
      registry: item.registry,
    };
  }

  // 3. Governance: the consumer's rules over the signed attributes of what verified.
  const previous = await readReceipt(options.dir);
  const previousPublisher = new Map((previous?.packages ?? []).map((p) => [p.name, p.publisher]));
  await Promise.all(
    reports.map(async (report, index) => {
      if (report?.status !== "verified" || policy.rules.length === 0) return;
      const bundle = bundleOf.get(index) as { reviews?: unknown[] } | undefined;
      const violations = await evaluatePolicy(policy, {
        verified: report.verified!,
        reviews: Array.isArray(bundle?.reviews) ? bundle.reviews : [],
        ...(previousPublisher.has(report.name) ? { previousPublisher: previousPublisher.get(report.name)! } : {}),
      });
      if (violations.length === 0) return;
      const [first] = violations;
      reports[index] = {
        ...report,
        status: "failed",
        failure: {
          layer: "policy",
          code: "policy_rejected",
          rule: first!.rule,
          message: violations.map((v) => `rule ${v.index} (${v.rule}): ${v.reason}`).join("; "),
          name: report.name,
          version: report.version,
          namespace: report.namespace,
        },
      };
    }),
  );

  const final = reports as PackageReport[];
  const count = (status: PackageStatus) => final.filter((r) => r.status === status).length;
  const summary = { total: final.length, verified: count("verified"), unverified: count("unverified"), failed: count("failed") };
  const lockfiles = [...new Set(locked.map((p) => p.lockfile))];
  const report: ProjectReport = { ok: summary.failed === 0, pins: options.pinsPath, lockfiles, summary, packages: final };
  if (report.ok && options.receipt !== false) {
    const pinned = Object.entries(pins.namespaces).filter(([ns, target]) => ns !== "@*" && ns !== "*" && target in pins.registries).map(([ns]) => ns);
    const integrityOf = new Map(packages.map((p, i) => [i, p.integrity ?? ""]));
    report.receipt = await writeReceipt(
      options.dir,
      lockfiles,
      pinned,
      final.flatMap((r, i) =>
        r.status === "verified"
          ? [{ name: r.name, version: r.version, namespace: r.namespace, integrity: integrityOf.get(i)!, publisher: r.verified!.publisher.keyid, registry: r.verified!.registry.keyid, ...(r.verified!.attributes.files ? { files: r.verified!.attributes.files } : {}) }]
          : [],
      ),
    );
  }
  return report;
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
