/**
 * @module
 * The two signed statements of the protocol, both in-toto Statement v1 inside DSSE envelopes.
 *
 * 1. The **publish statement**, signed by the publisher at packaging time: "I, key P, publish
 *    these bytes as name@version in namespace N", plus signed attributes.
 * 2. The **countersignature**, signed by the registry at publication time: "I, registry R at
 *    origin O, accepted publisher P's statement (by digest and signature) for name@version in
 *    namespace N, whose key P was enrolled for N, as my publication number S at time T".
 *
 * Both share one subject: the artifact's purl and its sha256 and sha512 digests. docs/PROTOCOL.md
 * §5–6 gives every field, and test vectors. Both are opened with `openStatement` (signed.ts) and
 * the formats below: `PUBLISH_STATEMENT`, `COUNTERSIGN_STATEMENT`.
 *
 * The payload bytes are what is signed (DSSE), so serialisation is ordinary `JSON.stringify`;
 * parsing is strict (unknown fields are rejected) because these are attacker-controlled.
 */

import { isLowerHex, toBase64, toHex, utf8 } from "./bytes.js";
import { sha256, type ArtifactDigests } from "./digest.js";
import { isExactObject, signEnvelope, type Envelope, type OpenedEnvelope } from "./dsse.js";
import { checkPackageName, checkVersion, purl } from "./names.js";
import { fail, ok, type MaybePromise, type Result } from "./result.js";
import * as z from "zod/mini";
import { Attributes } from "./attributes.js";
import { Fingerprint, hex, isTimestamp, Size, Subject, Timestamp } from "./fields.js";
import { isFingerprint } from "./keys.js";
import { parseJsonBytes } from "./schema.js";
import { encodeSignature, sha256HexNative, type Signer } from "./signature.js";
import { vetSignerKey, type SignerKey, type SignedObjectCode, type SignedObjectProblem, type StatementFormat } from "./signed.js";

export const IN_TOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json";
export const STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
export const PUBLISH_PREDICATE = "https://countersign.dev/attestation/publish/v1";
export const COUNTERSIGN_PREDICATE = "https://countersign.dev/attestation/countersign/v1";

const PublishPredicate = z.strictObject({
  name: z.string(),
  version: z.string(),
  namespace: z.string(),
  artifact: z.strictObject({ size: Size }),
  publisher: z.strictObject({ keyid: Fingerprint, publicKey: z.string() }),
  createdAt: Timestamp,
  attributes: Attributes,
});

const CountersignPredicate = z.strictObject({
  name: z.string(),
  version: z.string(),
  namespace: z.string(),
  artifact: z.strictObject({ size: Size }),
  publisher: z.strictObject({ keyid: Fingerprint, statementSha256: hex(32), sig: z.string() }),
  /** Staged publishing (approval.ts): the second key's approval, bound as the publisher statement is. Absent: not staged. */
  approval: z.optional(z.strictObject({ keyid: Fingerprint, statementSha256: hex(32), sig: z.string() })),
  registry: z.strictObject({ keyid: Fingerprint, publicKey: z.string(), origin: z.string() }),
  publishedAt: Timestamp,
  sequence: z.number().check(z.int(), z.positive(), z.lte(Number.MAX_SAFE_INTEGER)),
});

const statement = <P extends z.ZodMiniType>(predicateType: string, predicate: P) =>
  z.strictObject({
    _type: z.literal(STATEMENT_TYPE),
    subject: z.tuple([Subject]),
    predicateType: z.literal(predicateType),
    predicate,
  });

export const PublishStatementSchema = statement(PUBLISH_PREDICATE, PublishPredicate);
export const CountersignStatementSchema = statement(COUNTERSIGN_PREDICATE, CountersignPredicate);

export type PublishStatement = z.infer<typeof PublishStatementSchema>;
export type CountersignStatement = z.infer<typeof CountersignStatementSchema>;

export interface PublishInput {
  name: string;
  version: string;
  digests: ArtifactDigests;
  size: number;
  publisher: Signer;
  createdAt?: Date;
  attributes?: Attributes;
}

