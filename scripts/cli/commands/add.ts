/**
 * @module
 * `add`: governed resolution. For a semver range, choose the highest version that passes both
 * verification against the pins and the pins' policy, say why newer ones were skipped, and write
 * it — exact version in package.json, exact integrity in the lockfile of the package manager the
 * project uses (npm, pnpm, yarn 1, yarn 2+, bun: see `detectManager`). That manager locks it,
 * without running scripts, and the lockfile it wrote is read back with countersign's own readers:
 * the chosen version must be locked with exactly the countersigned bytes, or package.json and the
 * lockfile are put back as they were. Resolution itself is governed, not only checked afterwards.
 *
 * Which versions exist, and which one a dist-tag names, is decided by the registry's signed
 * package metadata (core/package-metadata.ts), not by the packument: candidates are the versions
 * it lists (with the packument's integrity equal to the listed sha512), `name@latest` /
 * `name@next` resolve through its signed `distTags`, and a packument whose dist-tags differ from
 * the signed ones is refused at layer metadata (a mirror or registry moving `latest` unsigned).
 * The statement must open under a pinned key, be unexpired and not older than what this machine
 * accepted before (log/metadata-store.ts, the floor `verify` keeps too).
 */

import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join, resolve } from "node:path";
import semverPrerelease from "semver/functions/prerelease.js";
import semverRcompare from "semver/functions/rcompare.js";
import semverSatisfies from "semver/functions/satisfies.js";
import semverValidRange from "semver/ranges/valid.js";
import { checkListed, checkPackageName, describeFailure, followRotations, openPackageMetadata, PINS_FILE, resolvePin, type MetadataProblem, type PackageMetadata, type PinRule, type Verified } from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, type Command } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { registryBase } from "../http.js";
import { bunBinaryLockfileError } from "../lockfiles/bun.js";
import { readLockfileOnly } from "../lockfiles/index.js";
import { configuredRegistry } from "../lockfiles/registries.js";
import type { LockEntry, Manager } from "../lockfiles/types.js";
import { loadPins } from "../pins-file.js";
import { metadataStore } from "../log/metadata-store.js";
import { packumentMetadata, RegistryClient, type Packument } from "../registry-client.js";
import { metadataFailure, metadataLogItem } from "../verification/metadata.js";
import type { LogItem } from "../log/check.js";
import { checkLogs, type ProvenanceOutcome } from "../verification/provenance.js";
import { judgeAgainstChain } from "../verification/registry-keys.js";
import { lockedSha512 } from "../verification/plan.js";
import { readReceipt } from "../receipts.js";

/** `name[@range]` or `name@tag` (a dist-tag: not a semver range, npm's tag syntax). */
function parseAddSpec(spec: string): { name: string; range: string; tag?: undefined } | { name: string; tag: string; range?: undefined } {
  const at = spec.lastIndexOf("@");
  const name = at > 0 ? spec.slice(0, at) : spec;
  const range = at > 0 ? spec.slice(at + 1) : "*";
  const check = checkPackageName(name);
  if (!check.ok) throw usageError(`${name}: ${check.reason}`);
  if (semverValidRange(range) !== null) return { name, range };
  if (/^[A-Za-z][\w.-]{0,255}$/.test(range)) return { name, tag: range };
  throw usageError(`"${range}" is neither a semver range nor a dist-tag`);
}

/** Where add's metadata refusals are reported: the package, what was asked for, its namespace. */
function refuseMetadata(problem: MetadataProblem, where: { name: string; version: string; namespace: string }, from: string): never {
  const failure = metadataFailure(problem, where, from);
  throw new CliError(describeFailure(failure), EXIT.rejected, { failure });
}

/**
 * The package's signed metadata as `registry` serves it, opened under the pinned keys and
 * checked against this machine's floor, and the packument's dist-tags checked against it.
 */
