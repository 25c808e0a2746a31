/**
 * @module
 * `MetaStore` on D1. Schema: migrations/0001_init.sql. Each method issues one statement or one
 * `batch` (a single round trip, and a transaction for writes).
 */

import type { MetaStore, PublisherKeyRow, TokenRow, VersionRow } from "./meta.js";

interface VersionRecord {
  name: string;
  version: string;
  namespace: string;
  sequence: number;
  size: number;
  sha256: string;
  sha512: string;
  sha1: string;
  publisher_keyid: string;
  bundle: string;
  manifest: string | null;
  published_at: string;
  deprecated: string | null;
}

interface KeyRecord {
  namespace: string;
  keyid: string;
  public_key: string;
  label: string;
  created_at: string;
  revoked_at: string | null;
}

interface TokenRecord {
  id: string;
  scope: "read" | "publish";
  namespaces: string;
  label: string;
  created_at: string;
  revoked_at: string | null;
}

const VERSION_COLUMNS = "name, version, namespace, sequence, size, sha256, sha512, sha1, publisher_keyid, bundle, manifest, published_at, deprecated";

const toVersion = (r: VersionRecord): VersionRow => ({
  name: r.name,
  version: r.version,
  namespace: r.namespace,
  sequence: r.sequence,
  size: r.size,
  sha256: r.sha256,
  sha512: r.sha512,
  sha1: r.sha1,
  publisherKeyid: r.publisher_keyid,
  bundle: r.bundle,
  manifest: r.manifest,
  publishedAt: r.published_at,
  deprecated: r.deprecated,
});