export function buildPublishStatement(input: Omit<PublishInput, "publisher"> & { publisher: { keyid: string; publicKey: string } }): PublishStatement {
  const name = checkPackageName(input.name);
  if (!name.ok) throw new TypeError(name.reason);
  const version = checkVersion(input.version);
  if (!version.ok) throw new TypeError(version.reason);
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: purl(input.name, input.version), digest: { sha256: input.digests.sha256, sha512: input.digests.sha512 } }],
    predicateType: PUBLISH_PREDICATE,
    predicate: {
      name: input.name,
      version: input.version,
      namespace: name.namespace,
      artifact: { size: input.size },
      publisher: input.publisher,
      createdAt: (input.createdAt ?? new Date()).toISOString(),
      attributes: input.attributes ?? {},
    },
  };
}

/** Builds and signs the publisher's statement: the first signature of the protocol. */
export async function signPublishStatement(input: PublishInput): Promise<Envelope> {
  const statement = buildPublishStatement({ ...input, publisher: { keyid: input.publisher.keyid, publicKey: toBase64(input.publisher.publicKey) } });
  return signEnvelope(IN_TOTO_PAYLOAD_TYPE, encodeStatement(statement), input.publisher);
}

export function encodeStatement(statement: PublishStatement | CountersignStatement): Uint8Array {
  return utf8(JSON.stringify(statement));
}

/** How a countersignature binds a signed statement: its signer, the SHA-256 of its payload, its signature. */
export interface StatementBinding {
  keyid: string;
  statementSha256: string;
  sig: string;
}

/** The registry's statement over an accepted publish statement (docs/PROTOCOL.md §6). */
export function buildCountersignStatement(input: {
  publish: PublishStatement;
  publisher: StatementBinding;
  /** The approval of a staged publish (approval.ts); omitted for a direct publish. */
  approval?: StatementBinding | undefined;
  registry: { keyid: string; publicKey: string; origin: string };
  publishedAt: Date;
  sequence: number;
}): CountersignStatement {
  const { name, version, namespace, artifact } = input.publish.predicate;
  return {
    _type: STATEMENT_TYPE,
    subject: [structuredClone(input.publish.subject[0])],
    predicateType: COUNTERSIGN_PREDICATE,
    predicate: {
      name,
      version,
      namespace,
      artifact: { size: artifact.size },
      publisher: input.publisher,
      ...(input.approval ? { approval: input.approval } : {}),
      registry: input.registry,
      publishedAt: input.publishedAt.toISOString(),
      sequence: input.sequence,
    },
  };
}

export async function signCountersignStatement(statement: CountersignStatement, registry: Signer): Promise<Envelope> {
  return signEnvelope(IN_TOTO_PAYLOAD_TYPE, encodeStatement(statement), registry);
}

/**
 * The registry's second signature over an accepted publish statement. The caller has already
 * verified `publisher` (and the enrolment of its key), and `approval` if the publish was staged;
 * this only builds and signs.
 */
export async function countersign(
  publisher: Pick<OpenedEnvelope, "keyid" | "payload" | "signature">,
  statement: PublishStatement,
  registry: Signer,
  at: { origin: string; publishedAt: Date; sequence: number; approval?: Pick<OpenedEnvelope, "keyid" | "payload" | "signature"> | undefined },
): Promise<Envelope> {
  const built = buildCountersignStatement({
    publish: statement,
    publisher: await bindingOf(publisher),
    approval: at.approval && (await bindingOf(at.approval)),
    registry: { keyid: registry.keyid, publicKey: toBase64(registry.publicKey), origin: at.origin },
    publishedAt: at.publishedAt,
    sequence: at.sequence,
  });
  return signCountersignStatement(built, registry);
}

/** How a countersignature names a verified envelope (§6). */
export async function bindingOf(envelope: Pick<OpenedEnvelope, "keyid" | "payload" | "signature">): Promise<StatementBinding> {
  return { keyid: envelope.keyid, statementSha256: await statementSha256(envelope.payload), sig: encodeSignature(envelope.signature) };
}