async function signedMetadata(client: RegistryClient, packument: Packument, where: { name: string; version: string; namespace: string }, fingerprints: readonly string[]): Promise<{ metadata: PackageMetadata; contentSha256: string; record: LogItem }> {
  // The statement in the very document whose dist-tags are checked (one read, one snapshot: a
  // registry's short-lived caches cannot make the two disagree); else the native route's.
  const served = packumentMetadata(packument) ?? (await client.packageMetadata(where.name));
  const envelope = served?.envelope;
  const now = new Date();
  // Learn which pinned key signed it, then open it again against that key's floor.
  const first = await openPackageMetadata(envelope, { name: where.name, pinned: fingerprints, now });
  if (!first.ok) refuseMetadata(first.error, where, client.base);
  const keyid = first.value.metadata.registry.keyid;
  const opened = await openPackageMetadata(envelope, { name: where.name, pinned: [keyid], now, seen: metadataStore().read(keyid, where.name) });
  if (!opened.ok) refuseMetadata(opened.error, where, client.base);
  const signedTags = opened.value.metadata.distTags;
  const raw = packument["dist-tags"];
  const servedTags = typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const moved = [...new Set([...Object.keys(signedTags), ...Object.keys(servedTags)])].sort().filter((tag) => servedTags[tag] !== signedTags[tag]);
  if (moved.length > 0) {
    const show = (tags: Record<string, unknown>) => moved.map((tag) => `${tag}=${typeof tags[tag] === "string" ? tags[tag] : "none"}`).join(" ");
    refuseMetadata(
      {
        code: "dist_tags_mismatch",
        message: `${client.base} serves dist-tags the registry did not sign (${moved.join(", ")}): a mirror or registry moving a tag without the signed metadata agreeing`,
        expected: show(signedTags),
        actual: show(servedTags),
      },
      where,
      client.base,
    );
  }
  // Its record must be in the log too (checked with the chosen version's bundle: logCheck).
  const record = metadataLogItem(opened.value, served?.log);
  if (!record.ok) refuseMetadata(record.error, where, client.base);
  return { ...opened.value, record: record.value };
}

/** The package managers `add` writes for, as `--manager` names them. */
const MANAGER_NAMES = ["npm", "pnpm", "yarn", "bun"] as const;

interface Target {
  manager: Manager;
  /** The lockfile it writes (it may not exist yet). */
  lockfile: string;
  /** How the manager was chosen, for messages. */
  why: string;
}

const LABEL: Record<Manager, string> = { npm: "npm", pnpm: "pnpm", "yarn-classic": "yarn 1", "yarn-berry": "yarn", bun: "bun" };

/** Where each manager is told which registry serves a scope. */
const CONFIG_FILE: Record<Manager, string> = { npm: ".npmrc", pnpm: ".npmrc", "yarn-classic": ".npmrc", "yarn-berry": ".yarnrc.yml (npmScopes)", bun: "bunfig.toml ([install.scopes])" };

/** How to let the team's own fresh versions through each manager's release-age gate. */
const AGE_GATE_HINT: Record<Manager, string> = {
  npm: "remove min-release-age for the team's scope",
  pnpm: "list the team's scope in pnpm-workspace.yaml minimumReleaseAgeExclude, e.g. '@acme/*'",
  "yarn-classic": "yarn 1 has none; check the registry",
  "yarn-berry": 'list the team\'s scope in .yarnrc.yml npmPreapprovedPackages, e.g. "@acme/*"',
  bun: "list the team's packages in bunfig.toml [install] minimumReleaseAgeExcludes",
};

/** What to run after `add`, for the manager's lockfile to be installed as written. */
const INSTALL_HINT: Record<Manager, string> = {
  npm: "npm ci",
  pnpm: "pnpm install --frozen-lockfile",
  "yarn-classic": "yarn install --frozen-lockfile",
  "yarn-berry": "yarn install --immutable",
  bun: "bun install --frozen-lockfile",
};

function readManifestField(dir: string): string | undefined {
  try {
    const manifest = JSON.parse(readFileSync(join(dir, "package.json"), "utf8")) as { packageManager?: unknown };
    return typeof manifest.packageManager === "string" ? manifest.packageManager : undefined;
  } catch {
    return undefined;
  }
}