const toKey = (r: KeyRecord): PublisherKeyRow => ({
  namespace: r.namespace,
  keyid: r.keyid,
  publicKey: r.public_key,
  label: r.label,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

const toToken = (r: TokenRecord): TokenRow => ({
  id: r.id,
  scope: r.scope,
  namespaces: JSON.parse(r.namespaces) as string[],
  label: r.label,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
});

const isUniqueViolation = (err: unknown) => err instanceof Error && /UNIQUE constraint failed|SQLITE_CONSTRAINT/.test(err.message);

export function d1MetaStore(db: D1Database): MetaStore {
  return {
    async createNamespace(namespace, now) {
      const res = await db.prepare("INSERT INTO namespaces (namespace, created_at) VALUES (?, ?) ON CONFLICT DO NOTHING").bind(namespace, now).run();
      return res.meta.changes === 1 ? "created" : "exists";
    },

    async listNamespaces() {
      const { results } = await db
        .prepare(
          `SELECT n.namespace, n.created_at, COUNT(k.keyid) AS active_keys FROM namespaces n
           LEFT JOIN publisher_keys k ON k.namespace = n.namespace AND k.revoked_at IS NULL
           GROUP BY n.namespace ORDER BY n.namespace`,
        )
        .all<{ namespace: string; created_at: string; active_keys: number }>();
      return results.map((r) => ({ namespace: r.namespace, createdAt: r.created_at, activeKeys: r.active_keys }));
    },

    async enrolKey(row) {
      const res = await db
        .prepare(
          `INSERT INTO publisher_keys (namespace, keyid, public_key, label, created_at)
           SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM namespaces WHERE namespace = ?1)
           ON CONFLICT DO NOTHING RETURNING keyid`,
        )
        .bind(row.namespace, row.keyid, row.publicKey, row.label, row.createdAt)
        .all();
      if (res.results.length === 1) return "enrolled";
      const exists = await db.prepare("SELECT 1 FROM namespaces WHERE namespace = ?").bind(row.namespace).first();
      return exists ? "exists" : "no_namespace";
    },

    async revokeKey(namespace, keyid, now) {
      const res = await db
        .prepare("UPDATE publisher_keys SET revoked_at = ? WHERE namespace = ? AND keyid = ? AND revoked_at IS NULL")
        .bind(now, namespace, keyid)
        .run();
      return res.meta.changes === 1 ? "revoked" : "not_found";
    },

    async listKeys(namespace) {
      const [ns, keys] = await db.batch<unknown>([
        db.prepare("SELECT 1 AS found FROM namespaces WHERE namespace = ?").bind(namespace),
        db.prepare("SELECT * FROM publisher_keys WHERE namespace = ? ORDER BY created_at, keyid").bind(namespace),
      ]);
      if (!ns!.results.length) return null;
      return (keys!.results as KeyRecord[]).map(toKey);
    },

    async createToken(row) {
      await db
        .prepare("INSERT INTO tokens (id, hash, scope, namespaces, label, created_at) VALUES (?, ?, ?, ?, ?, ?)")
        .bind(row.id, row.hash, row.scope, JSON.stringify(row.namespaces), row.label, row.createdAt)
        .run();
    },

    async listTokens() {
      const { results } = await db.prepare("SELECT id, scope, namespaces, label, created_at, revoked_at FROM tokens ORDER BY created_at, id").all<TokenRecord>();
      return results.map(toToken);
    },

    async revokeToken(id, now) {
      const res = await db.prepare("UPDATE tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL").bind(now, id).run();
      return res.meta.changes === 1 ? "revoked" : "not_found";
    },

    async findToken(hash) {
      const row = await db.prepare("SELECT id, scope, namespaces, label, created_at, revoked_at FROM tokens WHERE hash = ?").bind(hash).first<TokenRecord>();
      return row ? toToken(row) : null;
    },

    async publishContext(q) {
      const [token, ns, key, version, tag] = await db.batch<unknown>([
        db.prepare("SELECT id, scope, namespaces, label, created_at, revoked_at FROM tokens WHERE hash = ?").bind(q.tokenHash ?? ""),
        db.prepare("SELECT 1 AS found FROM namespaces WHERE namespace = ?").bind(q.namespace),
        db.prepare("SELECT * FROM publisher_keys WHERE namespace = ? AND keyid = ?").bind(q.namespace, q.keyid),
        db.prepare("SELECT 1 AS found FROM versions WHERE name = ? AND version = ?").bind(q.name, q.version),
        db.prepare("SELECT version FROM dist_tags WHERE name = ? AND tag = ?").bind(q.name, q.tag),
      ]);
      const tokenRow = token!.results[0] as TokenRecord | undefined;
      const keyRow = key!.results[0] as KeyRecord | undefined;
      const tagRow = tag!.results[0] as { version: string } | undefined;
      return {
        token: tokenRow ? toToken(tokenRow) : null,
        namespaceExists: ns!.results.length > 0,
        key: keyRow ? toKey(keyRow) : null,
        versionExists: version!.results.length > 0,
        taggedVersion: tagRow?.version ?? null,
      };
    },

    async nextSequence() {
      const row = await db.prepare("UPDATE counters SET value = value + 1 WHERE name = 'sequence' RETURNING value").first<{ value: number }>();
      if (!row) throw new Error("counters table is missing its sequence row: were migrations applied?");
      return row.value;
    },

    async commitVersion(row, tag) {
      const statements = [
        db
          .prepare(`INSERT INTO versions (${VERSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
          .bind(row.name, row.version, row.namespace, row.sequence, row.size, row.sha256, row.sha512, row.sha1, row.publisherKeyid, row.bundle, row.manifest, row.publishedAt, row.deprecated),
      ];
      if (tag) {
        // Compare-and-swap: the tag moves only if nobody moved it since publishContext read it.
        statements.push(
          tag.from === null
            ? db.prepare("INSERT INTO dist_tags (name, tag, version) VALUES (?, ?, ?) ON CONFLICT DO NOTHING").bind(row.name, tag.tag, row.version)
            : db.prepare("UPDATE dist_tags SET version = ? WHERE name = ? AND tag = ? AND version = ?").bind(row.version, row.name, tag.tag, tag.from),
        );
      }
      try {
        await db.batch(statements);
        return "committed";
      } catch (err) {
        if (isUniqueViolation(err)) return "exists";
        throw err;
      }
    },

    async getVersion(name, version) {
      const row = await db.prepare(`SELECT ${VERSION_COLUMNS} FROM versions WHERE name = ? AND version = ?`).bind(name, version).first<VersionRecord>();
      return row ? toVersion(row) : null;
    },

    async listVersions(name) {
      const [versions, tags] = await db.batch<unknown>([
        db.prepare(`SELECT ${VERSION_COLUMNS} FROM versions WHERE name = ? ORDER BY sequence`).bind(name),
        db.prepare("SELECT tag, version FROM dist_tags WHERE name = ? ORDER BY tag").bind(name),
      ]);
      return {
        versions: (versions!.results as VersionRecord[]).map(toVersion),
        tags: Object.fromEntries((tags!.results as { tag: string; version: string }[]).map((t) => [t.tag, t.version])),
      };
    },
  };
}
