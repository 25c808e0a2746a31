/**
 * @module
 * What the package-manager integrations (the Bun security scanner, the pnpm hook) share: judge
 * the packages a package manager is about to install exactly as `countersign verify` judges a
 * lockfile — the same plan (plan.ts: pins, namespaces of every name it is installed as, kinds),
 * the same provenance search and verdict (provenance.ts, judge.ts) — and answer with one line
 * per package that must not be installed.
 *
 * Fail-closed throughout: a missing or invalid countersign.json refuses everything
 * (`PinsRefusal`); a package of a pinned namespace that cannot be checked because no registry
 * answered is refused too (an install is not a report: it cannot wait for the outage to end).
 */

import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { describeFailure, PINS_FILE, type Pins } from "../../src/core/index.js";
import { configuredRegistry } from "../cli/lockfiles/registries.js";
import type { LockEntry, Manager } from "../cli/lockfiles/types.js";
import { readPinsFile } from "../cli/pins-file.js";
import { readReceipt } from "../cli/receipts.js";
import { specKey } from "../cli/registry-client.js";
import { planEntry } from "../cli/verification/plan.js";
import { registryOfTarball } from "../cli/verification/project.js";
import { findProvenance, type ProvenanceRequest } from "../cli/verification/provenance.js";

/** One package the install must not go ahead with, and why (one line). */
export interface Refusal {
  name: string;
  version: string;
  /** The names it would be installed as. */
  installedAs: string[];
  reason: string;
}

/** countersign.json is missing or invalid: nothing may be installed. */
export class PinsRefusal extends Error {}

/**
 * The project whose countersign.json governs an install started in `cwd`:
 * `COUNTERSIGN_PROJECT_DIR`, else the nearest folder up from `cwd` holding countersign.json,
 * else `cwd` itself (where the missing file is then reported).
 */
export function projectDir(cwd: string = process.cwd(), env: NodeJS.ProcessEnv = process.env): string {
  if (env.COUNTERSIGN_PROJECT_DIR) return resolve(env.COUNTERSIGN_PROJECT_DIR);
  for (let dir = resolve(cwd); ; dir = dirname(dir)) {
    if (existsSync(join(dir, PINS_FILE))) return dir;
    if (dirname(dir) === dir) return resolve(cwd);
  }
}

/** The pins of the project at `dir`, or a `PinsRefusal` saying why there are none. */
export function projectPins(dir: string): Pins {
  const pins = readPinsFile(join(dir, PINS_FILE));
  if (!pins.ok) throw new PinsRefusal(`${pins.error.message}: countersign refuses every package until the pins file is fixed (fail closed)`);
  return pins.value;
}

/**
 * Judges `entries` (what the package manager resolved) against the pins of the project at
 * `dir`. Returns the refusals; empty means every package may be installed.
 */
export async function checkEntries(dir: string, pins: Pins, entries: LockEntry[], options: { token?: string | undefined } = {}): Promise<Refusal[]> {
  const refusals: Refusal[] = [];
  const refuse = (entry: LockEntry, reason: string) => refusals.push({ name: entry.name, version: entry.version, installedAs: entry.installedAs, reason });

  const previous = await readReceipt(dir, { pins });
  const previousPublisher = new Map((previous?.packages ?? []).map((p) => [p.name, p.publisher]));
  const lookups = new Map<Manager, (name: string) => string | undefined>();
  const configured = (manager: Manager, name: string) => {
    let lookup = lookups.get(manager);
    if (!lookup) lookups.set(manager, (lookup = configuredRegistry(dir, manager)));
    return lookup(name);
  };

  const requests: ProvenanceRequest[] = [];
  const checked: LockEntry[] = [];
  for (const entry of entries) {
    const plan = planEntry(entry, pins);
    if (plan.status === "failed") refuse(entry, describeFailure(plan.failure));
    if (plan.status !== "check") continue;
    const fromManager = configured(entry.manager, entry.name);
    checked.push(entry);
    requests.push({
      spec: { name: entry.name, version: entry.version },
      namespace: plan.namespace,
      pin: plan.pin,
      sha512: plan.sha512,
      locators: [registryOfTarball(entry.resolved, entry.name), fromManager].filter((l): l is string => typeof l === "string" && /^https?:\/\//.test(l)),
      tarballFrom: plan.sha512 === undefined ? fromManager : undefined,
      previousPublisher: previousPublisher.get(entry.name),
    });
  }
  const outcomes = await findProvenance(requests, { policy: pins.policy, token: options.token ?? process.env.COUNTERSIGN_TOKEN });
  outcomes.forEach((outcome, i) => {
    const entry = checked[i]!;
    if (outcome.status === "failed") refuse(entry, describeFailure(outcome.failure));
    else if (outcome.status === "unavailable") refuse(entry, `${outcome.message} (refused: a package of a pinned namespace is installed only once it verifies)`);
  });
  return refusals;
}

/** The one-line summary an integration aborts an install with. */
export function refusalSummary(refusals: Refusal[]): string {
  const first = refusals[0];
  if (!first) return "";
  const more = refusals.length > 1 ? ` (and ${refusals.length - 1} more: ${refusals.slice(1).map((r) => specKey(r)).join(", ")})` : "";
  return `countersign: ${first.reason}${more}`;
}