/** yarn.lock's writer: berry files have __metadata, yarn 1 files its header; an empty or missing one asks packageManager, then .yarnrc.yml. */
function yarnFlavour(dir: string, packageManager: string | undefined): Manager {
  const text = existsSync(join(dir, "yarn.lock")) ? readFileSync(join(dir, "yarn.lock"), "utf8") : "";
  if (/^__metadata:/m.test(text)) return "yarn-berry";
  if (/^# yarn lockfile v1$/m.test(text)) return "yarn-classic";
  const major = /^yarn@(\d+)/.exec(packageManager ?? "")?.[1];
  if (major !== undefined) return Number(major) >= 2 ? "yarn-berry" : "yarn-classic";
  return existsSync(join(dir, ".yarnrc.yml")) ? "yarn-berry" : "yarn-classic";
}

/**
 * The package manager the project at `dir` uses: `--manager`, else the lockfile present
 * (package-lock.json / npm-shrinkwrap.json: npm; pnpm-lock.yaml: pnpm; yarn.lock: yarn 1 or
 * berry; bun.lock: bun; bun.lockb is refused), else package.json's `packageManager`, else npm.
 */
export function detectManager(dir: string, chosen: string | undefined): Target {
  const packageManager = readManifestField(dir);
  const npmLockfile = existsSync(join(dir, "npm-shrinkwrap.json")) ? join(dir, "npm-shrinkwrap.json") : join(dir, "package-lock.json");
  const targets: Record<(typeof MANAGER_NAMES)[number], () => Target> = {
    npm: () => ({ manager: "npm", lockfile: npmLockfile, why: "" }),
    pnpm: () => ({ manager: "pnpm", lockfile: join(dir, "pnpm-lock.yaml"), why: "" }),
    yarn: () => ({
      manager: yarnFlavour(dir, packageManager),
      lockfile: join(dir, "yarn.lock"),
      why: "",
    }),
    bun: () => {
      if (existsSync(join(dir, "bun.lockb")) && !existsSync(join(dir, "bun.lock"))) throw bunBinaryLockfileError(join(dir, "bun.lockb"));
      return { manager: "bun", lockfile: join(dir, "bun.lock"), why: "" };
    },
  };
  if (chosen !== undefined) {
    if (!(MANAGER_NAMES as readonly string[]).includes(chosen)) throw usageError(`--manager must be one of ${MANAGER_NAMES.join(", ")}, not "${chosen}"`);
    return { ...targets[chosen as (typeof MANAGER_NAMES)[number]](), why: "--manager" };
  }
  const present: [(typeof MANAGER_NAMES)[number], string][] = [];
  if (existsSync(join(dir, "npm-shrinkwrap.json")) || existsSync(join(dir, "package-lock.json"))) present.push(["npm", npmLockfile]);
  if (existsSync(join(dir, "pnpm-lock.yaml"))) present.push(["pnpm", "pnpm-lock.yaml"]);
  if (existsSync(join(dir, "yarn.lock"))) present.push(["yarn", "yarn.lock"]);
  if (existsSync(join(dir, "bun.lock")) || existsSync(join(dir, "bun.lockb"))) present.push(["bun", existsSync(join(dir, "bun.lock")) ? "bun.lock" : "bun.lockb"]);
  if (present.length > 1) {
    throw usageError(`${dir} has the lockfiles of several package managers (${present.map(([m, f]) => `${m}: ${f.split(/[\\/]/).pop()}`).join(", ")}): say which one to write with --manager ${MANAGER_NAMES.join("|")}`);
  }
  if (present.length === 1) return { ...targets[present[0]![0]](), why: `its lockfile ${present[0]![1].split(/[\\/]/).pop()}` };
  const declared = /^(npm|pnpm|yarn|bun)@/.exec(packageManager ?? "")?.[1] as (typeof MANAGER_NAMES)[number] | undefined;
  if (declared) return { ...targets[declared](), why: `packageManager "${packageManager}" in package.json` };
  return { ...targets.npm(), why: "no lockfile and no packageManager field: npm" };
}

/** The command that locks package.json's dependencies without installing (or, for yarn 1, without scripts). */
function lockCommand(manager: Manager, scratch: string): { command: string; args: string[]; env?: Record<string, string> } {
  switch (manager) {
    case "npm":
      return { command: "npm", args: ["install", "--package-lock-only", "--ignore-scripts", "--no-audit", "--no-fund"] };
    case "pnpm":
      // In CI pnpm defaults to --frozen-lockfile, which refuses the very change add makes.
      return { command: "pnpm", args: ["install", "--lockfile-only", "--ignore-scripts", "--no-frozen-lockfile"] };
    case "yarn-berry":
      // update-lockfile: resolve and fetch, no link step (so no scripts); CI's immutable default would refuse the change.
      return { command: "yarn", args: ["install", "--mode=update-lockfile"], env: { YARN_ENABLE_IMMUTABLE_INSTALLS: "false" } };
    case "yarn-classic":
      // yarn 1 has no lockfile-only mode: it installs, without scripts, into a scratch modules folder.
      return { command: "yarn", args: ["install", "--ignore-scripts", "--non-interactive", "--no-progress", "--modules-folder", scratch] };
    case "bun":
      return { command: "bun", args: ["install", "--lockfile-only", "--ignore-scripts"] };
  }
}

/**
 * Why the lockfile `manager` wrote does not lock `name@version` with exactly the countersigned
 * bytes (hex `sha512`), or undefined when it does. Read with countersign's own readers; yarn
 * berry's checksum is of its zip cache, so the tarball yarn downloads is hashed instead.
 */
async function lockMismatch(dir: string, target: Target, name: string, version: string, sha512: string): Promise<string | undefined> {
  let entries: LockEntry[];
  try {
    entries = readLockfileOnly(target.lockfile).entries;
  } catch (err) {
    return `its lockfile cannot be read back (${(err as Error).message})`;
  }
  const asName = entries.filter((e) => e.installedAs.includes(name));
  const locked = asName.filter((e) => e.name === name && e.version === version);
  if (locked.length === 0) {
    const found = [...new Set(asName.map((e) => (e.name === name ? e.version : `${e.name}@${e.version}`)))];
    return `it locked ${name} at ${found.length ? found.join(", ") : "no version"}, not ${version}`;
  }
  for (const entry of locked) {
    if (entry.kind !== "registry") return `it locked ${name}@${version} as ${entry.kind} (${entry.resolved ?? entry.location}), not from a registry`;
    if (entry.integrityOfTarball) {
      const digest = lockedSha512(entry.integrity);
      if (!digest.ok) return `${digest.reason} (${entry.location})`;
      if (digest.sha512 !== sha512) return `it locked ${name}@${version} with integrity ${entry.integrity}, not the countersigned bytes`;
      continue;
    }
    // yarn berry: hash what the registry yarn is configured with serves for it.
    const from = configuredRegistry(dir, target.manager)(name);
    if (!from) return `no registry is configured for ${name}, so the bytes yarn locked cannot be checked`;
    const served = await new RegistryClient(registryBase(from), undefined).tarballSha512({ name, version });
    if (served !== sha512) return `${registryBase(from)}, where yarn downloads ${name} from, serves ${served ? "other bytes than the countersigned ones" : `no ${name}@${version}`}`;
  }
  return undefined;
}

export const add: Command = {
  name: "add",
  summary: "resolve name@range to the newest version that passes verification and policy, and lock it with the project's package manager",
  usage: "countersign add <name>[@range|@tag] [--dev] [--approve-publisher SHA256:...] [--manager npm|pnpm|yarn|bun] [--no-install] [--dir DIR] [--pins FILE] [--json]",
  options: { dev: { type: "boolean" }, "approve-publisher": { type: "string", multiple: true }, manager: { type: "string" }, "no-install": { type: "boolean" }, dir: { type: "string" }, pins: { type: "string" }, ...JSON_OPTION },
  async run(values, positionals) {
    if (positionals.length !== 1) throw usageError(`usage: ${this.usage}`);
    const spec = parseAddSpec(positionals[0]!);
    const { name } = spec;
    const asked = spec.tag ?? spec.range;
    const dir = resolve(str(values, "dir") ?? ".");
    // Which manager's lockfile to write is settled before anything is fetched.
    const target = values["no-install"] === true ? undefined : detectManager(dir, str(values, "manager"));
    const pins = loadPins(resolve(dir, str(values, "pins") ?? PINS_FILE));
    const { namespace, rule } = resolvePin(pins, name);
    if (rule.kind !== "registry") throw new CliError(`${namespace} is not pinned to a registry (rule: ${rule.kind}); add resolves only in pinned namespaces`, EXIT.rejected);
    const registry = registryBase(rule.url);

    const client = new RegistryClient(registry, process.env.COUNTERSIGN_TOKEN);
    // The full document: it carries the signed metadata its dist-tags are checked against.
    const packument = await client.fullPackument(name);
    if (!packument) throw new CliError(`${registry} has no package ${name}`, EXIT.rejected);
    const where = { name, version: asked, namespace };
    // Which versions exist and what each tag names: the registry's signed metadata, not the packument.
    const { metadata, contentSha256, record } = await signedMetadata(client, packument, where, rule.fingerprints);
    const served = packument.versions ?? {};
    const skipped: { version: string; reason: string }[] = [];
    let listed: PackageMetadata["versions"];
    if (spec.tag !== undefined) {
      const tagged = metadata.distTags[spec.tag];
      if (tagged === undefined) throw new CliError(`${name} has no dist-tag "${spec.tag}" in its signed metadata (tags: ${Object.keys(metadata.distTags).join(", ") || "none"})`, EXIT.rejected);
      listed = metadata.versions.filter((v) => v.version === tagged);
    } else {
      const { range } = spec;
      const includePrerelease = semverPrerelease(range.replace(/^[^0-9]*/, "")) !== null;
      const satisfies = (version: string) => semverSatisfies(version, range, { includePrerelease });
      listed = metadata.versions.filter((v) => satisfies(v.version));
      // What the packument offers beyond the signed list is never a candidate (said, not hidden).
      for (const version of Object.keys(served).filter((v) => satisfies(v) && !metadata.versions.some((m) => m.version === v)).sort(semverRcompare)) {
        const problem = checkListed(metadata, { version, sha512: "" })!;
        skipped.push({ version, reason: describeFailure(metadataFailure(problem, { name, version, namespace }, registry)) });
      }
    }
    const candidates = [...listed]
      .sort((a, b) => semverRcompare(a.version, b.version))
      .map((v) => ({ version: v.version, dist: Object.hasOwn(served, v.version) ? served[v.version]?.dist : undefined }));
    if (candidates.length === 0) throw new CliError(`no version of ${name} at ${registry} satisfies ${asked}${skipped.length ? `:\n${skipped.map((s) => `  skipped ${name}@${s.version}: ${s.reason}`).join("\n")}` : ""}`, EXIT.rejected, { skipped });

    // The publisher of what is locked now (or last verified) is the baseline for publisher continuity.
    const receipt = await readReceipt(dir, { pins });
    const previousPublisher = receipt?.packages.find((p) => p.name === name)?.publisher;
    const approvals = ((values["approve-publisher"] as string[] | undefined) ?? []).map((keyid) => ({ name, keyid }));

    let chosen: { version: string; integrity: string; sha512: string } | undefined;
    for (const candidate of candidates) {
      if (candidate.dist === undefined) {
        skipped.push({ version: candidate.version, reason: `listed in the registry's signed metadata, but ${registry} does not serve it` });
        continue;
      }
      const integrity = typeof candidate.dist?.integrity === "string" ? candidate.dist.integrity : undefined;
      const locked = lockedSha512(integrity);
      if (!integrity || !locked.ok) {
        skipped.push({ version: candidate.version, reason: locked.ok ? "no integrity" : locked.reason.replace("the lockfile records", "the registry lists") });
        continue;
      }
      const unlisted = checkListed(metadata, { version: candidate.version, sha512: locked.sha512 });
      if (unlisted) {
        skipped.push({ version: candidate.version, reason: describeFailure(metadataFailure(unlisted, { name, version: candidate.version, namespace }, registry)) });
        continue;
      }
      // The abbreviated packument only links each bundle: ask for it (batch API, or a mirror's full packument).
      const bundle = (await client.provenance([{ name, version: candidate.version }])).get(`${name}@${candidate.version}`);
      // The registry's keys as the pins name them (retired ones only below their rotation, PROTOCOL §21).
      const chain = followRotations(rule, []);
      if (!chain.ok) throw new CliError(`countersign.json: ${chain.error}`, EXIT.usage);
      const verdict = await judgeAgainstChain({ name, version: candidate.version, sha512: locked.sha512, bundle, fingerprints: [...chain.value.keys.keys()], policy: pins.policy, previousPublisher, approvals }, chain.value);
      if (!verdict.ok) {
        skipped.push({ version: candidate.version, reason: verdict.error.layer === "policy" ? `policy: ${verdict.error.message}` : describeFailure(verdict.error) });
        continue;
      }
      // Listed with the sequence number it was countersigned at, by the key that signed the list.
      const sequenced = verdict.value.registry.keyid === metadata.registry.keyid ? checkListed(metadata, { version: candidate.version, sha512: locked.sha512, sequence: verdict.value.sequence, publisherKeyid: verdict.value.publisher.keyid }) : { code: "metadata_untrusted" as const, message: `countersigned by ${verdict.value.registry.keyid}, but its signed metadata is by ${metadata.registry.keyid}`, expected: metadata.registry.keyid, actual: verdict.value.registry.keyid };
      if (sequenced) {
        skipped.push({ version: candidate.version, reason: describeFailure(metadataFailure(sequenced, { name, version: candidate.version, namespace }, registry)) });
        continue;
      }
      // And in the registry's transparency log, as verify will require (log/check.ts).
      const logged = await logCheck({ name, version: candidate.version, namespace, rule, sha512: locked.sha512, bundle, verified: verdict.value, registry, record });
      if (logged) {
        skipped.push({ version: candidate.version, reason: logged });
        continue;
      }
      chosen = { version: candidate.version, integrity, sha512: locked.sha512 };
      break;
    }
    const skippedLines = skipped.map((s) => `  skipped ${name}@${s.version}: ${s.reason}`);
    if (!chosen) throw new CliError(`no version of ${name}@${asked} passes verification and policy:\n${skippedLines.join("\n")}`, EXIT.rejected, { skipped });
    // The statement passed: it is this machine's new floor for the package (higher serial wins).
    metadataStore().raise(metadata.registry.keyid, new Map([[name, { serial: metadata.serial, contentSha256 }]]));

    const manifestPath = join(dir, "package.json");
    const lockPath = target?.lockfile;
    // Everything the manager may write, as it was: put back on any failure (absent files removed).
    const touched = [lockPath, ...(target?.manager === "pnpm" ? [join(dir, "pnpm-workspace.yaml")] : [])].filter((p): p is string => p !== undefined);
    const before = { manifest: readFileSync(manifestPath, "utf8"), files: new Map(touched.map((p) => [p, existsSync(p) ? readFileSync(p, "utf8") : undefined])) };
    const manifest = JSON.parse(before.manifest) as Record<string, Record<string, string> | undefined>;
    const field = values.dev ? "devDependencies" : manifest.devDependencies?.[name] !== undefined && !manifest.dependencies?.[name] ? "devDependencies" : "dependencies";
    manifest[field] = { ...manifest[field], [name]: chosen.version };
    writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);

    const hookLines: string[] = [];
    if (target && lockPath) {
      const label = LABEL[target.manager];
      const restore = () => {
        writeFileSync(manifestPath, before.manifest);
        // pnpm also adds young versions to pnpm-workspace.yaml's minimumReleaseAgeExclude by itself.
        for (const [path, text] of before.files) {
          if (text !== undefined) writeFileSync(path, text);
          else rmSync(path, { force: true });
        }
      };
      // yarn 1 installs to lock: into a folder of its own, removed after, so node_modules is never touched.
      const scratch = mkdtempSync(join(tmpdir(), "countersign-add-"));
      const { command, args, env } = lockCommand(target.manager, scratch);
      let run: SpawnSyncReturns<string>;
      try {
        run = spawnSync(command, args, { cwd: dir, encoding: "utf8", timeout: 300_000, env: { ...process.env, ...env }, shell: process.platform === "win32" });
      } finally {
        rmSync(scratch, { recursive: true, force: true });
      }
      if (run.error || run.status !== 0) {
        restore();
        const missing = (run.error as NodeJS.ErrnoException | undefined)?.code === "ENOENT";
        if (missing) throw new CliError(`${command} is not on PATH, and this project uses ${label} (${target.why}): install it, or choose another with --manager. Nothing was changed.`, EXIT.usage);
        const output = `${run.stderr ?? ""}\n${run.stdout ?? ""}`.split("\n").map((l) => l.trim()).filter(Boolean);
        // countersign's own pnpm hook or Bun scanner refused something (pnpm wraps its message over lines).
        const flat = output.join(" ");
        const refusedBy = flat.indexOf("countersign: ");
        if (refusedBy >= 0) {
          throw new CliError(`${label} refused to lock ${name}@${chosen.version}: ${flat.slice(refusedBy, refusedBy + 600).replace(/["”]\.?\s*$/, "")}. Nothing was changed.`, EXIT.rejected);
        }
        const reason = output.find((l) => /YN0(?!000)\d{3}|ERR_/.test(l)) ?? output.find((l) => /error/i.test(l)) ?? (run.error ? run.error.message : `exit ${run.status}`);
        const aged = /quarantined|minimumReleaseAge|minimum-release-age|NO_MATURE/i.test(flat) ? ` (the package manager's release-age gate holds back new versions: ${AGE_GATE_HINT[target.manager]})` : "";
        throw new CliError(`${label} could not lock ${name}@${chosen.version}: ${reason.slice(0, 500)}${aged}. Nothing was changed.`);
      }
      // What countersign's own hooks said inside the manager (pnpm prints them as "<hook>: <message>").
      hookLines.push(...`${run.stdout ?? ""}\n${run.stderr ?? ""}`.split("\n").map((l) => l.trim()).filter((l) => /^\w+: countersign: /.test(l)));
      let mismatch: string | undefined;
      try {
        mismatch = await lockMismatch(dir, target, name, chosen.version, chosen.sha512);
      } catch (err) {
        restore();
        throw err;
      }
      if (mismatch) {
        restore();
        throw new CliError(
          `${label} did not lock the countersigned ${name}@${chosen.version} (${chosen.integrity}): ${mismatch}: is ${CONFIG_FILE[target.manager]} routing ${namespace} to ${registry}? Nothing was changed.`,
          EXIT.rejected,
        );
      }
    }

    emit(
      values,
      [`added ${name}@${chosen.version} to ${field} (integrity ${chosen.integrity})${target ? `; ${basename(target.lockfile)} updated by ${LABEL[target.manager]} — run ${INSTALL_HINT[target.manager]}` : ""}`, ...hookLines.map((l) => `  ${target ? LABEL[target.manager] : ""} hook ${l}`), ...skippedLines],
      { name, version: chosen.version, integrity: chosen.integrity, field, skipped, metadata: { serial: metadata.serial, expires: metadata.expires, distTags: metadata.distTags }, ...(target ? { manager: target.manager, lockfile: target.lockfile, hooks: hookLines } : {}) },
    );
    return EXIT.ok;
  },
};

