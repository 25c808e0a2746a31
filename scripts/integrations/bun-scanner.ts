/**
 * @module
 * countersign as a Bun security scanner (`bunfig.toml`: `[install.security] scanner =
 * "countersign/bun-scanner"`, or a path to dist/bun-scanner.mjs). Bun resolves, downloads, then
 * hands the scanner every package it is about to install as `{ name, version, requestedRange,
 * tarball }` and aborts `bun install` on any `fatal` advisory, before anything is linked into
 * node_modules.
 *
 * Bun gives no integrity, so for every package of a pinned namespace the scanner downloads the
 * tarball from the very URL Bun gives and hashes it; that digest must be the one the pinned
 * registry countersigned for exactly that name and version (the same plan and verdict as
 * `countersign verify`), and, when bun.lock already records the version, the integrity recorded
 * there (which Bun checks its own download against) must name those same bytes. Packages a "reject" rule covers, aliases into a pinned namespace and
 * non-registry sources there are fatal; so is everything when countersign.json is missing or
 * invalid (fail closed). Unpinned, allowed packages get no advisory.
 */

import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { sriFromHex, type Pins } from "../../src/core/index.js";
import { limitOf, registryBase, request, streamBody, TRANSFER_TIMEOUT_MS } from "../cli/http.js";
import type { LockEntry, SourceKind } from "../cli/lockfiles/types.js";
import { readBunLockfile } from "../cli/lockfiles/bun.js";
import { lockedSha512, planEntry } from "../cli/verification/plan.js";
import { checkEntries, PinsRefusal, projectDir, projectPins } from "./check.js";

/** What Bun passes for each package (Bun.Security.Package). */
export interface BunPackage {
  name: string;
  version: string;
  requestedRange: string;
  /** The URL Bun downloads from, or a local path. */
  tarball: string;
}

/** What Bun accepts back (Bun.Security.Advisory). */
export interface BunAdvisory {
  level: "fatal" | "warn";
  package: string;
  url: string | null;
  description: string | null;
}

const WHERE = "bun's resolution";

/** The names the project's package.json installs an `npm:` alias under. */
function aliasesOf(dir: string): Map<string, string[]> {
  const aliases = new Map<string, string[]>();
  let manifest: Record<string, unknown>;
  try {
    manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as Record<string, unknown>;
  } catch {
    return aliases;
  }
  for (const field of ["dependencies", "devDependencies", "optionalDependencies"]) {
    const deps = manifest[field];
    if (typeof deps !== "object" || deps === null) continue;
    for (const [name, spec] of Object.entries(deps)) {
      if (typeof spec === "string" && spec.startsWith("npm:")) aliases.set(spec, [...(aliases.get(spec) ?? []), name]);
    }
  }
  return aliases;
}