/** The hex SHA-256 of a statement's payload bytes, by which a countersignature binds it (§6). */
export function statementSha256(payload: Uint8Array): MaybePromise<string> {
  return sha256HexNative(payload) ?? sha256(payload).then(toHex);
}

/** A format whose statement names its own signer, as both of these do. */
type NamedFormat<T> = StatementFormat<T> & { readonly signer: (statement: T) => SignerKey };

/** The publisher's envelope as a signed format: signed by the key its statement names (§5). */
export const PUBLISH_STATEMENT: NamedFormat<PublishStatement> = {
  payloadType: IN_TOTO_PAYLOAD_TYPE,
  what: "an in-toto statement",
  parse: (payload) => parseStatement(payload, PublishStatementSchema, isPublishStatement),
  signer: ({ predicate }: PublishStatement) => ({ role: "publisher", keyid: predicate.publisher.keyid, publicKey: predicate.publisher.publicKey }),
};

/** The registry's countersignature as a signed format: signed by the registry key it names (§6). */
export const COUNTERSIGN_STATEMENT: NamedFormat<CountersignStatement> = {
  payloadType: IN_TOTO_PAYLOAD_TYPE,
  what: "an in-toto statement",
  parse: (payload) => parseStatement(payload, CountersignStatementSchema, isCountersignStatement),
  signer: ({ predicate }: CountersignStatement) => ({ role: "registry", keyid: predicate.registry.keyid, publicKey: predicate.registry.publicKey }),
};

const ENVELOPE_PROBLEMS: ReadonlySet<SignedObjectCode> = new Set(["malformed_envelope", "unexpected_signer", "wrong_payload_type"]);

/** One line for a problem with the publisher's envelope, as the Worker and the verifier report it. */
export function describePublisherProblem(problem: SignedObjectProblem): string {
  return `publisher ${ENVELOPE_PROBLEMS.has(problem.code) ? "envelope" : "statement"}: ${problem.message}`;
}

/** A parsed publish statement whose internal consistency has been checked (not its signature). */
export interface ParsedPublishStatement {
  statement: PublishStatement;
  publisherKey: Uint8Array;
}

/**
 * Parses the publisher's payload (attacker-controlled) without its envelope, for display and for
 * test fixtures: valid name and version, namespace and subject derived from them, and a publisher
 * key that is acceptable and matches its fingerprint. Verification uses `openStatement`.
 */
export async function parsePublishStatement(payload: Uint8Array): Promise<Result<ParsedPublishStatement>> {
  const parsed = await parseWithKey(PUBLISH_STATEMENT, payload);
  return parsed.ok ? ok({ statement: parsed.value.statement, publisherKey: parsed.value.key }) : parsed;
}

export interface ParsedCountersignStatement {
  statement: CountersignStatement;
  registryKey: Uint8Array;
}

/** Same as `parsePublishStatement`, for the registry's countersignature payload. */
export async function parseCountersignStatement(payload: Uint8Array): Promise<Result<ParsedCountersignStatement>> {
  const parsed = await parseWithKey(COUNTERSIGN_STATEMENT, payload);
  return parsed.ok ? ok({ statement: parsed.value.statement, registryKey: parsed.value.key }) : parsed;
}

async function parseWithKey<T>(format: NamedFormat<T>, payload: Uint8Array): Promise<Result<{ statement: T; key: Uint8Array }>> {
  const parsed = format.parse(payload);
  if (!parsed.ok) return parsed;
  const verifier = await vetSignerKey(format.signer(parsed.value));
  return verifier.ok ? ok({ statement: parsed.value, key: verifier.value.publicKey }) : fail(verifier.error.message);
}

function parseStatement<S extends PublishStatement | CountersignStatement>(payload: Uint8Array, schema: z.ZodMiniType<S>, accept: (value: unknown) => value is S): Result<S> {
  const parsed = parseJsonBytes(payload, schema, "statement", accept);
  if (!parsed.ok) return parsed;
  const consistency = checkIdentity(parsed.value.predicate, parsed.value.subject[0].name);
  return consistency ? fail(consistency) : parsed;
}

