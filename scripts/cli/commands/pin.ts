/**
 * @module
 * `pin`: record in the pins file which registry key may vouch for which namespaces. The
 * fingerprint is never learnt silently: it is written only when it equals one given on the
 * command line (obtained out of band), or when a person at a terminal confirms it.
 */

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import { ANY_SCOPE, ANY_UNSCOPED, checkNamespace, emptyPins, parsePins, PINS_FILE, shortFingerprint, type Pins } from "../../../src/core/index.js";
import { emit, JSON_OPTION, str, type Command } from "../command.js";
import { CliError, EXIT, usageError } from "../errors.js";
import { registryBase } from "../http.js";
import { fetchIdentity } from "./identity.js";

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim().toLowerCase() === "yes";
  } finally {
    rl.close();
  }
}

function readPinsOrEmpty(path: string): Pins {
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

export const pin: Command = {
  name: "pin",
  summary: "pin a registry's fingerprint for namespaces in countersign.json (out-of-band check or confirmation required)",
  usage:
    "countersign pin <registry-url> --name NAME --namespace @scope [--namespace ...] [--fingerprint SHA256:...] [--pins FILE] [--json]\n" +
    "countersign pin --rule '@*'=reject|allow [--rule '*'=reject|allow]   (names no pin covers; default reject)",
  options: {
    name: { type: "string" },
    namespace: { type: "string", multiple: true },
    fingerprint: { type: "string" },
    rule: { type: "string", multiple: true },
    pins: { type: "string" },
    ...JSON_OPTION,
  },
  async run(values, positionals) {
    const path = resolve(str(values, "pins") ?? PINS_FILE);
    const pins = readPinsOrEmpty(path);
    const rules = (values.rule as string[] | undefined) ?? [];
    for (const rule of rules) {
      const [key, action] = rule.split("=");
      if ((key !== ANY_SCOPE && key !== ANY_UNSCOPED) || (action !== "allow" && action !== "reject")) throw usageError(`--rule takes '@*'=allow|reject or '*'=allow|reject, not "${rule}"`);
      pins.namespaces[key] = action;
    }
    if (positionals.length === 0 && rules.length) {
      writeFileSync(path, `${JSON.stringify(pins, null, 2)}\n`);
      emit(values, `${path}: ${rules.join(", ")}`, pins);
      return 0;
    }
    if (positionals.length !== 1) throw usageError(`usage: ${this.usage}`);

    const url = registryBase(positionals[0]);
    const name = str(values, "name");
    if (!name || !/^[a-z0-9][a-z0-9._-]{0,63}$/.test(name)) throw usageError("--name is required: a short lowercase name for this registry in the pins file (e.g. acme)");
    const namespaces = (values.namespace as string[] | undefined) ?? [];
    if (namespaces.length === 0) throw usageError("--namespace is required (at least one): which namespaces this registry may vouch for");
    for (const ns of namespaces) {
      const check = checkNamespace(ns);
      if (!check.ok) throw usageError(`--namespace ${ns}: ${check.reason}`);
    }

    const expected = str(values, "fingerprint");
    const { document, keyid } = await fetchIdentity(url, expected ? [expected] : undefined);
    const unclaimed = namespaces.filter((ns) => !document.namespaces.includes(ns));
    if (!expected) {
      if (!process.stdin.isTTY) {
        throw new CliError(`refusing to pin ${url} without checking its fingerprint: pass --fingerprint with the value you obtained out of band (it serves ${keyid})`, EXIT.usage);
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

    const existing = pins.registries[name];
    pins.registries[name] = { url, fingerprints: existing && existing.url === url ? [...new Set([...existing.fingerprints, keyid])] : [keyid] };
    for (const ns of namespaces) pins.namespaces[ns] = name;
    writeFileSync(path, `${JSON.stringify(pins, null, 2)}\n`);
    emit(
      values,
      [`pinned ${namespaces.join(", ")} → ${name} (${keyid}) in ${path}`, ...(unclaimed.length ? [`warning: the registry does not (yet) claim ${unclaimed.join(", ")}`] : [])],
      { path, registry: name, url, fingerprint: keyid, namespaces, unclaimed },
    );
    return 0;
  },
};
