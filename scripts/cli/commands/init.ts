/**
 * @module
 * `init`: a pins file for an existing project, from what its lockfiles install today.
 *
 * It reads every lockfile `verify` reads (the same readers, the same names: every name an entry
 * is installed as, and its package name) and writes `countersign.json` with:
 *
 * - the team's namespaces pinned to its registry (`--registry URL --name N --namespace @acme
 *   --fingerprint SHA256:…`, checked exactly as `pin` checks it);
 * - every other namespace in use listed by name as "allow": each scope, and each unscoped name;
 * - `"@*": "reject"` and `"*": "reject"`.
 *
 * The property this buys is that a namespace *not* in the lockfile today is rejected by `verify`
 * until someone allows it by name (`countersign pin --rule '@new=allow'`): a look-alike scope
 * (`@babel-core/…`, `@acme-corp/…`) that a typo, a compromised dependency or a confused resolver
 * brings in later fails the build instead of passing as "allowed (unverified)".
 *
 * Unscoped names are listed one by one by default rather than allowed with `"*": "allow"`. Every
 * unscoped name is its own namespace, so a wildcard would let any new unscoped package through:
 * a typosquat (`lodahs`) or an internal unscoped name the team forgot to pin (`acme-billing`,
 * the classic dependency confusion) would pass unverified. Listed, a new one fails until a
 * person allows it — the same review a new scope gets. The cost is one `pin --rule 'name=allow'`
 * (or `init --force`) per new unscoped dependency; `--allow-unscoped` trades that away for
 * `"*": "allow"` and keeps the scope check.
 *
 * init trusts the lockfile as it is: whatever it installs today is allowed. That is why it
 * prints every namespace it will allow and asks before writing (`--yes` in CI).
 *
 * An existing pins file is never replaced: with `--force` it is merged — its registries, pins,
 * rules, policy and receipts are kept, namespaces in use that it has no rule for are added as
 * "allow", and the wildcards become "reject".
 */

import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { ANY_SCOPE, ANY_UNSCOPED, checkPinNamespace, emptyPins, isRuleAction, namespaceOf, PINS_FILE, type Pins } from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, wrongArguments, type Command, type Values } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { registryBase } from "../http.js";
import { lockfilePaths } from "../lockfiles/paths.js";
import { applyBinding, bindRegistry, confirm, readPinsOrEmpty, writePins, type RegistryBinding } from "./pin.js";

export interface InitPlan {
  path: string;
  /** True when an existing pins file was merged (--force). */
  merged: boolean;
  lockfiles: string[];
  /** Lockfile entries read (the same thing installed in two places counts twice). */
  entries: number;
  /** Namespaces pinned to a registry, with how many entries are in each. */
  pinned: { namespace: string; registry: string; entries: number }[];
  /** Namespaces in use allowed by name: scopes, and unscoped names (empty with --allow-unscoped). */
  allowed: { scopes: { namespace: string; entries: number }[]; unscoped: { namespace: string; entries: number }[] };
  /** Allowed namespaces the existing file (merged with --force) had no rule for: what this run newly trusts. */
  added: string[];
  /** Namespaces in use that an existing rule rejects: verify fails until they are allowed. */
  rejected: { namespace: string; entries: number }[];
  /** Names in use that no rule can name (not even a legacy npm name): verify rejects them. */
  unlistable: string[];
  wildcards: { "@*": string; "*": string };
  /** The registry bound by this run, if any. */
  binding?: { name: string; url: string; fingerprint: string; namespaces: string[]; unclaimed: string[] };
  pins: Omit<Pins, "policy">;
}

