/**
 * @module
 * `pin`: record in the pins file which registry key may vouch for which namespaces, and the
 * allow/reject rules for every other namespace. The fingerprint is never learnt silently: it is
 * written only when it equals one given on the command line (obtained out of band), or when a
 * person at a terminal confirms it. A namespace pinned to a registry is never downgraded to a
 * rule (or removed) without `--force`: that would stop its packages being verified.
 */

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { ANY_SCOPE, ANY_UNSCOPED, checkNamespace, checkPinNamespace, emptyPins, isRuleAction, newCosignatureVerifier, parsePins, PINS_FILE, shortFingerprint, type Pins, type RuleAction } from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, wrongArguments, type Command, type Values } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { registryBase } from "../http.js";
import { fetchIdentity } from "./identity.js";

export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim().toLowerCase() === "yes";
  } finally {
    rl.close();
  }
}

export function readPinsOrEmpty(path: string): Pins {
  if (!existsSync(path)) return emptyPins();
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, "utf8"));
  } catch {
    throw new CliError(`${path} is not valid JSON`, EXIT.usage);
  }
  const pins = parsePins(json);
  if (!pins.ok) throw new CliError(`${path}: ${pins.error}`, EXIT.usage);
  return pins.value;
}

/** Writes a pins document, checked again by the one parser so that nothing unreadable is written. */
export function writePins(path: string, pins: Pins): void {
  const { policy: _parsed, ...rest } = pins;
  // `policy` is kept as the file had it (parsePins returns it parsed): re-read the raw value.
  const raw = existsSync(path) ? (JSON.parse(readFileSync(path, "utf8")) as { policy?: unknown }) : {};
  const document = { ...rest, ...(raw.policy !== undefined ? { policy: raw.policy } : {}) };
  const check = parsePins(document);
  if (!check.ok) throw new CliError(`not writing ${path}: ${check.error}`, EXIT.usage);
  writeFileSync(path, `${JSON.stringify(document, null, 2)}\n`);
}

const PIN_NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;

export interface RegistryBinding {
  url: string;
  name: string;
  namespaces: string[];
  fingerprint: string;
  /** Namespaces asked for that the registry's identity document does not claim. */
  unclaimed: string[];
}

/**
 * Checks the registry's identity against the fingerprint given, or asks a person at a terminal;
 * refuses otherwise. Shared by `pin <url>` and `init --registry`.
 */
export async function bindRegistry(input: { url: string; name: string | undefined; namespaces: string[]; fingerprint: string | undefined; flagHint: string }): Promise<RegistryBinding> {
  const { url, name, namespaces, fingerprint: expected } = input;
  if (!name || !PIN_NAME.test(name)) throw usageError("--name is required: a short lowercase name for this registry in the pins file (e.g. acme)");
  if (namespaces.length === 0) throw usageError("--namespace is required (at least one): which namespaces this registry may vouch for");
  for (const ns of namespaces) {
    const check = checkNamespace(ns);
    if (!check.ok) throw usageError(`--namespace ${ns}: ${check.reason}`);
  }
  const { document, keyid } = await fetchIdentity(url, expected ? [expected] : undefined);
  const unclaimed = namespaces.filter((ns) => !document.namespaces.includes(ns));
  if (!expected) {
    if (!process.stdin.isTTY) {
      throw new CliError(`refusing to pin ${url} without checking its fingerprint: pass ${input.flagHint} with the value you obtained out of band (it serves ${keyid})`, EXIT.usage);
    }
    process.stderr.write(
      [
        `registry ${document.name} at ${url}`,
        `fingerprint ${keyid}`,
        `  (short: ${shortFingerprint(keyid)})`,
        `it claims: ${document.namespaces.join(", ") || "(no namespaces)"}`,
        ...(unclaimed.length ? [`warning: it does not claim ${unclaimed.join(", ")}`] : []),
        "Compare the fingerprint with one you got from the registry's operators (not from this screen).",
        "",
      ].join("\n"),
    );
    if (!(await confirm(`Pin it for ${namespaces.join(", ")}? Type "yes": `))) throw new CliError("not pinned", EXIT.rejected);
  }
  return { url, name, namespaces, fingerprint: keyid, unclaimed };
}

