/**
 * Registry statements (src/core/registry-statement.ts, PROTOCOL §20): each kind signs and opens
 * under the registry key it names, only under a pinned key when one is given; statements that
 * contradict themselves are refused however they are signed; any changed byte fails; the log
 * reads a statement's bytes as its entry at its own sequence number, and nowhere else.
 */
import { describe, expect, it } from "vitest";
import { expectAnyChangedByteFails } from "../helpers/tamper.js";
import {
  createSigner,
  describeRegistryStatement,
  fromBase64,
  generateKeyPair,
  openRegistryStatement,
  parseLogEntry,
  REGISTRY_STATEMENT_PAYLOAD_TYPE,
  REGISTRY_STATEMENT_TYPE,
  signEnvelope,
  signRegistryStatement,
  toBase64,
  utf8,
  type RegistryClaim,
} from "../../src/core/index.js";

const registry = await createSigner(await generateKeyPair());
const other = await createSigner(await generateKeyPair());
const publisher = await generateKeyPair();
const AT = "2026-11-26T12:00:00.000Z";
const ORIGIN = "https://npm.acme.dev";

const CLAIMS: RegistryClaim[] = [
  { kind: "namespace_claimed", namespace: "@acme" },
  { kind: "key_enrolled", namespace: "@acme", key: { keyid: publisher.keyid, publicKey: toBase64(publisher.publicKey), label: "ci" } },
  { kind: "key_revoked", namespace: "@acme", keyid: publisher.keyid, since: 7 },
];

const sign = (claim: RegistryClaim, sequence = 9, by = registry) => signRegistryStatement(claim, { origin: ORIGIN, sequence, at: AT }, by);

describe("registry statements", () => {
  it("each kind opens under the registry key it names, and under a pin only if pinned", async () => {
    for (const claim of CLAIMS) {
      const envelope = await sign(claim);
      expect(envelope.payloadType).toBe(REGISTRY_STATEMENT_PAYLOAD_TYPE);
      const opened = await openRegistryStatement(envelope, { trusted: [registry.keyid] });
      expect(opened.ok, claim.kind).toBe(true);
      if (!opened.ok) continue;
      expect(opened.value.statement).toMatchObject({ ...claim, _type: REGISTRY_STATEMENT_TYPE, sequence: 9, at: AT, registry: { keyid: registry.keyid, origin: ORIGIN } });
      expect(describeRegistryStatement(opened.value.statement)).toContain("@acme");
      const foreign = await openRegistryStatement(envelope, { trusted: [other.keyid] });
      expect(!foreign.ok && foreign.error.code).toBe("untrusted_signer");
    }
  });

  it("a statement signed by a key other than the one it names is refused", async () => {
    const honest = JSON.parse(new TextDecoder().decode(fromBase64((await sign(CLAIMS[1]!)).payload)!)) as Record<string, unknown>;
    const forged = await signEnvelope(REGISTRY_STATEMENT_PAYLOAD_TYPE, utf8(JSON.stringify(honest)), other);
    const opened = await openRegistryStatement(forged);
    expect(!opened.ok && opened.error.code).toBe("keyid_mismatch");
  });

  it("self-contradicting or malformed statements are refused however they are signed", async () => {
    const base = JSON.parse(new TextDecoder().decode(fromBase64((await sign(CLAIMS[2]!)).payload)!)) as Record<string, unknown>;
    const bad: [string, Record<string, unknown>][] = [
      ["a revocation voiding versions after itself", { since: 10 }],
      ["since 0", { since: 0 }],
      ["an invalid namespace", { namespace: "@Acme" }],
      ["an unknown kind", { kind: "key_borrowed" }],
      ["an unknown field", { note: "x" }],
      ["a sequence of 0", { sequence: 0, since: 0 }],
      ["a time without milliseconds", { at: "2026-11-26T12:00:00Z" }],
      ["a keyid that is not a fingerprint", { keyid: "alice" }],
    ];
    for (const [what, change] of bad) {
      const opened = await openRegistryStatement(await signEnvelope(REGISTRY_STATEMENT_PAYLOAD_TYPE, utf8(JSON.stringify({ ...base, ...change })), registry));
      expect(!opened.ok && opened.error.code, what).toBe("malformed_payload");
    }
  });

  it("any changed payload or signature byte fails", async () => {
    await expectAnyChangedByteFails(await sign(CLAIMS[1]!), (changed) => openRegistryStatement(changed, { trusted: [registry.keyid] }));
  });

  it("the log reads a statement as its entry at its own sequence number only", async () => {
    const payload = fromBase64((await sign(CLAIMS[2]!, 12)).payload)!;
    expect(parseLogEntry(payload, 12)).toMatchObject({ ok: true, value: { kind: "statement", index: 12, statement: { kind: "key_revoked", since: 7 } } });
    expect(parseLogEntry(payload, 13)).toMatchObject({ ok: false, error: expect.stringContaining("sequence number 12") });
    const broken = utf8(JSON.stringify({ _type: REGISTRY_STATEMENT_TYPE, kind: "key_revoked", sequence: 12 }));
    expect(parseLogEntry(broken, 12)).toMatchObject({ ok: false, error: expect.stringContaining("malformed registry statement") });
  });
});
