/**
 * @module
 * Registry statements (PROTOCOL §20): what a registry says about its namespaces and publisher
 * keys, signed by its key and appended to its transparency log like a countersignature, so that
 * nobody — the registry included — can give a namespace a new publisher key, or take one away,
 * without every monitor seeing it.
 *
 *     namespace_claimed   the registry became authoritative for `namespace`
 *     key_enrolled        `key` may publish in `namespace` from now on
 *     key_revoked         `keyid` may no longer publish in `namespace`; every version it
 *                         published with a sequence number ≥ `since` is void (`since` is the
 *                         statement's own sequence for "from now on", or earlier for a key that
 *                         was stolen before it was revoked)
 *
 * Each statement carries its own `sequence`, which is its log index: the registry's versions and
 * statements share one sequence of numbers, allocated at the commit point (storage/d1.ts), so the
 * log orders every enrolment and revocation against every version. A log entry is the payload
 * bytes the registry signed, exactly as for countersignatures (log.ts).
 */

import * as z from "zod/mini";
import { toBase64, utf8 } from "./bytes.js";
import { signEnvelope, type Envelope } from "./dsse.js";
import { Fingerprint, Timestamp } from "./fields.js";
import { checkNamespace } from "./names.js";
import { fail, type Result } from "./result.js";
import { parseJsonBytes } from "./schema.js";
import type { Signer } from "./signature.js";
import { openStatement, type OpenOptions, type SignedObjectProblem, type StatementFormat } from "./signed.js";

export const REGISTRY_STATEMENT_PAYLOAD_TYPE = "application/vnd.countersign.registry-statement.v1+json";
export const REGISTRY_STATEMENT_TYPE = "https://countersign.dev/registry-statement/v1";

const Sequence = z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER));
const Label = z.string().check(z.maxLength(200));

const Common = {
  _type: z.literal(REGISTRY_STATEMENT_TYPE),
  registry: z.strictObject({ keyid: Fingerprint, publicKey: z.string(), origin: z.string().check(z.maxLength(2048)) }),
  /** The statement's log index. */
  sequence: Sequence,
  at: Timestamp,
  namespace: z.string().check(z.maxLength(214)),
};

const StatementSchema = z.discriminatedUnion("kind", [
  z.strictObject({ ...Common, kind: z.literal("namespace_claimed") }),
  z.strictObject({ ...Common, kind: z.literal("key_enrolled"), key: z.strictObject({ keyid: Fingerprint, publicKey: z.string(), label: Label }) }),
  z.strictObject({ ...Common, kind: z.literal("key_revoked"), keyid: Fingerprint, since: Sequence }),
]);

export type RegistryStatement = z.infer<typeof StatementSchema>;
export type RegistryStatementKind = RegistryStatement["kind"];

/** What the registry states, before its key, origin, sequence number and time are added. */
export type RegistryClaim =
  | { kind: "namespace_claimed"; namespace: string }
  | { kind: "key_enrolled"; namespace: string; key: { keyid: string; publicKey: string; label: string } }
  | { kind: "key_revoked"; namespace: string; keyid: string; since: number };

export async function signRegistryStatement(claim: RegistryClaim, context: { origin: string; sequence: number; at: string }, signer: Signer): Promise<Envelope> {
  const common = {
    _type: REGISTRY_STATEMENT_TYPE,
    registry: { keyid: signer.keyid, publicKey: toBase64(signer.publicKey), origin: context.origin },
    sequence: context.sequence,
    at: context.at,
    namespace: claim.namespace,
  } as const;
  // Field order is fixed here (the log entry is these bytes), whatever order the claim has.
  const statement: RegistryStatement =
    claim.kind === "namespace_claimed"
      ? { ...common, kind: claim.kind }
      : claim.kind === "key_enrolled"
        ? { ...common, kind: claim.kind, key: { keyid: claim.key.keyid, publicKey: claim.key.publicKey, label: claim.key.label } }
        : { ...common, kind: claim.kind, keyid: claim.keyid, since: claim.since };
  return signEnvelope(REGISTRY_STATEMENT_PAYLOAD_TYPE, utf8(JSON.stringify(statement)), signer);
}

/** Parses a statement's payload bytes (attacker-controlled): schema and self-consistency. */
export function parseRegistryStatement(payload: Uint8Array): Result<RegistryStatement> {
  const parsed = parseJsonBytes(payload, StatementSchema, "registry statement");
  if (!parsed.ok) return parsed;
  const s = parsed.value;
  const namespace = checkNamespace(s.namespace);
  if (!namespace.ok) return fail(`registry statement: namespace ${JSON.stringify(s.namespace)}: ${namespace.reason}`);
  if (s.kind === "key_revoked" && s.since > s.sequence) return fail("registry statement: a revocation cannot void versions after its own sequence number");
  return parsed;
}

/** Signed by the registry key the statement names. */
export const REGISTRY_STATEMENT_FORMAT: StatementFormat<RegistryStatement> = {
  payloadType: REGISTRY_STATEMENT_PAYLOAD_TYPE,
  what: "a registry statement",
  parse: parseRegistryStatement,
  signer: (statement) => ({ role: "registry", keyid: statement.registry.keyid, publicKey: statement.registry.publicKey }),
};

/** Opens a served registry statement; with `trusted`, only a pinned registry key may have signed it. */
export function openRegistryStatement(value: unknown, options: OpenOptions = {}) {
  return openStatement(value, REGISTRY_STATEMENT_FORMAT, options);
}

export type RegistryStatementProblem = SignedObjectProblem<RegistryStatement>;

/** One line for humans: "key_enrolled @acme SHA256:… (ci)". */
export function describeRegistryStatement(s: RegistryStatement): string {
  switch (s.kind) {
    case "namespace_claimed":
      return `namespace ${s.namespace} claimed`;
    case "key_enrolled":
      return `publisher key ${s.key.keyid}${s.key.label ? ` (${s.key.label})` : ""} enrolled in ${s.namespace}`;
    case "key_revoked":
      return `publisher key ${s.keyid} revoked in ${s.namespace}; its versions from sequence ${s.since} on are void`;
  }
}
