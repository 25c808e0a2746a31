/**
 * @module
 * The test vectors of docs/PROTOCOL.md, computed from fixed inputs with the core functions.
 * test/core/vectors.test.ts regenerates them and compares with docs/vectors.json, so the
 * document cannot drift from the code. Regenerate after an intended change with
 * `npm run vectors`.
 */

import {
  artifactDigests,
  BUNDLE_MEDIA_TYPE,
  countersign,
  countersignatureEntry,
  createSigner,
  ED25519_TYPE,
  formatCheckpoint,
  formatTlogProof,
  formatVerifierKey,
  genesisEntry,
  leafHash,
  logOrigin,
  logSigner,
  nodeHash,
  signNote,
  fingerprint,
  fromBase64,
  fromHex,
  keyPairFromSeed,
  openEnvelope,
  pae,
  parsePublishStatement,
  signIdentity,
  approvalTarget,
  openStatement,
  PUBLISH_STATEMENT,
  signApproval,
  signPackageMetadata,
  metadataRecordEntry,
  metadataRecordOf,
  signPublishStatement,
  signRegistryStatement,
  signRotation,
  sha256,
  sriFromHex,
  sshPublicKeyBlob,
  sshPublicKeyLine,
  toBase64,
  toHex,
  utf8,
  type Bundle,
} from "../../src/core/index.js";

// RFC 8032 §7.1 TEST 2 and TEST 1 keys: public, well-known, never to be used for anything real.
export const PUBLISHER_SEED = "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb";
export const REGISTRY_SEED = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
// RFC 8032 §7.1 TEST 3: the second key that approves a staged publish (PROTOCOL §12.1).
export const APPROVER_SEED = "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7";
// RFC 8032 §7.1 TEST 1024: the registry's successor key in the rotation vector (PROTOCOL §21).
export const NEXT_REGISTRY_SEED = "f5e5767cf153319517630f226876b86c8160cc583bc013744c6bf255f5cc0ee5";

