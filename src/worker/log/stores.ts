/**
 * @module
 * The sequencer's storage (sequencer.ts): the tree in the Durable Object's SQLite, entries in
 * D1's versions, registry statements, key rotations and metadata records, proofs in D1's versions, published files in R2 under `log/`.
 */

import type { Hash } from "../../core/index.js";
import { storedHashCount } from "../../core/index.js";
import type { CommittedEntry, EntrySource, LogFiles, TreeState, TreeStore } from "./sequencer.js";
import type { WitnessSizes } from "./witnesses.js";

/** R2 key of a log file (`checkpoint`, `tile/…`): one prefix, never listed by the blob collector. */
export const logFileKey = (path: string) => `log/${path}`;

const SCHEMA = [
  "CREATE TABLE IF NOT EXISTS hashes (id INTEGER PRIMARY KEY, hash BLOB NOT NULL)",
  "CREATE TABLE IF NOT EXISTS tree (id INTEGER PRIMARY KEY CHECK (id = 1), size INTEGER NOT NULL, published INTEGER NOT NULL, proved INTEGER NOT NULL, checkpoint TEXT)",
  "INSERT OR IGNORE INTO tree (id, size, published, proved, checkpoint) VALUES (1, 0, 0, 0, NULL)",
  "CREATE TABLE IF NOT EXISTS witnesses (vkey TEXT PRIMARY KEY, size INTEGER NOT NULL)",
];

/** The tree in a Durable Object's SQLite storage. Synchronous, so each call is atomic. */
export function sqlTreeStore(storage: DurableObjectStorage): TreeStore {
  const sql = storage.sql;
  for (const statement of SCHEMA) sql.exec(statement);
  const read = (): TreeState => {
    const row = sql.exec<{ size: number; published: number; proved: number; checkpoint: string | null }>("SELECT size, published, proved, checkpoint FROM tree WHERE id = 1").one();
    return { size: row.size, published: row.published, proved: row.proved, checkpoint: row.checkpoint };
  };
  let state = read();
  return {
    state: () => ({ ...state }),
    readHashes(indexes) {
      if (indexes.length === 0) return [];
      const found = new Map<number, Hash>();
      for (const row of sql.exec<{ id: number; hash: ArrayBuffer }>(`SELECT id, hash FROM hashes WHERE id IN (${indexes.map((i) => Number(i)).join(",")})`)) {
        found.set(row.id, new Uint8Array(row.hash));
      }
      return indexes.map((i) => {
        const hash = found.get(i);
        if (!hash) throw new Error(`log: stored hash ${i} is missing (tree size ${state.size})`);
        return hash;
      });
    },
    append(size, hashes) {
      if (size !== state.size) throw new Error(`log: appending entry ${size} to a tree of size ${state.size}`);
      storage.transactionSync(() => {
        let id = storedHashCount(size);
        for (const hash of hashes) sql.exec("INSERT INTO hashes (id, hash) VALUES (?, ?)", id++, hash);
        sql.exec("UPDATE tree SET size = ? WHERE id = 1", size + 1);
      });
      state = { ...state, size: size + 1 };
    },
    published(size, checkpoint) {
      sql.exec("UPDATE tree SET published = ?, checkpoint = ? WHERE id = 1", size, checkpoint);
      state = { ...state, published: size, checkpoint };
    },
    proved(size) {
      sql.exec("UPDATE tree SET proved = ? WHERE id = 1", size);
      state = { ...state, proved: size };
    },
  };
}

/** The size each witness last cosigned, next to the tree (sqlTreeStore creates the table). */
export function sqlWitnessSizes(storage: DurableObjectStorage): WitnessSizes {
  return {
    get: (vkey) => storage.sql.exec<{ size: number }>("SELECT size FROM witnesses WHERE vkey = ?", vkey).toArray()[0]?.size ?? 0,
    set: (vkey, size) => void storage.sql.exec("INSERT INTO witnesses (vkey, size) VALUES (?, ?) ON CONFLICT (vkey) DO UPDATE SET size = excluded.size", vkey, size),
  };
}

/** Committed versions, registry statements, key rotations and metadata records in D1 (one sequence), the log's only source of entries. */
export function d1EntrySource(db: D1Database): EntrySource {
  return {
    async entries(from, limit) {
      const { results } = await db
        .prepare(
          `SELECT sequence, payload, entry FROM (
             SELECT sequence, json_extract(bundle, '$.countersignature.payload') AS payload, NULL AS entry FROM versions WHERE sequence >= ?1
             UNION ALL SELECT sequence, json_extract(envelope, '$.payload'), NULL FROM registry_statements WHERE sequence >= ?1
             UNION ALL SELECT sequence, json_extract(envelope, '$.payload'), NULL FROM key_rotations WHERE sequence >= ?1
             UNION ALL SELECT sequence, NULL, entry FROM metadata_records WHERE sequence >= ?1
           ) ORDER BY sequence LIMIT ?2`,
        )
        .bind(from, limit)
        .all<{ sequence: number; payload: unknown; entry: unknown }>();
      return results.map(
        (r): CommittedEntry => (typeof r.entry === "string" ? { index: r.sequence, payload: null, text: r.entry } : { index: r.sequence, payload: typeof r.payload === "string" ? r.payload : null }),
      );
    },
    async saveProofs(proofs) {
      if (proofs.length === 0) return;
      // Rewriting the bundle fires the packument-cache triggers (migration 0005): every cached
      // packument and bundle digest of the package is replaced on its next read.
      const update = db.prepare("UPDATE versions SET bundle = json_set(bundle, '$.tlogProof', ?) WHERE sequence = ?");
      await db.batch(proofs.map((p) => update.bind(p.proof, p.index)));
    },
  };
}

export function r2LogFiles(bucket: R2Bucket): LogFiles {
  return {
    async put(path, body) {
      await bucket.put(logFileKey(path), body, { httpMetadata: { contentType: path === "checkpoint" ? "text/plain; charset=utf-8" : "application/octet-stream" } });
    },
  };
}

/** Reads published log files (the routes' side of r2LogFiles). */
export function r2LogReader(bucket: R2Bucket) {
  return {
    async get(path: string): Promise<Uint8Array<ArrayBuffer> | null> {
      const object = await bucket.get(logFileKey(path));
      return object ? new Uint8Array(await object.arrayBuffer()) : null;
    },
  };
}
