/**
 * @module
 * The consumer's pins: which registry keys may vouch for which namespace. Committed to the
 * consumer's repository as `countersign.json` (docs/PROTOCOL.md §14):
 *
 *     {
 *       "version": 1,
 *       "registries": {
 *         "acme": { "url": "https://npm.acme.dev", "fingerprints": ["SHA256:…"] }
 *       },
 *       "namespaces": {
 *         "@acme": "acme",          // must be countersigned by a key of registry "acme"
 *         "acme-billing": "acme",   // an unscoped internal name, pinned by itself
 *         "@*": "reject",           // any other scope: refuse
 *         "*": "allow"              // any other unscoped name: accept unverified, and report it
 *       }
 *     }
 *
 * A name's rule is its exact namespace's, else `@*` (scoped names) or `*` (unscoped names),
 * else "reject": nothing is trusted by omission. The URL is only where to ask for provenance;
 * trust comes from the fingerprints alone.
 *
 * `countersign init` writes the strict form: the team's namespaces pinned, every other
 * namespace the lockfile uses listed as "allow", and `"@*": "reject"` (and `"*": "reject"`),
 * so that a scope or name that appears later — a look-alike such as `@babel-core` — is
 * rejected until someone allows it by name.
 */

import * as z from "zod/mini";
import { isFingerprint } from "./keys.js";
import { ANY_SCOPE, ANY_UNSCOPED, checkNamespace, isLegacyUnscopedName, namespaceOf } from "./names.js";
import { parsePolicy, type Policy } from "./policy.js";
import { fail, ok, type Result } from "./result.js";
import { parseWith } from "./schema.js";

export const PINS_FILE = "countersign.json";

const RegistryName = z.string().check(z.regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, "registry names are lowercase a-z 0-9 . _ -"));

/** A witness's cosignature verifier key (c2sp.org/signed-note vkey of type 0x04; checked fully when used). */
const WITNESS_VKEY = /^[^\s+]{1,256}\+[0-9a-f]{8}\+B[A-P][A-Za-z0-9+/]{42}$/;

/**
 * The witnesses whose cosignatures a registry's log checkpoints need (C2SP tlog-policy's
 * `group <quorum> <witnesses…>` over one flat group): at least `quorum` of `keys` must have
 * cosigned every checkpoint verification relies on.
 */
const WitnessPolicy = z
  .strictObject({
    quorum: z.number().check(z.int(), z.gte(1), z.lte(32)),
    keys: z.array(z.string().check(z.regex(WITNESS_VKEY, "expected a witness's cosignature key (<name>+<hex8>+<base64 of 0x04 and the key>)"))).check(z.minLength(1), z.maxLength(32)),
  })
  .check(z.refine((w) => w.quorum <= w.keys.length, "quorum is larger than the number of witness keys"))
  .check(z.refine((w) => new Set(w.keys).size === w.keys.length, "a witness key is listed twice"));

/**
 * A registry key rotated away (PROTOCOL §21): trusted only for countersignatures with a sequence
 * number below `until` (the rotation's log index) and checkpoints of trees up to that size.
 * Written by `verify` when it follows a rotation, so old versions stay verifiable offline.
 */
const RetiredKey = z.strictObject({
  fingerprint: z.string().check(z.refine(isFingerprint, "expected a full SHA256: fingerprint")),
  until: z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER)),
  /** The rotation declared the key compromised: its countersignatures count only below this index. */
  compromisedSince: z.optional(z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER))),
});

const RegistryPin = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: "expected an http(s) URL" }),
  fingerprints: z.array(z.string().check(z.refine(isFingerprint, "expected a full SHA256: fingerprint"))).check(z.minLength(1)),
  retired: z.optional(z.array(RetiredKey).check(z.maxLength(64))),
  witnesses: z.optional(WitnessPolicy),
});

export type WitnessPolicy = z.infer<typeof WitnessPolicy>;
export type RetiredKey = z.infer<typeof RetiredKey>;

