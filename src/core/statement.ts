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
 * §4–5 gives every field, and test vectors.
 *
 * The payload bytes are what is signed (DSSE), so serialisation is ordinary `JSON.stringify`;
 * parsing is strict (unknown fields are rejected) because these are attacker-controlled.
 */

import { toBase64, toHex, utf8 } from "./bytes.js";
import { sha256, type ArtifactDigests } from "./digest.js";
import { signEnvelope, type Envelope, type OpenedEnvelope } from "./dsse.js";
import { fingerprint, KEY_PROBLEM_TEXT, parsePublicKey } from "./keys.js";
import { checkPackageName, checkVersion, purl } from "./names.js";
import { fail, ok, type Result } from "./result.js";
import * as z from "zod/mini";
import { Attributes } from "./attributes.js";
import { Fingerprint, hex, Size, Subject, Timestamp } from "./fields.js";
import { parseJsonBytes } from "./schema.js";
import { encodeSignature, type Signer } from "./signature.js";

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

const PublishStatementSchema = statement(PUBLISH_PREDICATE, PublishPredicate);
const CountersignStatementSchema = statement(COUNTERSIGN_PREDICATE, CountersignPredicate);

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

/** The registry's statement over an accepted publish statement (docs/PROTOCOL.md §5). */
export function buildCountersignStatement(input: {
  publish: PublishStatement;
  publisher: { keyid: string; statementSha256: string; sig: string };
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
 * verified `publisher` (and the enrolment of its key); this only builds and signs.
 */
export async function countersign(
  publisher: OpenedEnvelope,
  statement: PublishStatement,
  registry: Signer,
  at: { origin: string; publishedAt: Date; sequence: number },
): Promise<Envelope> {
  const built = buildCountersignStatement({
    publish: statement,
    publisher: { keyid: publisher.keyid, statementSha256: toHex(await sha256(publisher.payload)), sig: encodeSignature(publisher.signature) },
    registry: { keyid: registry.keyid, publicKey: toBase64(registry.publicKey), origin: at.origin },
    publishedAt: at.publishedAt,
    sequence: at.sequence,
  });
  return signCountersignStatement(built, registry);
}

/** A parsed publish statement whose internal consistency has been checked (not its signature). */
export interface ParsedPublishStatement {
  statement: PublishStatement;
  publisherKey: Uint8Array;
}

/**
 * Parses the publisher's payload (attacker-controlled) and checks that it is self-consistent:
 * valid name and version, namespace and subject derived from them, and a publisher key that is
 * acceptable and matches its fingerprint.
 */
export async function parsePublishStatement(payload: Uint8Array): Promise<Result<ParsedPublishStatement>> {
  const parsed = parseJsonBytes(payload, PublishStatementSchema, "statement");
  if (!parsed.ok) return parsed;
  const statement = parsed.value;
  const { predicate } = statement;
  const consistency = checkIdentity(predicate, statement.subject[0].name);
  if (consistency) return fail(consistency);
  const key = parsePublicKey(predicate.publisher.publicKey);
  if ("problem" in key) return fail(`publisher public key rejected: ${KEY_PROBLEM_TEXT[key.problem]}`);
  if ((await fingerprint(key.key)) !== predicate.publisher.keyid) return fail("publisher keyid is not the fingerprint of the publisher public key");
  return ok({ statement, publisherKey: key.key });
}

export interface ParsedCountersignStatement {
  statement: CountersignStatement;
  registryKey: Uint8Array;
}

/** Same as `parsePublishStatement`, for the registry's countersignature payload. */
export async function parseCountersignStatement(payload: Uint8Array): Promise<Result<ParsedCountersignStatement>> {
  const parsed = parseJsonBytes(payload, CountersignStatementSchema, "statement");
  if (!parsed.ok) return parsed;
  const statement = parsed.value;
  const { predicate } = statement;
  const consistency = checkIdentity(predicate, statement.subject[0].name);
  if (consistency) return fail(consistency);
  const key = parsePublicKey(predicate.registry.publicKey);
  if ("problem" in key) return fail(`registry public key rejected: ${KEY_PROBLEM_TEXT[key.problem]}`);
  if ((await fingerprint(key.key)) !== predicate.registry.keyid) return fail("registry keyid is not the fingerprint of the registry public key");
  return ok({ statement, registryKey: key.key });
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