/** How many lockfile entries use each namespace (by every name they are installed as and their own). */
export function namespacesInUse(entries: { name: string; installedAs: string[] }[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const entry of entries) {
    for (const ns of new Set([...entry.installedAs, entry.name].map(namespaceOf))) counts.set(ns, (counts.get(ns) ?? 0) + 1);
  }
  return counts;
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** The pins document init writes (pure: no I/O), from the existing one and the namespaces in use. */
export function planPins(base: Pins, inUse: Map<string, number>, options: { binding?: RegistryBinding; allowUnscoped: boolean }): Omit<InitPlan, "path" | "merged" | "lockfiles" | "entries"> {
  const registries = { ...base.registries };
  const existing: Record<string, string> = {};
  for (const [ns, target] of Object.entries(base.namespaces)) if (ns !== ANY_SCOPE && ns !== ANY_UNSCOPED) existing[ns] = target;
  const scratch: Pins = { version: 1, registries, namespaces: existing };
  if (options.binding) applyBinding(scratch, options.binding);

  const ruleOf = (ns: string) => (Object.hasOwn(existing, ns) ? existing[ns]! : undefined);
  // A wildcard the file pins to a registry (`"@*": "team"`) is stricter than any list: kept, and
  // the namespaces it covers are not allow-listed.
  const pinnedWildcard = (w: string) => (Object.hasOwn(base.namespaces, w) && !isRuleAction(base.namespaces[w]) ? base.namespaces[w]! : undefined);
  const scopeWildcard = pinnedWildcard(ANY_SCOPE);
  const unscopedWildcard = pinnedWildcard(ANY_UNSCOPED);
  const pinnedNs = Object.keys(existing).filter((ns) => !isRuleAction(existing[ns]!)).sort(byName);
  const allowedScopes: string[] = [];
  const allowedUnscoped: string[] = [];
  const rejected: string[] = [];
  const unlistable: string[] = [];
  for (const ns of [...inUse.keys()].sort(byName)) {
    const rule = ruleOf(ns);
    if (rule === "reject") rejected.push(ns);
    else if (rule !== undefined && rule !== "allow") continue; // pinned to a registry: verified, never allowed
    else if (rule === undefined && (ns.startsWith("@") ? scopeWildcard : unscopedWildcard) !== undefined) continue; // a pinned wildcard covers it
    else if (!ns.startsWith("@") && options.allowUnscoped && rule === undefined) continue; // "*": "allow" covers it
    else if (!checkPinNamespace(ns, "allow").ok) unlistable.push(ns);
    else (ns.startsWith("@") ? allowedScopes : allowedUnscoped).push(ns);
  }
  // Rules the file had for namespaces no longer in use are kept (a merge never loosens or drops).
  const keptRules = Object.keys(existing).filter((ns) => isRuleAction(existing[ns]!) && !inUse.has(ns)).sort(byName);

  const wildcards = { [ANY_SCOPE]: scopeWildcard ?? "reject", [ANY_UNSCOPED]: unscopedWildcard ?? (options.allowUnscoped ? "allow" : "reject") } as InitPlan["wildcards"];
  const namespaces: Record<string, string> = {};
  for (const ns of pinnedNs) namespaces[ns] = existing[ns]!;
  for (const ns of [...allowedScopes, ...rejected.filter((ns) => ns.startsWith("@"))].sort(byName)) namespaces[ns] = ruleOf(ns) ?? "allow";
  for (const ns of [...allowedUnscoped, ...rejected.filter((ns) => !ns.startsWith("@"))].sort(byName)) namespaces[ns] = ruleOf(ns) ?? "allow";
  for (const ns of keptRules) namespaces[ns] = existing[ns]!;
  namespaces[ANY_SCOPE] = wildcards["@*"];
  namespaces[ANY_UNSCOPED] = wildcards["*"];

  const { policy: _policy, ...rest } = base;
  const count = (ns: string) => ({ namespace: ns, entries: inUse.get(ns) ?? 0 });
  return {
    pinned: pinnedNs.map((ns) => ({ ...count(ns), registry: existing[ns]! })),
    added: [...allowedScopes, ...allowedUnscoped].filter((ns) => ruleOf(ns) === undefined),
    allowed: { scopes: allowedScopes.map(count), unscoped: allowedUnscoped.map(count) },
    rejected: rejected.map(count),
    unlistable,
    wildcards,
    ...(options.binding ? { binding: { name: options.binding.name, url: options.binding.url, fingerprint: options.binding.fingerprint, namespaces: options.binding.namespaces, unclaimed: options.binding.unclaimed } } : {}),
    pins: { ...rest, version: 1, registries, namespaces },
  };
}

/** Comma-separated words wrapped at `width`, each line indented. */
function wrap(words: string[], indent: string, width = 100): string[] {
  const lines: string[] = [];
  let line = "";
  for (const word of words) {
    if (line && indent.length + line.length + word.length + 2 > width) {
      lines.push(`${indent}${line},`);
      line = "";
    }
    line = line ? `${line}, ${word}` : word;
  }
  if (line) lines.push(`${indent}${line}`);
  return lines;
}

export function describePlan(plan: InitPlan): string[] {
  const { pinned, allowed, rejected, unlistable, wildcards } = plan;
  const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;
  const registries = plan.pins.registries;
  const lines = [`${plan.merged ? "update" : "write"} ${plan.path} from ${plan.entries} lockfile entries in ${plan.lockfiles.join(", ")}:`];
  if (pinned.length === 0) lines.push("  pin    no namespace to a registry: nothing will be verified, only allowed (to pin your team's: --registry URL --name N --namespace @scope --fingerprint SHA256:…, or later `countersign pin`)");
  for (const p of pinned) lines.push(`  pin    ${p.namespace} → ${p.registry} (${registries[p.registry]?.url}, ${registries[p.registry]?.fingerprints.join(" or ")}): ${plural(p.entries, "entry", "entries")} in use`);
  if (plan.binding?.unclaimed.length) lines.push(`  warning: the registry does not (yet) claim ${plan.binding.unclaimed.join(", ")}`);
  if (allowed.scopes.length) {
    lines.push(`  allow  ${plural(allowed.scopes.length, "scope")} in use, by name (unverified):`);
    lines.push(...wrap(allowed.scopes.map((s) => `${s.namespace} (${s.entries})`), "           "));
  }
  if (allowed.unscoped.length) {
    lines.push(`  allow  ${plural(allowed.unscoped.length, "unscoped name")} in use, each by name (unverified):`);
    lines.push(...wrap(allowed.unscoped.map((s) => s.namespace), "           "));
  }
  if (plan.merged) lines.push(plan.added.length ? `  new    ${plural(plan.added.length, "namespace")} the existing file had no rule for, now allowed: ${plan.added.join(", ")}` : "  new    nothing: every namespace in use already had a rule");
  for (const r of rejected) lines.push(`  warning: ${r.namespace} is in use (${r.entries}) but the existing file rejects it: verify fails until it is allowed`);
  if (unlistable.length) lines.push(`  warning: no rule can name ${unlistable.join(", ")}: verify rejects them`);
  const other = (w: string, what: string) => (w === "reject" ? `reject any other ${what}` : w === "allow" ? `allow  any other ${what}, unverified` : `pin    any other ${what} → ${w}`);
  lines.push(`  ${other(wildcards["@*"], "scope")} ("@*": "${wildcards["@*"]}")`);
  lines.push(`  ${other(wildcards["*"], "unscoped name")} ("*": "${wildcards["*"]}")${wildcards["*"] === "allow" ? ": a new unscoped name is not caught (--allow-unscoped)" : ""}`);
  lines.push(`  → a ${wildcards["*"] === "allow" ? "scope" : "scope or unscoped name"} not in the lockfile today is ${wildcards["@*"] === "reject" ? "rejected by verify until someone allows it: countersign pin --rule '@scope=allow'" : "not allowed unverified"}`);
  return lines;
}

export const init: Command = {
  name: "init",
  summary: "write countersign.json from the lockfiles: the team's namespaces pinned, every namespace in use allowed by name, any other rejected",
  usage:
    "countersign init [--registry URL --name NAME --namespace @scope [--namespace ...] --fingerprint SHA256:...] [--allow-unscoped] [--yes] [--force] [--dir DIR] [--pins FILE] [--lockfile FILE]... [--json]\n" +
    "  reads every lockfile verify reads; lists each scope and each unscoped name in use as \"allow\" and sets \"@*\" and \"*\" to \"reject\",\n" +
    "  so that a namespace that appears later (a look-alike scope) is rejected until someone allows it (countersign pin --rule)\n" +
    "  --allow-unscoped   \"*\": \"allow\" instead of listing unscoped names (a new unscoped name is then not caught)\n" +
    "  --yes              write without asking (required when stdin is not a terminal, e.g. in CI)\n" +
    "  --force            merge into an existing pins file (its pins, rules, policy and receipts are kept)",
  options: {
    dir: { type: "string" },
    pins: { type: "string" },
    lockfile: { type: "string", multiple: true },
    registry: { type: "string" },
    name: { type: "string" },
    namespace: { type: "string", multiple: true },
    fingerprint: { type: "string" },
    "allow-unscoped": { type: "boolean" },
    yes: { type: "boolean", short: "y" },
    force: { type: "boolean" },
    ...JSON_OPTION,
  },
  async run(values: Values, positionals) {
    if (positionals.length) throw wrongArguments(this, "no arguments", positionals);
    const dir = resolve(str(values, "dir") ?? ".");
    const path = resolve(dir, str(values, "pins") ?? PINS_FILE);
    const merged = existsSync(path);
    if (merged && values.force !== true) {
      throw usageError(`${path} already exists: change single rules with \`countersign pin --rule NAMESPACE=allow|reject\`, or pass --force to merge (its pins, rules, policy and receipts are kept; namespaces in use without a rule are added as "allow")`);
    }
    const registry = str(values, "registry");
    const teamNamespaces = (values.namespace as string[] | undefined) ?? [];
    if (!registry && (teamNamespaces.length || str(values, "name") || str(values, "fingerprint"))) {
      throw usageError("--name, --namespace and --fingerprint describe the team registry: give its URL with --registry");
    }
    const base = merged ? readPinsOrEmpty(path) : emptyPins();

    // The lockfile parsers are most of the client's code: loaded only when there is work to do.
    const given = ((values.lockfile as string[] | undefined) ?? []).map((f) => resolve(dir, f));
    const lockfiles = lockfilePaths(dir, given);
    const { readLockfile } = await import("../lockfiles/index.js");
    const entries = lockfiles.flatMap((file) => readLockfile(file));

    const binding = registry ? await bindRegistry({ url: registryBase(registry), name: str(values, "name"), namespaces: teamNamespaces, fingerprint: str(values, "fingerprint"), flagHint: "--fingerprint" }) : undefined;
    const plan: InitPlan = {
      path,
      merged,
      lockfiles: [...new Set([...lockfiles, ...entries.map((e) => e.lockfile)])],
      entries: entries.length,
      ...planPins(base, namespacesInUse(entries), { ...(binding ? { binding } : {}), allowUnscoped: values["allow-unscoped"] === true }),
    };
    const human = describePlan(plan);

    if (values.yes !== true) {
      if (!process.stdin.isTTY) {
        if (!values.json) process.stderr.write(`${human.join("\n")}\n`);
        throw new CliError(`not writing ${path}: nobody confirmed it (stdin is not a terminal); read the list above and pass --yes to write it (e.g. in CI)`, EXIT.usage, { ...plan, written: false });
      }
      process.stderr.write(`${human.join("\n")}\n`);
      if (!(await confirm(`Write ${path}? Type "yes": `))) throw new CliError(`nothing written to ${path}`, EXIT.rejected);
    }
    writePins(path, plan.pins as Pins);
    emit(values, [...(values.yes === true ? human : []), `wrote ${path}: commit it, and run \`countersign verify\` before installing (in CI)`], { ...plan, written: true });
    return EXIT.ok;
  },
};
