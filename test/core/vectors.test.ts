/**
 * docs/PROTOCOL.md's test vectors: regenerated from fixed inputs and compared with the committed
 * docs/vectors.json, checked with an independent Ed25519 implementation (node:crypto), and
 * required to appear verbatim in the document.
 */

import { createHash, createPublicKey, verify as nodeVerify } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fromBase64, openIdentity, pae, verifyBundle, verifyTlogProof, logVerifier, countersignatureEntry, type Envelope } from "../../src/core/index.js";
import { ROOT } from "../helpers/paths.js";
import { computeVectors, type Vectors } from "../helpers/vectors.js";

const committed = JSON.parse(readFileSync(join(ROOT, "docs", "vectors.json"), "utf8")) as Vectors;
const protocol = readFileSync(join(ROOT, "docs", "PROTOCOL.md"), "utf8");

/** Verifies a DSSE envelope with Node's own Ed25519 (OpenSSL), not our code. */
function nodeVerifies(envelope: Envelope, publicKeyB64: string): boolean {
  const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(publicKeyB64, "base64").toString("base64url") }, format: "jwk" });
  return nodeVerify(null, pae(envelope.payloadType, fromBase64(envelope.payload)!), key, Buffer.from(envelope.signatures[0]!.sig, "base64"));
}

describe("protocol test vectors", () => {
  it("are reproduced exactly by the code", async () => {
    expect(JSON.parse(JSON.stringify(await computeVectors()))).toEqual(committed);
  });

  it("verify with an independent Ed25519 implementation", () => {
    expect(nodeVerifies(committed.publishEnvelope, committed.keys.publisher.publicKey)).toBe(true);
    expect(nodeVerifies(committed.bundle.countersignature, committed.keys.registry.publicKey)).toBe(true);
    expect(nodeVerifies(committed.identity, committed.keys.registry.publicKey)).toBe(true);
    expect(nodeVerifies(committed.metadata, committed.keys.registry.publicKey)).toBe(true);
    expect(nodeVerifies(committed.registryStatements.enrolment.envelope, committed.keys.registry.publicKey)).toBe(true);
    expect(nodeVerifies(committed.registryStatements.revocation.envelope, committed.keys.registry.publicKey)).toBe(true);
    expect(nodeVerifies(committed.approval.envelope, committed.approval.approver.publicKey)).toBe(true);
    // A rotation carries two signatures over one PAE: the old key's, then the new key's.
    const [old, next] = committed.rotation.envelope.signatures;
    expect(nodeVerifies({ ...committed.rotation.envelope, signatures: [old!] }, committed.keys.registry.publicKey)).toBe(true);
    expect(nodeVerifies({ ...committed.rotation.envelope, signatures: [next!] }, committed.rotation.next.publicKey)).toBe(true);
  });

  it("the bundle verifies against the registry fingerprint, and the identity document against its pin", async () => {
    const result = await verifyBundle({ name: "@acme/hello", version: "1.0.0", artifact: { sha512: committed.artifact.sha512, sha256: committed.artifact.sha256, size: committed.artifact.size }, bundle: committed.bundle, pinned: [committed.keys.registry.fingerprint] });
    expect(result.ok).toBe(true);
    expect((await openIdentity(committed.identity, [committed.keys.registry.fingerprint])).ok).toBe(true);
  });

  it("the log vector: leaves, root and checkpoint signature by node:crypto; the tlog-proof by the core", async () => {
    const sha = (...parts: Buffer[]) => createHash("sha256").update(Buffer.concat(parts)).digest();
    const entry1 = Buffer.from(committed.bundle.countersignature.payload, "base64");
    const leaves = [sha(Buffer.of(0), Buffer.from(committed.log.genesisEntry)), sha(Buffer.of(0), entry1)];
    expect(leaves.map((l) => l.toString("hex"))).toEqual(committed.log.leafHashes);
    expect(sha(Buffer.of(1), leaves[0]!, leaves[1]!).toString("hex")).toBe(committed.log.root);
    // The note signature: the 4-byte key hash, then Ed25519 over the checkpoint text (newline included).
    const [text, signatures] = committed.log.checkpoint.split("\n\n");
    const sig = Buffer.from(signatures!.split(" ").at(-1)!, "base64");
    const key = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(committed.keys.registry.publicKey, "base64").toString("base64url") }, format: "jwk" });
    expect(nodeVerify(null, Buffer.from(`${text}\n`), key, sig.subarray(4))).toBe(true);
    const verifier = await logVerifier("https://registry.example", fromBase64(committed.keys.registry.publicKey)!);
    const entry = countersignatureEntry(committed.bundle.countersignature);
    expect(verifier.ok && entry.ok && (await verifyTlogProof(committed.log.tlogProof, entry.value, { origin: committed.log.origin, verifier: verifier.value })).ok).toBe(true);
  });

  it("a metadata record's digest and leaf hash, recomputed with node:crypto from the statement", () => {
    const { registry: _registry, issuedAt: _issued, expires: _expires, ...contents } = JSON.parse(committed.metadataStatement) as Record<string, unknown>;
    const contentSha256 = createHash("sha256").update(JSON.stringify(contents)).digest("hex");
    expect(committed.metadataRecord.contentSha256).toBe(contentSha256);
    const entry = JSON.stringify({ _type: "https://countersign.dev/package-metadata-record/v1", name: "@acme/hello", serial: JSON.parse(committed.metadataStatement).serial, contentSha256 });
    expect(committed.metadataRecord.entry).toBe(entry);
    // RFC 6962 leaf hash: SHA-256 of 0x00 ‖ entry.
    expect(committed.metadataRecord.leafHash).toBe(createHash("sha256").update(Buffer.concat([Buffer.from([0]), Buffer.from(entry)])).digest("hex"));
  });

  it("appear verbatim in docs/PROTOCOL.md", () => {
    const expected = [
      committed.keys.publisher.fingerprint,
      committed.keys.registry.fingerprint,
      committed.keys.registry.ssh,
      committed.keys.registry.publicKey,
      committed.pae.hex,
      committed.artifact.sha512,
      committed.artifact.integrity,
      committed.publishStatement,
      committed.publishEnvelope.signatures[0]!.sig,
      committed.countersignStatement,
      committed.bundle.countersignature.signatures[0]!.sig,
      committed.identity.signatures[0]!.sig,
      committed.log.key,
      committed.log.genesisEntry,
      ...committed.log.leafHashes,
      committed.log.root,
      committed.log.tlogProof,
      committed.metadataStatement,
      committed.metadata.signatures[0]!.sig,
      committed.metadataRecord.entry,
      committed.metadataRecord.leafHash,
      committed.registryStatements.enrolment.statement,
      committed.registryStatements.enrolment.envelope.signatures[0]!.sig,
      committed.registryStatements.revocation.statement,
      committed.registryStatements.revocation.envelope.signatures[0]!.sig,
      committed.rotation.statement,
      committed.rotation.envelope.signatures[0]!.sig,
      committed.rotation.envelope.signatures[1]!.sig,
      committed.approval.statement,
      committed.approval.envelope.signatures[0]!.sig,
    ];
    for (const value of expected) expect(protocol, value.slice(0, 60)).toContain(value);
  });
});