/** Records a checked binding in `pins` (a second fingerprint for the same URL is added, not swapped). */
export function applyBinding(pins: Pins, binding: RegistryBinding): void {
  const existing = pins.registries[binding.name];
  const same = existing && existing.url === binding.url;
  pins.registries[binding.name] = {
    url: binding.url,
    fingerprints: same ? [...new Set([...existing.fingerprints, binding.fingerprint])] : [binding.fingerprint],
    // The witness policy belongs to the registry's log: kept while the URL is the same.
    ...(same && existing.witnesses ? { witnesses: existing.witnesses } : {}),
  };
  for (const ns of binding.namespaces) pins.namespaces[ns] = binding.name;
}

export interface RuleChange {
  namespace: string;
  /** The new rule, or null when removed. */
  action: RuleAction | null;
  /** What the namespace had before: "allow", "reject", a registry's pins name, or null. */
  previous: string | null;
}

/** `@babel=allow` → { namespace, action }; any namespace, an unscoped name, `@*` or `*`. */
export function parseRule(rule: string): { namespace: string; action: RuleAction } {
  const at = rule.lastIndexOf("=");
  const namespace = rule.slice(0, at).trim();
  const action = rule.slice(at + 1).trim();
  if (at <= 0 || !isRuleAction(action)) throw usageError(`--rule takes NAMESPACE=allow|reject (a scope '@babel', an unscoped name 'lodash', or '@*' / '*' for every other scope / unscoped name), not "${rule}"`);
  const check = checkPinNamespace(namespace, action);
  if (!check.ok) throw usageError(`--rule ${rule}: ${check.reason}`);
  return { namespace, action };
}

/** Applies rules and removals; a registry pin is replaced or removed only with `force`. */
export function applyRules(pins: Pins, rules: { namespace: string; action: RuleAction }[], removals: string[], force: boolean, path: string): RuleChange[] {
  const changes: RuleChange[] = [];
  const previousOf = (ns: string) => (Object.hasOwn(pins.namespaces, ns) ? pins.namespaces[ns]! : null);
  const guard = (ns: string, what: string) => {
    const previous = previousOf(ns);
    if (previous !== null && !isRuleAction(previous) && !force) {
      throw usageError(`${ns} is pinned to registry "${previous}" in ${path}: ${what} would stop its packages being verified against that registry's key; pass --force if that is what you want`);
    }
  };
  for (const ns of removals) {
    if (ns !== ANY_SCOPE && ns !== ANY_UNSCOPED && !checkPinNamespace(ns, "allow").ok) throw usageError(`--remove ${ns}: not a namespace`);
    if (previousOf(ns) === null) throw usageError(`--remove ${ns}: ${path} has no rule for ${ns}`);
    guard(ns, "removing the pin");
    changes.push({ namespace: ns, action: null, previous: previousOf(ns) });
    delete pins.namespaces[ns];
  }
  for (const { namespace, action } of rules) {
    guard(namespace, `replacing the pin with "${action}"`);
    changes.push({ namespace, action, previous: previousOf(namespace) });
    pins.namespaces[namespace] = action;
  }
  return changes;
}

const describeChange = (c: RuleChange) => {
  const was = c.previous === null ? "" : isRuleAction(c.previous) ? ` (was ${c.previous})` : ` (was pinned to registry ${c.previous})`;
  const what = c.action === null ? "removed" : c.action;
  const fallback = c.namespace.startsWith("@") ? ANY_SCOPE : ANY_UNSCOPED;
  const after = c.action === null && c.namespace !== ANY_SCOPE && c.namespace !== ANY_UNSCOPED ? `; it now follows "${fallback}"` : "";
  return `  ${c.namespace}: ${what}${was}${after}`;
};