function checkIdentity(predicate: { name: string; version: string; namespace: string }, subjectName: string): string | undefined {
  const name = checkPackageName(predicate.name);
  if (!name.ok) return name.reason;
  const version = checkVersion(predicate.version);
  if (!version.ok) return version.reason;
  if (predicate.namespace !== name.namespace) return `namespace "${predicate.namespace}" does not match the name's namespace ${name.namespace}`;
  if (subjectName !== purl(predicate.name, predicate.version)) return "subject name is not the purl of name@version";
  return undefined;
}

// Fast acceptance for the verifier's hot path (schema.ts `parseJsonBytes`): a statement of exactly
// the schemas' shape (every field present, no other field) is taken as it is; anything else is
// left to zod, which decides and words the error. These may only accept what the schemas accept:
// test/core/signed.test.ts checks them against zod on valid and mutated statements.

export function isPublishStatement(value: unknown): value is PublishStatement {
  if (!isFrame(value, PUBLISH_PREDICATE)) return false;
  const p = value.predicate;
  return (
    isExactObject(p, ["name", "version", "namespace", "artifact", "publisher", "createdAt", "attributes"]) &&
    typeof p.name === "string" &&
    typeof p.version === "string" &&
    typeof p.namespace === "string" &&
    isArtifact(p.artifact) &&
    isExactObject(p.publisher, ["keyid", "publicKey"]) &&
    isFingerprint(p.publisher.keyid) &&
    typeof p.publisher.publicKey === "string" &&
    isTimestamp(p.createdAt) &&
    isAttributes(p.attributes)
  );
}

export function isCountersignStatement(value: unknown): value is CountersignStatement {
  if (!isFrame(value, COUNTERSIGN_PREDICATE)) return false;
  // A bound approval (staged publishing, the rare case) has no fast path: zod judges it.
  const p = value.predicate;
  return (
    isExactObject(p, ["name", "version", "namespace", "artifact", "publisher", "registry", "publishedAt", "sequence"]) &&
    typeof p.name === "string" &&
    typeof p.version === "string" &&
    typeof p.namespace === "string" &&
    isArtifact(p.artifact) &&
    isExactObject(p.publisher, ["keyid", "statementSha256", "sig"]) &&
    isFingerprint(p.publisher.keyid) &&
    isLowerHex(p.publisher.statementSha256, 64) &&
    typeof p.publisher.sig === "string" &&
    isExactObject(p.registry, ["keyid", "publicKey", "origin"]) &&
    isFingerprint(p.registry.keyid) &&
    typeof p.registry.publicKey === "string" &&
    typeof p.registry.origin === "string" &&
    isTimestamp(p.publishedAt) &&
    isCount(p.sequence, 1)
  );
}

function isFrame(value: unknown, predicateType: string): value is { subject: unknown[]; predicate: Record<string, unknown> } {
  if (!isExactObject(value, ["_type", "subject", "predicateType", "predicate"]) || value._type !== STATEMENT_TYPE || value.predicateType !== predicateType) return false;
  const { subject } = value;
  if (!Array.isArray(subject) || subject.length !== 1) return false;
  const [s] = subject;
  return (
    isExactObject(s, ["name", "digest"]) &&
    typeof s.name === "string" &&
    isExactObject(s.digest, ["sha256", "sha512"]) &&
    isLowerHex(s.digest.sha256, 64) &&
    isLowerHex(s.digest.sha512, 128)
  );
}

/** No attributes (the common case) is an empty object; anything else is zod's to judge. */
function isAttributes(value: unknown): boolean {
  return isExactObject(value, NO_KEYS) || Attributes.safeParse(value).success;
}

const NO_KEYS: readonly string[] = [];

function isArtifact(value: unknown): boolean {
  return isExactObject(value, ["size"]) && isCount(value.size, 0);
}

/** A safe integer of at least `min` (zod's `int()` is `Number.isSafeInteger`). */
function isCount(value: unknown, min: number): boolean {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= min;
}
