/**
 * Witnesses end to end (issue 10 §5): a registry configured with a witness (LOG_WITNESSES) sends
 * it every checkpoint and publishes the cosignature it gets back; a second registry holding the
 * SAME key and origin (a stolen key, an operator showing someone another log) cannot get its
 * forked tree cosigned, whether it is behind, equal or ahead of the witnessed one; a witness that
 * is down does not stop publishing, it only leaves the checkpoint without its cosignature.
 * Both Workers are the real bundles in workerd on 127.0.0.1.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  bufferSource,
  countersignatureEntry,
  ED25519_TYPE,
  formatVerifierKey,
  generateKeyPair,
  logOrigin,
  logVerifier,
  newCosignatureVerifier,
  openCheckpoint,
  utf8,
  verifyTlogProof,
  type Bundle,
  type KeyPair,
  type NoteVerifier,
} from "../../src/core/index.js";
import { adminApi } from "../helpers/actors.js";
import { encodeName, newPublisher, signedParts, uploadBody, type Publisher } from "../helpers/publisher.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { startWitness, type TestWitness } from "../helpers/witness.js";

const ORIGIN = "http://registry.witnessed.test";

let key: KeyPair;
let witness: TestWitness;
let witnessVerifier: NoteVerifier;
let logKey: NoteVerifier;
const running: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  key = await generateKeyPair();
  const made = await logVerifier(ORIGIN, key.publicKey);
  if (!made.ok) throw new Error(made.error);
  logKey = made.value;
  witness = await startWitness("witness.test/w1", [await formatVerifierKey(logOrigin(ORIGIN), ED25519_TYPE, key.publicKey)]);
  running.push(witness);
  const verifier = await newCosignatureVerifier(witness.vkey);
  if (!verifier.ok) throw new Error(verifier.error);
  witnessVerifier = verifier.value;
});

afterAll(async () => {
  for (const r of running.reverse()) await r.stop().catch(() => undefined);
});

/** A registry signing as ORIGIN with `key`, its log witnessed by `witness`, and a publisher enrolled in @w. */
async function witnessedRegistry(): Promise<{ registry: TestRegistry; publisher: Publisher; token: string }> {
  const registry = await startRegistry({ key, vars: { REGISTRY_ORIGIN: ORIGIN, LOG_WITNESSES: `${witness.vkey} ${witness.url}/` } });
  running.push(registry);
  const publisher = await newPublisher();
  await adminApi(registry, "POST", "/namespaces", { namespace: "@w" });
  await adminApi(registry, "POST", `/namespaces/${encodeURIComponent("@w")}/keys`, { publicKey: publisher.publicKey });
  const { token } = (await adminApi(registry, "POST", "/tokens", { scope: "publish", namespaces: ["@w"] })) as { token: string };
  return { registry, publisher, token };
}

async function publish(at: { registry: TestRegistry; publisher: Publisher; token: string }, name: string, version: string) {
  const body = await uploadBody(await signedParts(at.publisher, name, version, utf8(`${at.registry.url} ${name}@${version}`)));
  const response = await fetch(`${at.registry.url}/-/countersign/v1/packages/${encodeName(name)}/${version}`, {
    method: "PUT",
    headers: { authorization: `Bearer ${at.token}`, "content-type": "application/x-tar" },
    body: bufferSource(body),
  });
  expect(response.status).toBe(201);
  return (await response.json()) as { tlogProof: string; bundle: Bundle };
}

/** The registry's current checkpoint, opened with its log key and the witness: the witness's verified cosignatures. */
async function cosignaturesOf(registry: TestRegistry): Promise<{ size: number; cosigned: number }> {
  const text = await (await fetch(`${registry.url}/-/countersign/v1/log/checkpoint`)).text();
  const opened = await openCheckpoint(text, logOrigin(ORIGIN), logKey, [witnessVerifier]);
  if (!opened.ok) throw new Error(JSON.stringify(opened.error));
  return { size: opened.value.checkpoint.size, cosigned: opened.value.cosignatures.length };
}

describe("a witnessed log", () => {
  let team: Awaited<ReturnType<typeof witnessedRegistry>>;

  it("every checkpoint is cosigned by the witness, and the publish answer's proof carries the cosignature", async () => {
    team = await witnessedRegistry();
    for (const version of ["1.0.0", "1.0.1", "1.0.2"]) {
      const answer = await publish(team, "@w/lib", version);
      const entry = countersignatureEntry(answer.bundle.countersignature);
      if (!entry.ok) throw new Error(entry.error);
      const proved = await verifyTlogProof(answer.tlogProof, entry.value, { origin: logOrigin(ORIGIN), verifier: logKey, witnesses: [witnessVerifier] });
      if (!proved.ok) throw new Error(proved.error);
      expect(proved.value.cosignatures).toHaveLength(1);
    }
    expect(await cosignaturesOf(team.registry)).toEqual({ size: 9, cosigned: 1 }); // genesis, the namespace claim and enrolment, 3 versions and their metadata records
  });

  it("the same key and origin on another registry cannot get a forked tree cosigned, at any size", async () => {
    const fork = await witnessedRegistry();
    // Behind the witnessed size (5 < 9), then equal (9), then ahead (13): each is another tree.
    for (const [versions, size] of [[["6.6.6"], 5], [["6.6.7", "6.6.8"], 9], [["6.6.9", "6.7.0"], 13]] as const) {
      for (const v of versions) {
        const answer = await publish(fork, "@w/lib", v); // still published: the witness only withholds its signature
        const entry = countersignatureEntry(answer.bundle.countersignature);
        if (!entry.ok) throw new Error(entry.error);
        const proved = await verifyTlogProof(answer.tlogProof, entry.value, { origin: logOrigin(ORIGIN), verifier: logKey, witnesses: [witnessVerifier] });
        expect(proved.ok && proved.value.cosignatures).toEqual([]);
      }
      expect(await cosignaturesOf(fork.registry)).toEqual({ size, cosigned: 0 });
    }
    await fork.registry.stop();
    // The genuine log goes on being cosigned: the witness's view did not move to the fork.
    await publish(team, "@w/lib", "1.0.3");
    expect(await cosignaturesOf(team.registry)).toEqual({ size: 11, cosigned: 1 });
  });

  it("with the witness down, publishes still succeed; the checkpoint is published without its cosignature", async () => {
    await witness.stop();
    const answer = await publish(team, "@w/lib", "1.0.4");
    expect(answer.tlogProof).toBeTruthy();
    expect(await cosignaturesOf(team.registry)).toEqual({ size: 13, cosigned: 0 });
  });
});