export const pin: Command = {
  name: "pin",
  summary: "pin a registry's fingerprint for namespaces, or set allow/reject rules, in countersign.json",
  usage:
    "countersign pin <registry-url> --name NAME --namespace @scope [--namespace ...] [--fingerprint SHA256:...] [--pins FILE] [--json]\n" +
    "countersign pin --rule NAMESPACE=allow|reject [--rule ...] [--remove NAMESPACE]... [--force] [--pins FILE] [--json]\n" +
    "countersign pin --name NAME --witness VKEY [--witness ...] [--quorum K] [--pins FILE] [--json]\n" +
    "  --witness: a witness's cosignature key (its GET / prints it); the registry's log checkpoints then need\n" +
    "  cosignatures by at least K of them (default 1) for verify to accept them\n" +
    "  NAMESPACE: a scope (@babel), an unscoped name (lodash), '@*' (every other scope) or '*' (every other unscoped name)\n" +
    "  a namespace pinned to a registry is replaced or removed only with --force; names no rule covers are rejected",
  options: {
    name: { type: "string" },
    namespace: { type: "string", multiple: true },
    fingerprint: { type: "string" },
    rule: { type: "string", multiple: true },
    remove: { type: "string", multiple: true },
    witness: { type: "string", multiple: true },
    quorum: { type: "string" },
    force: { type: "boolean" },
    pins: { type: "string" },
    ...JSON_OPTION,
  },
  async run(values: Values, positionals) {
    const path = resolve(str(values, "pins") ?? PINS_FILE);
    const pins = readPinsOrEmpty(path);
    const rules = ((values.rule as string[] | undefined) ?? []).map(parseRule);
    const removals = (values.remove as string[] | undefined) ?? [];
    const witnesses = (values.witness as string[] | undefined) ?? [];
    if (witnesses.length || values.quorum !== undefined) {
      if (positionals.length || rules.length || removals.length) throw usageError("--witness/--quorum set the witness policy of a pinned registry: use them with --name only");
      return setWitnesses(values, pins, path, witnesses);
    }
    const changes = applyRules(pins, rules, removals, values.force === true, path);
    if (positionals.length === 0 && changes.length) {
      writePins(path, pins);
      const { policy: _policy, ...document } = pins;
      emit(values, [`${path}:`, ...changes.map(describeChange)], { ...document, path, changes });
      return 0;
    }
    if (positionals.length !== 1) throw wrongArguments(this, "one <registry-url>, or --rule / --remove", positionals);

    const url = registryBase(positionals[0]);
    const binding = await bindRegistry({ url, name: str(values, "name"), namespaces: (values.namespace as string[] | undefined) ?? [], fingerprint: str(values, "fingerprint"), flagHint: "--fingerprint" });
    applyBinding(pins, binding);
    writePins(path, pins);
    const { name, namespaces, fingerprint: keyid, unclaimed } = binding;
    emit(
      values,
      [
        `pinned ${namespaces.join(", ")} → ${name} (${keyid}) in ${path}`,
        ...changes.map(describeChange),
        ...(unclaimed.length ? [`warning: the registry does not (yet) claim ${unclaimed.join(", ")}`] : []),
      ],
      { path, registry: name, url, fingerprint: keyid, namespaces, unclaimed, ...(changes.length ? { changes } : {}) },
    );
    return 0;
  },
};

/** `pin --name NAME --witness VKEY… [--quorum K]`: the witnesses whose cosignatures that registry's checkpoints need. */
async function setWitnesses(values: Values, pins: Pins, path: string, keys: string[]): Promise<number> {
  const name = str(values, "name");
  if (!name || !Object.hasOwn(pins.registries, name)) throw usageError(`--name must name a registry pinned in ${path} (${Object.keys(pins.registries).join(", ") || "none yet"})`);
  if (keys.length === 0) throw usageError("--witness is required (at least one witness's cosignature key)");
  for (const key of keys) {
    const verifier = await newCosignatureVerifier(key);
    if (!verifier.ok) throw usageError(`--witness ${key.slice(0, 120)}: ${verifier.error}`);
  }
  const quorumText = str(values, "quorum") ?? "1";
  const quorum = /^[1-9][0-9]?$/.test(quorumText) ? Number(quorumText) : NaN;
  if (!(quorum <= keys.length)) throw usageError(`--quorum must be a whole number from 1 to the number of witnesses (${keys.length}), not "${quorumText}"`);
  pins.registries[name] = { ...pins.registries[name]!, witnesses: { quorum, keys: [...new Set(keys)] } };
  writePins(path, pins);
  emit(values, [`${path}: the log of registry ${name} now needs cosignatures by ${quorum} of ${keys.length} witness${keys.length === 1 ? "" : "es"}`], { path, registry: name, witnesses: { quorum, keys } });
  return 0;
}