/** The log check of one verified candidate: undefined when it is in the log, else why not; an unreadable log is an outage (exit 3). */
async function logCheck(input: { name: string; version: string; namespace: string; rule: Extract<PinRule, { kind: "registry" }>; sha512: string; bundle: unknown; verified: Verified; registry: string; record: LogItem }): Promise<string | undefined> {
  const { name, version, namespace, rule } = input;
  const outcomes: ProvenanceOutcome[] = [{ status: "verified", verified: input.verified, bundle: input.bundle, source: input.registry, sha512: input.sha512 }];
  const pin = { registry: rule.registry, url: rule.url, fingerprints: rule.fingerprints, ...(rule.retired ? { retired: rule.retired } : {}), ...(rule.witnesses ? { witnesses: rule.witnesses } : {}) };
  const requests = [{ spec: { name, version }, namespace, pin, sha512: input.sha512, locators: [] }];
  await checkLogs(requests, outcomes, { token: process.env.COUNTERSIGN_TOKEN });
  // Then the record of the signed metadata that lists it (PROTOCOL §19.1), in the same log.
  if (outcomes[0]!.status === "verified") await checkLogs(requests, outcomes, { token: process.env.COUNTERSIGN_TOKEN }, { itemOf: () => input.record, subject: (item) => `${item.label}: ` });
  const outcome = outcomes[0]!;
  if (outcome.status === "unavailable") throw new CliError(outcome.message, EXIT.unavailable);
  return outcome.status === "failed" ? describeFailure(outcome.failure) : undefined;
}
