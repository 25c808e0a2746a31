/**
 * @module
 * Package metadata in the transparency log (PROTOCOL §19.1). Every serial the registry signs is a
 * log entry (core/package-metadata.ts `metadataRecordEntry`: the name, the serial and the digest
 * of what the statement lists), so a registry cannot show one consumer a version list or a
 * `latest` it hides from the others: each view it signs is in the one log monitors read.
 *
 * A serial is recorded the first time it is signed for someone: a publish records its own at
 * once (its checkpoint then covers both), a dist-tag change or a deprecation before it answers,
 * and any other change (a revocation raising a whole namespace's serials) on the first read
 * that serves it. Consumers
 * require the record (`metadataLog`: its index, and a tlog-proof once a checkpoint covers it).
 */

import { metadataRecordEntry, metadataRecordOf, fromUtf8, type Envelope, type Signer } from "../core/index.js";
import type { LogHandle } from "./log/handle.js";
import { signedMetadata } from "./metadata.js";
import type { MetaStore } from "./storage/meta.js";

/** Where a served statement's serial is in the log. */
export interface MetadataLogRef {
  index: number;
  /** Against the log's latest checkpoint; absent until a checkpoint covers the record. */
  tlogProof?: string;
}

/** A statement as signed for an answer, and its serial's log index if the read found one. */
export interface SignedForAnswer {
  envelope: Envelope;
  recorded?: number | undefined;
}

/** The log index of each statement's serial, recording those not recorded yet (one round trip for all of them). */
export async function recordServed(meta: Pick<MetaStore, "recordMetadata">, signed: ReadonlyMap<string, SignedForAnswer>): Promise<Map<string, number>> {
  const indexes = new Map<string, number>();
  const missing = [];
  for (const [name, { envelope, recorded }] of signed) {
    if (recorded) {
      indexes.set(name, recorded);
      continue;
    }
    const record = await metadataRecordOf(envelope);
    if (!record.ok) {
      // A statement its own consumers would refuse (e.g. beyond the schema's limits): served
      // without a record, that package alone fails closed; the rest of the answer is unaffected.
      console.error(`log: the metadata of ${name} does not parse, so it is not recorded: ${record.error}`);
      continue;
    }
    missing.push({ name, serial: record.value.serial, entry: fromUtf8(metadataRecordEntry(record.value)) });
  }
  for (const [name, index] of await meta.recordMetadata(missing)) indexes.set(name, index);
  return indexes;
}

/**
 * Each record's tlog-proof against the latest checkpoint. A record no checkpoint covers yet (one
 * made for this answer) waits for the sequencer's next round, once for all of them, so a consumer
 * reading right after a change is not told to retry; if the sequencer fails, the index alone is
 * served (the consumer proves it from the tiles, or fails with `not_in_log`).
 */
export async function withProofs(log: LogHandle, indexes: ReadonlyMap<string, number>): Promise<Map<string, MetadataLogRef>> {
  const out = new Map<string, MetadataLogRef>();
  const wanted = [...new Set(indexes.values())];
  const proofs = new Map<number, string>();
  try {
    if (wanted.length) {
      let answer = await log.proofs(wanted);
      const uncovered = wanted.filter((_, i) => typeof answer.proofs[i] !== "string");
      if (uncovered.length) {
        await log.logged(Math.max(...uncovered));
        answer = await log.proofs(wanted);
      }
      wanted.forEach((index, i) => {
        const proof = answer.proofs[i];
        if (typeof proof === "string") proofs.set(index, proof);
      });
    }
  } catch (err) {
    console.error(`log: no proofs for ${wanted.length} metadata record(s), serving their indexes: ${err instanceof Error ? err.message : String(err)}`);
  }
  for (const [name, index] of indexes) {
    const proof = proofs.get(index);
    out.set(name, proof === undefined ? { index } : { index, tlogProof: proof });
  }
  return out;
}

/**
 * Each package's statement, signed from what D1 holds now, and the log index of its serial
 * (recorded now where it was not): two round trips, the second a write only for new serials.
 */
export async function signAndRecord(
  deps: { meta: Pick<MetaStore, "metadataSources" | "recordMetadata">; signer: () => Promise<Signer>; origin: string; now: Date },
  names: string[],
): Promise<{ signed: Map<string, Envelope>; indexes: Map<string, number> }> {
  const [sources, signer] = await Promise.all([deps.meta.metadataSources(names), deps.signer()]);
  const signed = new Map<string, SignedForAnswer>(
    await Promise.all([...sources].map(async ([name, source]) => [name, { envelope: await signedMetadata(signer, deps.origin, name, source, deps.now), recorded: source.recorded }] as const)),
  );
  const indexes = await recordServed(deps.meta, signed);
  return { signed: new Map([...signed].map(([name, s]) => [name, s.envelope])), indexes };
}

/**
 * After a change (a publish, a dist-tag, a deprecation): signs and records the new serial of each
 * package, so the change's checkpoint covers it and monitors see it without anyone reading it.
 * Never throws: a serial left unrecorded is recorded by the first read that serves it.
 */
export async function recordChange(deps: { meta: Pick<MetaStore, "metadataSources" | "recordMetadata">; signer: Signer; origin: string | undefined; now: Date }, names: string[]): Promise<void> {
  const { origin, signer } = deps;
  if (origin === undefined || names.length === 0) return;
  try {
    await signAndRecord({ meta: deps.meta, signer: async () => signer, origin, now: deps.now }, names);
  } catch (err) {
    console.error(`log: the new metadata of ${names.join(", ")} is not recorded yet (its first read will): ${err instanceof Error ? err.message : String(err)}`);
  }
}