const PinsSchema = z.strictObject({
  version: z.literal(1),
  registries: z.record(RegistryName, RegistryPin),
  namespaces: z.record(z.string(), z.string()),
  /** Governance rules over signed attributes, checked by policy.ts. */
  policy: z.optional(z.unknown()),
  /** Receipt keys (fingerprints) the runtime hook trusts besides the machine's own: e.g. CI's (§17). */
  receipts: z.optional(z.strictObject({ signers: z.array(z.string().check(z.refine(isFingerprint, "expected a full SHA256: fingerprint"))) })),
});

/** A checked pins document; `policy`, when present, is already parsed (policy.ts). */
export type Pins = Omit<z.infer<typeof PinsSchema>, "policy"> & { policy?: Policy };
export type RegistryPin = z.infer<typeof RegistryPin>;

export type PinRule =
  | { kind: "registry"; registry: string; url: string; fingerprints: string[]; retired?: RetiredKey[]; witnesses?: WitnessPolicy }
  | { kind: "allow" }
  | { kind: "reject" };

export interface Resolution {
  namespace: string;
  rule: PinRule;
  /** The key of `namespaces` that matched, or null for the built-in default (reject). */
  matched: string | null;
}

export type RuleAction = "allow" | "reject";
export const isRuleAction = (target: unknown): target is RuleAction => target === "allow" || target === "reject";

/**
 * Whether `namespace` may carry `target` in `namespaces`: a wildcard, or a namespace as
 * `checkNamespace` defines it. An allow/reject rule may also name an unscoped package whose
 * legacy npm name no new package may have (`JSONStream`): lockfiles contain such names, and a
 * project that uses one must be able to allow it by name. A registry pin never can, since no
 * countersign registry publishes such a name.
 */
export function checkPinNamespace(namespace: string, target: string): { ok: true } | { ok: false; reason: string } {
  if (namespace === ANY_SCOPE || namespace === ANY_UNSCOPED) return { ok: true };
  if (isRuleAction(target) && isLegacyUnscopedName(namespace)) return { ok: true };
  return checkNamespace(namespace);
}

/** Parses and checks a pins document: known registries, valid namespaces, no dangling names. */
export function parsePins(value: unknown): Result<Pins> {
  const parsed = parseWith(PinsSchema, value, "pins");
  if (!parsed.ok) return parsed;
  const pins = parsed.value;
  for (const [namespace, target] of Object.entries(pins.namespaces)) {
    const check = checkPinNamespace(namespace, target);
    if (!check.ok) return fail(`namespaces: "${namespace}" is not a namespace: ${check.reason}`);
    // Own properties only: a package named "constructor" must not find Object.prototype's.
    if (!isRuleAction(target) && !Object.hasOwn(pins.registries, target)) {
      return fail(`namespaces: "${namespace}" refers to registry "${target}", which is not in registries (or use "allow" / "reject")`);
    }
  }
  if (pins.policy === undefined) return ok({ ...pins, policy: undefined });
  const policy = parsePolicy(pins.policy);
  if (!policy.ok) return policy;
  return ok({ ...pins, policy: policy.value });
}

export function resolvePin(pins: Pins, name: string): Resolution {
  const namespace = namespaceOf(name);
  const fallback = namespace.startsWith("@") ? ANY_SCOPE : ANY_UNSCOPED;
  // Own properties only: `"constructor" in {}` is true, and "constructor" is a package name.
  const matched = Object.hasOwn(pins.namespaces, namespace) ? namespace : Object.hasOwn(pins.namespaces, fallback) ? fallback : null;
  const target = matched === null ? "reject" : pins.namespaces[matched]!;
  if (target === "allow") return { namespace, rule: { kind: "allow" }, matched };
  if (target === "reject") return { namespace, rule: { kind: "reject" }, matched };
  const registry = pins.registries[target]!;
  const rule: PinRule = {
    kind: "registry",
    registry: target,
    url: registry.url,
    fingerprints: registry.fingerprints,
    ...(registry.retired?.length ? { retired: registry.retired } : {}),
    ...(registry.witnesses ? { witnesses: registry.witnesses } : {}),
  };
  return { namespace, rule, matched };
}

/** A new, empty pins document. */
export function emptyPins(): Pins {
  return { version: 1, registries: {}, namespaces: {} };
}