/** How a package reaches the disk, from what was asked for and where Bun gets it. */
function kindOf(pkg: BunPackage): SourceKind {
  const range = pkg.requestedRange;
  if (range.startsWith("workspace:")) return "workspace";
  if (range.startsWith("link:")) return "link";
  if (/^(?:git\+|git:|github:|gitlab:|bitbucket:)/.test(range) || /\.git(?:#|$)/.test(range)) return "git";
  if (range.startsWith("file:") || /^(?:\.{1,2}\/|\/)/.test(range)) return /\.(?:tgz|tar\.gz|tar)$/i.test(range) ? "tarball" : "directory";
  if (/^https?:\/\//i.test(range)) return "tarball";
  if (!/^https?:\/\//i.test(pkg.tarball)) return /\.(?:tgz|tar\.gz|tar)$/i.test(pkg.tarball) ? "tarball" : "directory";
  return "registry";
}

function entryOf(pkg: BunPackage, aliases: Map<string, string[]>): LockEntry {
  const installedAs = pkg.requestedRange.startsWith("npm:") ? (aliases.get(pkg.requestedRange) ?? [pkg.name]) : [pkg.name];
  return {
    lockfile: WHERE,
    manager: "bun",
    location: `${pkg.name}@${pkg.requestedRange}`,
    installedAs,
    kind: kindOf(pkg),
    name: pkg.name,
    version: pkg.version,
    integrityOfTarball: false,
    resolved: pkg.tarball,
  };
}

/** The sha512 digests bun.lock records, by name@version (none when there is no readable bun.lock: Bun then resolves afresh). */
function lockedDigests(dir: string): Map<string, string[]> {
  const digests = new Map<string, string[]>();
  let entries: LockEntry[];
  try {
    entries = readBunLockfile(join(dir, "bun.lock"));
  } catch {
    return digests;
  }
  for (const entry of entries) {
    const locked = entry.kind === "registry" ? lockedSha512(entry.integrity) : undefined;
    if (locked?.ok) digests.set(`${entry.name}@${entry.version}`, [...(digests.get(`${entry.name}@${entry.version}`) ?? []), locked.sha512]);
  }
  return digests;
}

/** Tarballs hashed at once (a project can pin hundreds of packages). */
const IN_FLIGHT = 8;
let inFlight = 0;
const waiting: (() => void)[] = [];

async function hashTarball(url: string, pins: Pins): Promise<string> {
  if (inFlight >= IN_FLIGHT) await new Promise<void>((resolve) => waiting.push(resolve));
  inFlight++;
  try {
    return await hashOne(url, pins);
  } finally {
    inFlight--;
    waiting.shift()?.();
  }
}

async function hashOne(url: string, pins: Pins): Promise<string> {
  const pinned = Object.values(pins.registries).some((r) => url.startsWith(`${registryBase(r.url)}/`));
  const response = await request(url, { token: pinned ? process.env.COUNTERSIGN_TOKEN : undefined, timeoutMs: TRANSFER_TIMEOUT_MS });
  const hash = createHash("sha512");
  await streamBody(response, url, limitOf("tarball"), `the tarball ${url}`, (chunk) => hash.update(chunk));
  return hash.digest("hex");
}

const fatal = (name: string, description: string): BunAdvisory => ({ level: "fatal", package: name, url: null, description });

export async function scan({ packages }: { packages: BunPackage[] }): Promise<BunAdvisory[]> {
  if (packages.length === 0) return [];
  const dir = projectDir();
  let pins: Pins;
  try {
    pins = projectPins(dir);
  } catch (err) {
    if (!(err instanceof PinsRefusal)) throw err;
    return packages.map((p) => fatal(p.name, `countersign: ${err.message}`));
  }
  const aliases = aliasesOf(dir);
  const locked = lockedDigests(dir);
  const advisories: BunAdvisory[] = [];
  const entries: LockEntry[] = [];
  await Promise.all(
    packages.map(async (pkg) => {
      const entry = entryOf(pkg, aliases);
      const plan = planEntry(entry, pins);
      // Only packages that must be countersigned are downloaded again and hashed.
      if (plan.status !== "check" || entry.kind !== "registry") return void entries.push(entry);
      try {
        const sha512 = await hashTarball(pkg.tarball, pins);
        // What bun.lock already records for it is what Bun checks the download against: it must be these bytes too.
        const recorded = locked.get(`${pkg.name}@${pkg.version}`)?.find((digest) => digest !== sha512);
        if (recorded !== undefined) {
          advisories.push(fatal(pkg.name, `countersign: ${pkg.name}@${pkg.version}: integrity layer rejected [digest_mismatch]: bun.lock records other bytes (sha512 ${recorded.slice(0, 16)}…) than ${pkg.tarball} serves (sha512 ${sha512.slice(0, 16)}…)`));
          return;
        }
        entries.push({ ...entry, integrity: sriFromHex("sha512", sha512), integrityOfTarball: true });
      } catch (err) {
        advisories.push(fatal(pkg.name, `countersign: could not verify ${pkg.name}@${pkg.version}: ${(err as Error).message} (refused: a package of a pinned namespace is installed only once it verifies)`));
      }
    }),
  );
  const refusals = await checkEntries(dir, pins, entries);
  for (const refusal of refusals) advisories.push(fatal(refusal.name, `countersign: ${refusal.reason}`));
  return advisories;
}

/** The object Bun imports (`scanner`, Security Scanner API version "1"). */
export const scanner = {
  version: "1" as const,
  async scan(info: { packages: BunPackage[] }): Promise<BunAdvisory[]> {
    try {
      return await scan(info);
    } catch (err) {
      // A bug is not a pass: refuse everything, in one line.
      const message = `countersign: internal error while scanning (${(err as Error)?.message ?? String(err)}): refusing the install`;
      return info.packages.map((p) => fatal(p.name, message));
    }
  },
};