export async function computeVectors() {
  const publisherPair = await keyPairFromSeed(fromHex(PUBLISHER_SEED)!);
  const registryPair = await keyPairFromSeed(fromHex(REGISTRY_SEED)!);
  const [publisher, registry] = await Promise.all([createSigner(publisherPair), createSigner(registryPair)]);

  const artifact = utf8("hello, countersign\n");
  const digests = await artifactDigests(artifact);
  const publishEnvelope = await signPublishStatement({
    name: "@acme/hello",
    version: "1.0.0",
    digests,
    size: artifact.length,
    publisher,
    createdAt: new Date("2026-11-24T12:00:00.000Z"),
  });
  const opened = openEnvelope(publishEnvelope);
  if ("problem" in opened) throw new Error(opened.problem);
  const parsed = await parsePublishStatement(opened.payload);
  if (!parsed.ok) throw new Error(parsed.error);
  const countersignature = await countersign(opened, parsed.value.statement, registry, {
    origin: "https://registry.example",
    publishedAt: new Date("2026-11-24T12:00:01.000Z"),
    sequence: 1,
  });
  const bundle: Bundle = { mediaType: BUNDLE_MEDIA_TYPE, publisher: publishEnvelope, countersignature };
  const identity = await signIdentity({ name: "example", origin: "https://registry.example", namespaces: ["@acme"], issuedAt: new Date("2026-11-24T12:00:00.000Z") }, registry);

  // The log of that registry after this publication: genesis, then the countersignature (PROTOCOL §18).
  const genesis = genesisEntry("https://registry.example", registryPair.keyid);
  const entry1 = countersignatureEntry(countersignature);
  if (!entry1.ok) throw new Error(entry1.error);
  const [leaf0, leaf1] = await Promise.all([leafHash(genesis), leafHash(entry1.value)]);
  const root = await nodeHash(leaf0, leaf1);
  const origin = logOrigin("https://registry.example");
  const checkpoint = await signNote(formatCheckpoint({ origin, size: 2, rootHash: root, extensions: [] }), await logSigner("https://registry.example", registry));
  if (!checkpoint.ok) throw new Error("checkpoint");

  // The package's signed metadata after this publication (PROTOCOL §19).
  const metadata = await signPackageMetadata(
    {
      name: "@acme/hello",
      origin: "https://registry.example",
      serial: 1795521601000, // the time of the change, in ms (migrations/0008)
      versions: [{ version: "1.0.0", sequence: 1, sha512: digests.sha512, publishedAt: "2026-11-24T12:00:01.000Z" }],
      distTags: { latest: "1.0.0" },
      issuedAt: new Date("2026-11-24T12:00:00.000Z"),
    },
    registry,
  );

  // That serial's log entry (PROTOCOL §19.1): the name, the serial and the digest of what it lists.
  const record = await metadataRecordOf(metadata);
  if (!record.ok) throw new Error("vector metadata record");
  const recordEntry = metadataRecordEntry(record.value);

  // The publisher key's enrolment in @acme, a registry statement at log index 2 (PROTOCOL §20),
  // and its revocation, voiding the key's versions from sequence 1 on.
  const enrolment = await signRegistryStatement(
    { kind: "key_enrolled", namespace: "@acme", key: { keyid: publisherPair.keyid, publicKey: toBase64(publisherPair.publicKey), label: "alice" } },
    { origin: "https://registry.example", sequence: 2, at: "2026-11-24T11:00:00.000Z" },
    registry,
  );
  const revocation = await signRegistryStatement({ kind: "key_revoked", namespace: "@acme", keyid: publisherPair.keyid, since: 1 }, { origin: "https://registry.example", sequence: 3, at: "2026-11-25T09:00:00.000Z" }, registry);

  // A second key's approval of the publish statement (PROTOCOL §12.1).
  const approverPair = await keyPairFromSeed(fromHex(APPROVER_SEED)!);
  const publishOpened = await openStatement(publishEnvelope, PUBLISH_STATEMENT);
  if (!publishOpened.ok) throw new Error("vector publish envelope");
  const approval = await signApproval(await approvalTarget(publishOpened.value), await createSigner(approverPair), new Date("2026-11-24T12:30:00.000Z"));

  // The registry's key rotated to its successor at log index 4 (PROTOCOL §21).
  const nextPair = await keyPairFromSeed(fromHex(NEXT_REGISTRY_SEED)!);
  const rotation = await signRotation({ origin: "https://registry.example", sequence: 4, at: "2026-11-26T09:00:00.000Z" }, registry, await createSigner(nextPair));

  const decode = (b64: string) => new TextDecoder().decode(fromBase64(b64));
  return {
    keys: {
      publisher: { seed: PUBLISHER_SEED, publicKey: toBase64(publisherPair.publicKey), ssh: sshPublicKeyLine(publisherPair.publicKey), fingerprint: publisherPair.keyid },
      registry: { seed: REGISTRY_SEED, publicKey: toBase64(registryPair.publicKey), ssh: sshPublicKeyLine(registryPair.publicKey), fingerprint: registryPair.keyid },
      fingerprintInputSha256: toHex(await sha256(sshPublicKeyBlob(registryPair.publicKey))),
    },
    pae: { payloadType: "application/vnd.in-toto+json", payload: "hello", hex: toHex(pae("application/vnd.in-toto+json", utf8("hello"))) },
    artifact: { utf8: "hello, countersign\n", size: artifact.length, ...digests, integrity: sriFromHex("sha512", digests.sha512) },
    publishStatement: decode(publishEnvelope.payload),
    publishEnvelope,
    countersignStatement: decode(countersignature.payload),
    bundle,
    identityDocument: decode(identity.payload),
    identity,
    log: {
      origin,
      key: await formatVerifierKey(origin, ED25519_TYPE, registryPair.publicKey),
      genesisEntry: new TextDecoder().decode(genesis),
      leafHashes: [toHex(leaf0), toHex(leaf1)],
      root: toHex(root),
      checkpoint: checkpoint.value,
      tlogProof: formatTlogProof({ index: 1, proof: [leaf0], checkpoint: checkpoint.value }),
    },
    metadataStatement: decode(metadata.payload),
    metadata,
    metadataRecord: { contentSha256: record.value.contentSha256, entry: new TextDecoder().decode(recordEntry), leafHash: toHex(await leafHash(recordEntry)) },
    registryStatements: { enrolment: { statement: decode(enrolment.payload), envelope: enrolment }, revocation: { statement: decode(revocation.payload), envelope: revocation } },
    rotation: { next: { seed: NEXT_REGISTRY_SEED, publicKey: toBase64(nextPair.publicKey), fingerprint: nextPair.keyid }, statement: decode(rotation.payload), envelope: rotation },
    approval: { approver: { seed: APPROVER_SEED, publicKey: toBase64(approverPair.publicKey), fingerprint: approverPair.keyid }, statement: decode(approval.payload), envelope: approval },
    check: { registryKeyidIsFingerprint: (await fingerprint(registryPair.publicKey)) === registryPair.keyid },
  };
}

export type Vectors = Awaited<ReturnType<typeof computeVectors>>;
