/**
 * @module
 * `WitnessStore` on D1. Schema: migrations-witness/0001_witness_init.sql.
 *
 * Why D1 and not a Durable Object: the compare-and-swap is one conditional SQL statement
 * (`INSERT … ON CONFLICT DO NOTHING` for a first checkpoint, `UPDATE … WHERE size = ? AND
 * root_hash = ?` afterwards), which D1 runs atomically on its single primary, and `meta.changes`
 * says whether it happened. That is all the spec's atomicity needs; a witness sees about one
 * request per log checkpoint (seconds apart), far from D1's write limits. D1 also needs no extra
 * class or migration tag in the Worker, and operators already know it from the registry. Reads
 * may be stale (a replica): a stale read costs a 409, never a rollback, since the write is
 * conditional on the primary.
 */

import { fromBase64, toBase64 } from "../core/index.js";
import type { StoredCheckpoint, SwapOutcome, WitnessStore } from "./store.js";

interface CheckpointRecord {
  size: number;
  root_hash: string;
  note: string;
  cosignature: string;
  updated_at: string;
}

function toStored(record: CheckpointRecord): StoredCheckpoint {
  const rootHash = fromBase64(record.root_hash);
  // Only this module writes the table; a bad row is corruption, not input, and must not be served.
  if (!rootHash || rootHash.length !== 32 || !Number.isSafeInteger(record.size) || record.size < 0) throw new Error("corrupt witness_checkpoints row");
  return { size: record.size, rootHash, note: record.note, cosignature: record.cosignature, updatedAt: record.updated_at };
}

export function d1WitnessStore(db: D1Database): WitnessStore {
  const latest = async (origin: string) => {
    const record = await db.prepare("SELECT size, root_hash, note, cosignature, updated_at FROM witness_checkpoints WHERE origin = ?1").bind(origin).first<CheckpointRecord>();
    return record ? toStored(record) : undefined;
  };
  return {
    latest,
    async swap(origin, expected, next): Promise<SwapOutcome> {
      const values = [origin, next.size, toBase64(next.rootHash), next.note, next.cosignature, next.updatedAt];
      const result = expected
        ? await db
            .prepare(
              "UPDATE witness_checkpoints SET size = ?2, root_hash = ?3, note = ?4, cosignature = ?5, updated_at = ?6 WHERE origin = ?1 AND size = ?7 AND root_hash = ?8",
            )
            .bind(...values, expected.size, toBase64(expected.rootHash))
            .run()
        : await db
            .prepare("INSERT INTO witness_checkpoints (origin, size, root_hash, note, cosignature, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (origin) DO NOTHING")
            .bind(...values)
            .run();
      if (result.meta.changes === 1) return { swapped: true };
      return { swapped: false, current: await latest(origin) };
    },
  };
}
