/**
 * @module
 * `MetaStore` on D1. Schema: migrations/ (0001_init.sql and the later ones). Each method issues
 * one statement or one `batch` (a single round trip, and a transaction for writes).
 */

import { MAX_DERIVED_TOKENS, type CommitOutcome, type MetaStore, type MetadataSource, type NamespaceRow, type PublisherKeyRow, type RevokedKey, type StatementRow, type TokenRow, type VersionRow } from "./meta.js";
import { namespaceOf } from "../../core/index.js";

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
  npm_signature: string | null;
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
  created_by?: string | null;
  prefix?: string;
}

const TOKEN_COLUMNS = "id, scope, namespaces, label, created_at, revoked_at, created_by, prefix";

const VERSION_COLUMNS = "name, version, namespace, sequence, size, sha256, sha512, sha1, publisher_keyid, bundle, manifest, published_at, deprecated, npm_signature";

const NAMESPACES_SQL = `SELECT n.namespace, n.created_at, COUNT(k.keyid) AS active_keys FROM namespaces n
  LEFT JOIN publisher_keys k ON k.namespace = n.namespace AND k.revoked_at IS NULL
  GROUP BY n.namespace ORDER BY n.namespace`;
type NamespaceRecord = { namespace: string; created_at: string; active_keys: number };
const toNamespace = (r: NamespaceRecord): NamespaceRow => ({ namespace: r.namespace, createdAt: r.created_at, activeKeys: r.active_keys });

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
  npmSignature: r.npm_signature ?? null,
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
  createdBy: r.created_by ?? null,
  prefix: r.prefix ?? "",
});

interface ReviewRecord {
  version: string;
  envelope: string;
}

/** Stored bundles never contain reviews; reads splice them in (JSON text, no re-parse). */
export function bundleWithReviews(bundle: string, reviews: string[]): string {
  return reviews.length ? `${bundle.slice(0, -1)},"reviews":[${reviews.join(",")}]}` : bundle;
}

function withReviews(rows: VersionRow[], reviews: ReviewRecord[]): VersionRow[] {
  for (const row of rows) {
    row.reviews = reviews.filter((r) => r.version === row.version).map((r) => r.envelope);
    row.bundle = bundleWithReviews(row.bundle, row.reviews);
  }
  return rows;
}

/**
 * A text key whose byte order (SQLite's BINARY collation) is semver precedence, for canonical
 * versions (core/names.ts checkVersion: no "v", no build metadata), so D1 can compare versions
 * inside the commit batch. Numbers are length-prefixed digits; a release sorts after its
 * prereleases ("~" > "-"); prerelease identifiers: numeric ("0") before alphanumeric ("1"),
 * each ended by "!" (below every identifier character), so a shorter list sorts first.
 */
export function semverSortKey(version: string): string {
  const dash = version.indexOf("-");
  const core = dash === -1 ? version : version.slice(0, dash);
  const number = (digits: string) => `${String(digits.length).padStart(3, "0")}${digits}`;
  const key = core.split(".").map(number).join("");
  if (dash === -1) return `${key}~`;
  const identifiers = version.slice(dash + 1).split(".");
  return `${key}-${identifiers.map((id) => (/^[0-9]+$/.test(id) ? `0${number(id)}` : `1${id}`) + "!").join("")}`;
}

const isUniqueViolation = (err: unknown) => err instanceof Error && /UNIQUE constraint failed|SQLITE_CONSTRAINT/.test(err.message);

/** D1's clock as text that sorts in time order: `2026-05-01T12:00:00.000Z`. */
const D1_NOW = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

/**
 * The highest sequence number committed: versions, registry statements, key rotations and
 * package metadata records share one sequence (migrations/0009, 0011, 0012), the log's indexes.
 * Four index probes.
 */
const LAST_SEQUENCE =
  "max((SELECT COALESCE(MAX(sequence), 0) FROM versions), (SELECT COALESCE(MAX(sequence), 0) FROM registry_statements), (SELECT COALESCE(MAX(sequence), 0) FROM key_rotations), (SELECT COALESCE(MAX(sequence), 0) FROM metadata_records))";

/**
 * How long a blob-collector claim (migrations/0004, src/worker/gc.ts) refuses commits of its
 * blob. The collector issues its R2 deletes within `GC_DELETE_DEADLINE_MS` of claiming, so a
 * delete that can still land happens well inside this window.
 */
export const BLOB_CLAIM_SECONDS = 300;

/**
 * Why a commit batch was refused. The version row's guards turn a conflict into a NULL in a NOT
 * NULL column, which aborts the whole batch (the tag statement included) with a message naming
 * the column: `sequence` (a sequence number at or below the highest committed one) or `sha512`
 * (the collector claimed the blob). A duplicate name@version is the primary key's UNIQUE failure.
 */
/** The revoked publisher keys of the namespaces a query names (append `AND namespace …`). */
const REVOKED_KEYS_SQL = "SELECT namespace, keyid, since, sequence, created_at FROM registry_statements WHERE kind = 'key_revoked'";
type RevokedRecord = { namespace: string; keyid: string; since: number; sequence: number; created_at: string };
const toRevokedKey = (r: RevokedRecord): RevokedKey => ({ keyid: r.keyid, since: r.since, sequence: r.sequence, revokedAt: r.created_at });

function commitRefusal(err: unknown): Exclude<CommitOutcome, "committed"> | null {
  const message = err instanceof Error ? err.message : "";
  if (/NOT NULL constraint failed: versions\.sequence|UNIQUE constraint failed: versions\.sequence/.test(message)) return "sequence_taken";
  if (/NOT NULL constraint failed: versions\.sha512/.test(message)) return "blob_collected";
  if (/NOT NULL constraint failed: versions\.bundle/.test(message)) return "key_retired";
  if (isUniqueViolation(err)) return "exists";
  return null;
}

/**
 * Commits a registry statement and the change it records in one batch. The statement goes
 * first and takes its sequence number only if the number is above every committed one and
 * `guard` (SQL over ?3 = namespace, ?4 = keyid) holds, so a change that no longer applies (the
 * namespace exists, the key is enrolled or already revoked) writes nothing: a NULL number fails
 * the NOT NULL column and aborts the batch. `refused`: the guard failed; `sequence_taken`: the
 * number did.
 */
async function commitStatement(db: D1Database, row: StatementRow, guard: string, change: D1PreparedStatement[]): Promise<"committed" | "refused" | "sequence_taken"> {
  const insert = db
    .prepare(
      `INSERT INTO registry_statements (sequence, kind, namespace, keyid, since, envelope, created_at)
       VALUES (CASE WHEN ?1 > ${LAST_SEQUENCE} AND ${guard} THEN ?1 END, ?2, ?3, ?4, ?5, ?6, ?7)`,
    )
    .bind(row.sequence, row.kind, row.namespace, row.keyid, row.since, row.envelope, row.createdAt);
  try {
    await db.batch([insert, ...change]);
    return "committed";
  } catch (err) {
    const message = err instanceof Error ? err.message : "";
    if (!/NOT NULL constraint failed: registry_statements\.sequence|UNIQUE constraint failed: registry_statements\.sequence/.test(message) && !isUniqueViolation(err)) throw err;
    const holds = await db.prepare(`SELECT ${guard} AS holds`).bind(null, null, row.namespace, row.keyid).first<{ holds: number }>();
    return holds?.holds ? "sequence_taken" : "refused";
  }
}

export function d1MetaStore(db: D1Database): MetaStore {
  return {
    async statementContext(namespace, keyid) {
      const [last, ns, key] = await db.batch<unknown>([
        db.prepare(`SELECT ${LAST_SEQUENCE} AS last`),
        db.prepare("SELECT 1 AS found FROM namespaces WHERE namespace = ?").bind(namespace),
        db.prepare("SELECT * FROM publisher_keys WHERE namespace = ? AND keyid = ?").bind(namespace, keyid ?? ""),
      ]);
      const keyRow = key!.results[0] as KeyRecord | undefined;
      return { lastSequence: (last!.results[0] as { last: number }).last, namespaceExists: ns!.results.length > 0, key: keyRow ? toKey(keyRow) : null };
    },

    async createNamespace(namespace, now, statement) {
      const guard = "NOT EXISTS (SELECT 1 FROM namespaces WHERE namespace = ?3)";
      const outcome = await commitStatement(db, statement, guard, [db.prepare("INSERT INTO namespaces (namespace, created_at) VALUES (?, ?)").bind(namespace, now)]);
      return outcome === "refused" ? "exists" : outcome === "committed" ? "created" : outcome;
    },

    async listNamespaces() {
      const { results } = await db.prepare(NAMESPACES_SQL).all<NamespaceRecord>();
      return results.map(toNamespace);
    },

    async enrolKey(row, statement) {
      const guard = "EXISTS (SELECT 1 FROM namespaces WHERE namespace = ?3) AND NOT EXISTS (SELECT 1 FROM publisher_keys WHERE namespace = ?3 AND keyid = ?4)";
      const outcome = await commitStatement(db, statement, guard, [
        db.prepare("INSERT INTO publisher_keys (namespace, keyid, public_key, label, created_at) VALUES (?, ?, ?, ?, ?)").bind(row.namespace, row.keyid, row.publicKey, row.label, row.createdAt),
      ]);
      if (outcome !== "refused") return outcome === "committed" ? "enrolled" : outcome;
      const exists = await db.prepare("SELECT 1 FROM namespaces WHERE namespace = ?").bind(row.namespace).first();
      return exists ? "exists" : "no_namespace";
    },

    async revokeKey(namespace, keyid, now, statement) {
      const guard = "EXISTS (SELECT 1 FROM publisher_keys WHERE namespace = ?3 AND keyid = ?4 AND revoked_at IS NULL)";
      const outcome = await commitStatement(db, statement, guard, [
        db.prepare("UPDATE publisher_keys SET revoked_at = ? WHERE namespace = ? AND keyid = ? AND revoked_at IS NULL").bind(now, namespace, keyid),
      ]);
      return outcome === "refused" ? "not_found" : outcome === "committed" ? "revoked" : outcome;
    },

    async rotations() {
      const { results } = await db.prepare("SELECT sequence, from_keyid, to_keyid, envelope FROM key_rotations ORDER BY sequence").all<{ sequence: number; from_keyid: string; to_keyid: string; envelope: string }>();
      return results.map((r) => ({ sequence: r.sequence, from: r.from_keyid, to: r.to_keyid, envelope: r.envelope }));
    },

    async commitRotation(row) {
      // Only from the key that signs now (the last rotation's `to`, or any key before the first
      // rotation), only once per key, and only at the next sequence number.
      const insert = db
        .prepare(
          `INSERT INTO key_rotations (sequence, from_keyid, to_keyid, envelope, created_at)
           VALUES (CASE WHEN ?1 > ${LAST_SEQUENCE} THEN ?1 END,
             CASE WHEN COALESCE((SELECT to_keyid FROM key_rotations ORDER BY sequence DESC LIMIT 1), ?2) = ?2 THEN ?2 END,
             ?3, ?4, ?5)`,
        )
        .bind(row.sequence, row.from, row.to, row.envelope, row.createdAt);
      try {
        await insert.run();
        return "committed";
      } catch (err) {
        const message = err instanceof Error ? err.message : "";
        if (/key_rotations\.sequence/.test(message)) return "sequence_taken";
        if (/key_rotations\.(from_keyid|to_keyid)/.test(message)) return "not_current";
        throw err;
      }
    },

    async listStatements(namespace, after, limit) {
      const [ns, rows] = await db.batch<unknown>([
        db.prepare("SELECT 1 AS found FROM namespaces WHERE namespace = ?").bind(namespace),
        db.prepare("SELECT sequence, envelope FROM registry_statements WHERE namespace = ? AND sequence > ? ORDER BY sequence LIMIT ?").bind(namespace, after, limit),
      ]);
      return ns!.results.length ? (rows!.results as { sequence: number; envelope: string }[]) : null;
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
        .prepare("INSERT INTO tokens (id, hash, scope, namespaces, label, created_at, prefix) VALUES (?, ?, ?, ?, ?, ?, ?)")
        .bind(row.id, row.hash, row.scope, JSON.stringify(row.namespaces), row.label, row.createdAt, row.prefix ?? "")
        .run();
    },

    async createDerivedToken(row) {
      // One statement: the parent is checked live, and its live children counted, as the row is
      // written (a revocation of the parent cannot slip in between and leave a live child).
      const { results } = await db
        .prepare(
          `INSERT INTO tokens (id, hash, scope, namespaces, label, created_at, prefix, created_by)
           SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
           WHERE EXISTS (SELECT 1 FROM tokens WHERE id = ?8 AND revoked_at IS NULL)
             AND (SELECT COUNT(*) FROM tokens WHERE created_by = ?8 AND revoked_at IS NULL) < ?9
           RETURNING id`,
        )
        .bind(row.id, row.hash, row.scope, JSON.stringify(row.namespaces), row.label, row.createdAt, row.prefix ?? "", row.createdBy, MAX_DERIVED_TOKENS)
        .all();
      if (results.length === 1) return "created";
      const parent = await db.prepare("SELECT revoked_at FROM tokens WHERE id = ?").bind(row.createdBy).first<{ revoked_at: string | null }>();
      return !parent || parent.revoked_at ? "parent_revoked" : "too_many";
    },

    async listTokens() {
      const { results } = await db.prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id`).all<TokenRecord>();
      return results.map(toToken);
    },

    async listOwnTokens(id) {
      const { results } = await db
        .prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE (id = ?1 OR created_by = ?1) AND revoked_at IS NULL ORDER BY created_at, id`)
        .bind(id)
        .all<TokenRecord>();
      return results.map(toToken);
    },

    async revokeToken(id, now, by) {
      // The token and the tokens it made, in one statement. `by`: only its own token or one it made.
      const res = await db
        .prepare(
          `UPDATE tokens SET revoked_at = ?2 WHERE revoked_at IS NULL AND (id = ?1 OR created_by = ?1)
             AND (?3 IS NULL OR EXISTS (SELECT 1 FROM tokens AS t WHERE t.id = ?1 AND t.revoked_at IS NULL AND (t.id = ?3 OR t.created_by = ?3)))
             AND EXISTS (SELECT 1 FROM tokens AS t WHERE t.id = ?1 AND t.revoked_at IS NULL)`,
        )
        .bind(id, now, by ?? null)
        .run();
      return res.meta.changes >= 1 ? "revoked" : "not_found";
    },

    async findToken(hash) {
      const row = await db.prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash = ?`).bind(hash).first<TokenRecord>();
      return row ? toToken(row) : null;
    },

    async publishContext(q) {
      const [token, ns, key, version, tag, clock] = await db.batch<unknown>([
        db.prepare(`SELECT ${TOKEN_COLUMNS} FROM tokens WHERE hash = ?`).bind(q.tokenHash ?? ""),
        db.prepare("SELECT 1 AS found FROM namespaces WHERE namespace = ?").bind(q.namespace),
        db.prepare("SELECT * FROM publisher_keys WHERE namespace = ? AND keyid = ?").bind(q.namespace, q.keyid),
        db.prepare("SELECT 1 AS found FROM versions WHERE name = ? AND version = ?").bind(q.name, q.version),
        db.prepare("SELECT version FROM dist_tags WHERE name = ? AND tag = ?").bind(q.name, q.tag),
        db.prepare(`SELECT ${LAST_SEQUENCE} AS last, ${D1_NOW} AS now`),
      ]);
      const tokenRow = token!.results[0] as TokenRecord | undefined;
      const keyRow = key!.results[0] as KeyRecord | undefined;
      const tagRow = tag!.results[0] as { version: string } | undefined;
      const clockRow = clock!.results[0] as { last: number; now: string };
      return {
        token: tokenRow ? toToken(tokenRow) : null,
        namespaceExists: ns!.results.length > 0,
        key: keyRow ? toKey(keyRow) : null,
        versionExists: version!.results.length > 0,
        taggedVersion: tagRow?.version ?? null,
        lastSequence: clockRow.last,
        readAt: clockRow.now,
      };
    },

    async lastSequence() {
      const row = await db.prepare(`SELECT ${LAST_SEQUENCE} AS last`).first<{ last: number }>();
      return row!.last;
    },

    async commitVersion(row, tag, readAt) {
      // The sequence number is allocated here, at the commit point: the row is written only if
      // its number is above every committed one (an index probe on the UNIQUE column), so
      // concurrent publishes that proposed the same number commit one at a time and the others
      // are told to propose again; only if the blob collector has not claimed the artifact's blob
      // since the publish read `readAt` (before it wrote the blob), or shortly before; and only if
      // the countersigning key is the registry's current one (the last rotation's, PROTOCOL §21).
      const statements = [
        db
          .prepare(
            `INSERT INTO versions (${VERSION_COLUMNS}, readme) VALUES (?1, ?2, ?3,
               CASE WHEN ?4 > ${LAST_SEQUENCE} THEN ?4 END,
               ?5, ?6,
               CASE WHEN NOT EXISTS (SELECT 1 FROM blob_claims WHERE sha512 = ?7
                 AND claimed_at > strftime('%Y-%m-%dT%H:%M:%fZ', COALESCE(?14, 'now'), '-${BLOB_CLAIM_SECONDS} seconds')) THEN ?7 END,
               ?8, ?9,
               CASE WHEN COALESCE((SELECT to_keyid FROM key_rotations ORDER BY sequence DESC LIMIT 1), json_extract(?10, '$.countersignature.signatures[0].keyid'))
                 = json_extract(?10, '$.countersignature.signatures[0].keyid') THEN ?10 END,
               ?11, ?12, ?13, ?15, ?16)`,
          )
          .bind(row.name, row.version, row.namespace, row.sequence, row.size, row.sha256, row.sha512, row.sha1, row.publisherKeyid, row.bundle, row.manifest, row.publishedAt, row.deprecated, readAt ?? null, row.npmSignature ?? null, row.readme ?? null),
      ];
      if (tag?.tag === "latest") {
        // `latest` only moves forward, decided inside the batch against what is stored now, so
        // concurrent publishes end at the highest version whatever their order. A row written
        // before migration 0003 has no key: it moves only if it still holds the version the
        // Worker read and compared (publish.ts tagUpdate), and gets its key on the way.
        statements.push(
          db
            .prepare(
              `INSERT INTO dist_tags (name, tag, version, sort_key) VALUES (?1, ?2, ?3, ?4)
               ON CONFLICT (name, tag) DO UPDATE SET version = excluded.version, sort_key = excluded.sort_key
               WHERE excluded.sort_key > dist_tags.sort_key OR (dist_tags.sort_key IS NULL AND dist_tags.version = ?5)`,
            )
            .bind(row.name, tag.tag, row.version, semverSortKey(row.version), tag.from),
        );
      } else if (tag) {
        // Other tags: compare-and-swap, the tag moves only if nobody moved it since publishContext read it.
        statements.push(
          tag.from === null
            ? db.prepare("INSERT INTO dist_tags (name, tag, version, sort_key) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING").bind(row.name, tag.tag, row.version, semverSortKey(row.version))
            : db
                .prepare("UPDATE dist_tags SET version = ?, sort_key = ? WHERE name = ? AND tag = ? AND version = ?")
                .bind(row.version, semverSortKey(row.version), row.name, tag.tag, tag.from),
        );
      }
      try {
        await db.batch(statements);
        return "committed";
      } catch (err) {
        const refusal = commitRefusal(err);
        if (refusal) return refusal;
        throw err;
      }
    },

    async getVersion(name, version) {
      const [rows, reviews] = await db.batch<unknown>([
        db.prepare(`SELECT ${VERSION_COLUMNS} FROM versions WHERE name = ? AND version = ?`).bind(name, version),
        db.prepare("SELECT version, envelope FROM reviews WHERE name = ? AND version = ? ORDER BY created_at, reviewer_keyid").bind(name, version),
      ]);
      const row = rows!.results[0] as VersionRecord | undefined;
      return row ? withReviews([toVersion(row)], reviews!.results as ReviewRecord[])[0]! : null;
    },

    async listVersions(name) {
      const [versions, tags, reviews] = await db.batch<unknown>([
        db.prepare(`SELECT ${VERSION_COLUMNS} FROM versions WHERE name = ? ORDER BY sequence`).bind(name),
        db.prepare("SELECT tag, version FROM dist_tags WHERE name = ? ORDER BY tag").bind(name),
        db.prepare("SELECT version, envelope FROM reviews WHERE name = ? ORDER BY created_at, reviewer_keyid").bind(name),
      ]);
      return {
        versions: withReviews((versions!.results as VersionRecord[]).map(toVersion), reviews!.results as ReviewRecord[]),
        tags: Object.fromEntries((tags!.results as { tag: string; version: string }[]).map((t) => [t.tag, t.version])),
      };
    },

    async addReview(review) {
      const res = await db
        .prepare("INSERT INTO reviews (name, version, reviewer_keyid, verdict, envelope, created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")
        .bind(review.name, review.version, review.keyid, review.verdict, review.envelope, review.createdAt)
        .run();
      return res.meta.changes > 0 ? "added" : "exists"; // > 0: D1 counts the writes of triggers (migrations/0005) too
    },

    async bundles(versions) {
      // One bound parameter whatever the count (D1 allows 100 per statement): a JSON list joined
      // against the primary keys, so each lookup is an index probe; reviews in the same batch.
      const list = JSON.stringify(versions.map((v) => [v.name, v.version]));
      const [bundles, reviews] = await db.batch<unknown>([
        db
          .prepare(
            `SELECT v.name, v.version, v.sequence, json_remove(v.bundle, '$.tlogProof') AS bundle, json_extract(v.bundle, '$.tlogProof') AS proof FROM json_each(?1) AS j
             JOIN versions AS v ON v.name = json_extract(j.value, '$[0]') AND v.version = json_extract(j.value, '$[1]')`,
          )
          .bind(list),
        db
          .prepare(
            `SELECT r.name, r.version, r.envelope FROM json_each(?1) AS j
             JOIN reviews AS r ON r.name = json_extract(j.value, '$[0]') AND r.version = json_extract(j.value, '$[1]')
             ORDER BY r.created_at, r.reviewer_keyid`,
          )
          .bind(list),
      ]);
      const byVersion = new Map<string, string[]>();
      for (const r of reviews!.results as (ReviewRecord & { name: string })[]) {
        const key = `${r.name}@${r.version}`;
        byVersion.set(key, [...(byVersion.get(key) ?? []), r.envelope]);
      }
      return new Map(
        (bundles!.results as { name: string; version: string; sequence: number; bundle: string; proof: unknown }[]).map((r) => {
          const key = `${r.name}@${r.version}`;
          return [key, { json: bundleWithReviews(r.bundle, byVersion.get(key) ?? []), sequence: r.sequence, tlogProof: typeof r.proof === "string" ? r.proof : null }];
        }),
      );
    },

    async setDeprecations(name, changes) {
      if (changes.length === 0) return;
      await db.batch(changes.map((c) => db.prepare("UPDATE versions SET deprecated = ? WHERE name = ? AND version = ?").bind(c.message, name, c.version)));
    },

    async setTag(name, tag, version) {
      const { results } = await db
        .prepare(
          `INSERT INTO dist_tags (name, tag, version, sort_key)
           SELECT ?1, ?2, ?3, ?4 WHERE EXISTS (SELECT 1 FROM versions WHERE name = ?1 AND version = ?3)
           ON CONFLICT (name, tag) DO UPDATE SET version = excluded.version, sort_key = excluded.sort_key RETURNING tag`,
        )
        .bind(name, tag, version, semverSortKey(version))
        .all();
      return results.length ? "set" : "no_version";
    },

    async deleteTag(name, tag) {
      const res = await db.prepare("DELETE FROM dist_tags WHERE name = ? AND tag = ?").bind(name, tag).run();
      return res.meta.changes > 0 ? "deleted" : "not_found"; // > 0: triggers' writes count too
    },

    async search(text, size, from) {
      // A case-insensitive (ASCII, as LIKE) substring test: D1 refuses LIKE patterns over 50
      // bytes, and instr has no wildcards to escape.
      const where = "t.tag = 'latest' AND v.manifest IS NOT NULL AND instr(lower(t.name), lower(?1)) > 0";
      const [count, rows] = await db.batch<unknown>([
        db.prepare(`SELECT COUNT(*) AS total FROM dist_tags t JOIN versions v ON v.name = t.name AND v.version = t.version WHERE ${where}`).bind(text),
        db
          .prepare(
            `SELECT t.name, t.version, v.manifest, v.published_at, v.publisher_keyid, k.label AS publisher_label FROM dist_tags t
             JOIN versions v ON v.name = t.name AND v.version = t.version
             LEFT JOIN publisher_keys k ON k.namespace = v.namespace AND k.keyid = v.publisher_keyid
             WHERE ${where} ORDER BY t.name LIMIT ?2 OFFSET ?3`,
          )
          .bind(text, size, from),
      ]);
      const results = (rows!.results as { name: string; version: string; manifest: string; published_at: string; publisher_keyid: string; publisher_label: string | null }[]).map((r) => ({
        name: r.name,
        version: r.version,
        manifest: r.manifest,
        publishedAt: r.published_at,
        publisherKeyid: r.publisher_keyid,
        publisherLabel: r.publisher_label ?? "",
      }));
      return { total: (count!.results[0] as { total: number }).total, results };
    },

    async metadataSources(names) {
      const out = new Map<string, MetadataSource>();
      if (names.length === 0) return out;
      const wanted = JSON.stringify(names);
      const [serials, versions, tags, revoked] = await db.batch<unknown>([
        db
          .prepare(
            `SELECT s.name, s.serial, m.sequence AS recorded FROM package_serials s
             LEFT JOIN metadata_records m ON m.name = s.name AND m.serial = s.serial
             WHERE s.name IN (SELECT value FROM json_each(?1))`,
          )
          .bind(wanted),
        db.prepare("SELECT name, version, sequence, sha512, published_at, deprecated FROM versions WHERE name IN (SELECT value FROM json_each(?1)) ORDER BY sequence").bind(wanted),
        db.prepare("SELECT name, tag, version FROM dist_tags WHERE name IN (SELECT value FROM json_each(?1)) ORDER BY tag").bind(wanted),
        db.prepare(`${REVOKED_KEYS_SQL} AND namespace IN (SELECT DISTINCT namespace FROM versions WHERE name IN (SELECT value FROM json_each(?1))) ORDER BY sequence`).bind(wanted),
      ]);
      const revokedIn = new Map<string, RevokedKey[]>();
      for (const r of revoked!.results as RevokedRecord[]) revokedIn.set(r.namespace, [...(revokedIn.get(r.namespace) ?? []), toRevokedKey(r)]);
      const serialOf = new Map((serials!.results as { name: string; serial: number; recorded: number | null }[]).map((r) => [r.name, r]));
      for (const r of versions!.results as { name: string; version: string; sequence: number; sha512: string; published_at: string; deprecated: string | null }[]) {
        let source = out.get(r.name);
        // A package whose serial row is missing (it cannot be, after migrations/0008) still gets one.
        if (!source) {
          const serial = serialOf.get(r.name);
          source = { serial: serial?.serial ?? 1, versions: [], tags: {}, revokedKeys: revokedIn.get(namespaceOf(r.name)) ?? [], ...(serial?.recorded ? { recorded: serial.recorded } : {}) };
          out.set(r.name, source);
        }
        source.versions.push({ version: r.version, sequence: r.sequence, sha512: r.sha512, publishedAt: r.published_at, deprecated: r.deprecated });
      }
      for (const r of tags!.results as { name: string; tag: string; version: string }[]) {
        const source = out.get(r.name);
        if (source) source.tags[r.tag] = r.version;
      }
      return out;
    },

    async recordMetadata(records) {
      if (records.length === 0) return new Map();
      // One statement for all of them, whatever their number (after an upgrade every serial a
      // batch answer serves may be new): the serials not recorded yet take the numbers after
      // every committed one, in input order; a serial recorded already keeps its row and number.
      const rows = JSON.stringify(records.map((r) => [r.name, r.serial, r.entry]));
      const [, recorded] = await db.batch<unknown>([
        db
          .prepare(
            `INSERT INTO metadata_records (sequence, name, serial, entry, created_at)
             SELECT ${LAST_SEQUENCE} + row_number() OVER (ORDER BY r.key), json_extract(r.value, '$[0]'), json_extract(r.value, '$[1]'), json_extract(r.value, '$[2]'), ${D1_NOW}
             FROM json_each(?1) r
             WHERE NOT EXISTS (SELECT 1 FROM metadata_records m WHERE m.name = json_extract(r.value, '$[0]') AND m.serial = json_extract(r.value, '$[1]'))`,
          )
          .bind(rows),
        db
          .prepare("SELECT m.name, m.sequence FROM metadata_records m JOIN json_each(?1) r ON m.name = json_extract(r.value, '$[0]') AND m.serial = json_extract(r.value, '$[1]')")
          .bind(rows),
      ]);
      return new Map((recorded!.results as { name: string; sequence: number }[]).map((r) => [r.name, r.sequence]));
    },

    async recentPublications(limit) {
      const [namespaces, recent] = await db.batch<unknown>([
        db.prepare(NAMESPACES_SQL),
        db
          .prepare(
            `SELECT v.name, v.version, v.namespace, v.sequence, v.published_at, v.publisher_keyid, k.label AS publisher_label,
               CASE WHEN json_valid(v.manifest) AND json_type(v.manifest, '$.description') = 'text' THEN substr(json_extract(v.manifest, '$.description'), 1, 300) END AS description
             FROM versions v LEFT JOIN publisher_keys k ON k.namespace = v.namespace AND k.keyid = v.publisher_keyid
             ORDER BY v.sequence DESC LIMIT ?1`,
          )
          .bind(limit),
      ]);
      type Row = { name: string; version: string; namespace: string; sequence: number; published_at: string; publisher_keyid: string; publisher_label: string | null; description: string | null };
      return {
        namespaces: (namespaces!.results as NamespaceRecord[]).map(toNamespace),
        recent: (recent!.results as Row[]).map((r) => ({
          name: r.name,
          version: r.version,
          namespace: r.namespace,
          sequence: r.sequence,
          publishedAt: r.published_at,
          publisherKeyid: r.publisher_keyid,
          publisherLabel: r.publisher_label ?? "",
          description: r.description,
        })),
      };
    },

    async gcCursor() {
      const row = await db.prepare("SELECT value FROM gc_state WHERE name = 'blobs.after'").first<{ value: string }>();
      return row?.value || null;
    },

    async saveGcCursor(after) {
      await db.batch([
        db.prepare("INSERT INTO gc_state (name, value) VALUES ('blobs.after', ?1) ON CONFLICT (name) DO UPDATE SET value = excluded.value").bind(after ?? ""),
        // Claims older than their window refuse nothing; a day of them is kept for the record.
        db.prepare(`DELETE FROM blob_claims WHERE claimed_at < strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-1 day')`),
      ]);
    },

    async claimUnreferencedBlobs(sha512s) {
      if (sha512s.length === 0) return [];
      // One statement, so the reference check and the claim are atomic against a commit (whose
      // version insert checks the claims): either the version is in, or the claim is.
      const { results } = await db
        .prepare(
          `INSERT INTO blob_claims (sha512, claimed_at)
           SELECT j.value, ${D1_NOW} FROM json_each(?1) AS j
           WHERE NOT EXISTS (SELECT 1 FROM versions WHERE sha512 = j.value)
           ON CONFLICT (sha512) DO UPDATE SET claimed_at = excluded.claimed_at
           RETURNING sha512`,
        )
        .bind(JSON.stringify(sha512s))
        .all<{ sha512: string }>();
      return results.map((r) => r.sha512);
    },

    async packumentRevision(name) {
      const row = await db.prepare("SELECT revision FROM package_revisions WHERE name = ?").bind(name).first<{ revision: string }>();
      return row?.revision ?? null;
    },

    async packumentSource(name, lean) {
      // A remembered digest counts only if it was computed with the version's current reviews.
      const known = "d.reviews = COALESCE(c.n, 0)";
      const bundle = lean ? `CASE WHEN ${known} OR v.manifest IS NULL THEN NULL ELSE v.bundle END` : "v.bundle";
      const [revision, versions, tags, reviews, readme, maintainers, serial, revoked] = await db.batch<unknown>([
        db.prepare("SELECT revision FROM package_revisions WHERE name = ?1").bind(name),
        db
          .prepare(
            `SELECT v.name, v.version, v.namespace, v.sequence, v.size, v.sha256, v.sha512, v.sha1, v.publisher_keyid, v.manifest, v.published_at, v.deprecated, v.npm_signature,
               COALESCE(c.n, 0) AS review_count, CASE WHEN ${known} THEN d.sha256 END AS bundle_sha256, ${bundle} AS bundle, k.label AS publisher_label
             FROM versions AS v
             LEFT JOIN (SELECT version, COUNT(*) AS n FROM reviews WHERE name = ?1 GROUP BY version) AS c ON c.version = v.version
             LEFT JOIN bundle_digests AS d ON d.name = v.name AND d.version = v.version
             LEFT JOIN publisher_keys AS k ON k.namespace = v.namespace AND k.keyid = v.publisher_keyid
             WHERE v.name = ?1 ORDER BY v.sequence`,
          )
          .bind(name),
        db.prepare("SELECT tag, version FROM dist_tags WHERE name = ?1 ORDER BY tag").bind(name),
        // Reviews only of the bundles read (lean: those without a usable digest), in the bundle route's order.
        db
          .prepare(
            `SELECT r.version, r.envelope FROM reviews AS r WHERE r.name = ?1${
              lean
                ? " AND NOT EXISTS (SELECT 1 FROM bundle_digests AS d WHERE d.name = r.name AND d.version = r.version AND d.reviews = (SELECT COUNT(*) FROM reviews AS r2 WHERE r2.name = r.name AND r2.version = r.version))"
                : ""
            } ORDER BY r.created_at, r.reviewer_keyid`,
          )
          .bind(name),
        // Full documents only (`lean` reads nothing here): the README of the version `latest`
        // points at, and the namespace's active publisher keys.
        db
          .prepare(
            `SELECT v.version, v.readme FROM dist_tags AS t JOIN versions AS v ON v.name = t.name AND v.version = t.version
             WHERE t.name = ?1 AND t.tag = 'latest' AND v.readme IS NOT NULL AND ?2 = 0`,
          )
          .bind(name, lean ? 1 : 0),
        db
          .prepare(
            `SELECT keyid, label FROM publisher_keys WHERE ?2 = 0 AND revoked_at IS NULL
               AND namespace = (SELECT namespace FROM versions WHERE name = ?1 LIMIT 1) ORDER BY created_at, keyid`,
          )
          .bind(name, lean ? 1 : 0),
        db.prepare("SELECT s.serial, m.sequence AS recorded FROM package_serials s LEFT JOIN metadata_records m ON m.name = s.name AND m.serial = s.serial WHERE s.name = ?1").bind(name),
        db.prepare(`${REVOKED_KEYS_SQL} AND ?2 = 0 AND namespace = (SELECT namespace FROM versions WHERE name = ?1 LIMIT 1) ORDER BY sequence`).bind(name, lean ? 1 : 0),
      ]);
      const byVersion = new Map<string, string[]>();
      for (const r of reviews!.results as ReviewRecord[]) byVersion.set(r.version, [...(byVersion.get(r.version) ?? []), r.envelope]);
      type PackumentRecord = Omit<VersionRecord, "bundle"> & { bundle: string | null; bundle_sha256: string | null; review_count: number; publisher_label: string | null };
      const readmeRow = readme!.results[0] as { version: string; readme: string } | undefined;
      return {
        revision: (revision!.results[0] as { revision: string } | undefined)?.revision ?? null,
        serial: (serial!.results[0] as { serial: number } | undefined)?.serial ?? null,
        recorded: (serial!.results[0] as { recorded: number | null } | undefined)?.recorded ?? null,
        versions: (versions!.results as PackumentRecord[]).map((r) => ({
          ...toVersion({ ...r, bundle: "" }),
          bundle: r.bundle === null ? null : bundleWithReviews(r.bundle, byVersion.get(r.version) ?? []),
          bundleSha256: r.bundle_sha256,
          reviewCount: r.review_count,
          publisherLabel: r.publisher_label,
        })),
        tags: Object.fromEntries((tags!.results as { tag: string; version: string }[]).map((t) => [t.tag, t.version])),
        ...(lean
          ? {}
          : {
              readme: readmeRow ? { version: readmeRow.version, text: readmeRow.readme } : null,
              maintainers: maintainers!.results as { keyid: string; label: string }[],
              revokedKeys: (revoked!.results as RevokedRecord[]).map(toRevokedKey),
            }),
      };
    },

    async rememberNpmSignatures(signatures) {
      if (signatures.length === 0) return;
      // One statement whatever the count; a version that already has a signature by that key
      // (another build got there first) is left alone, so its revision does not move twice.
      await db
        .prepare(
          `UPDATE versions SET npm_signature = json_extract(j.value, '$[2]') FROM json_each(?1) AS j
           WHERE versions.name = json_extract(j.value, '$[0]') AND versions.version = json_extract(j.value, '$[1]') AND versions.manifest IS NOT NULL
             AND (versions.npm_signature IS NULL OR json_extract(versions.npm_signature, '$.keyid') IS NOT json_extract(j.value, '$[3]'))`,
        )
        .bind(JSON.stringify(signatures.map((s) => [s.name, s.version, s.signature, s.keyid])))
        .run();
    },

    async rememberBundleDigests(digests) {
      if (digests.length === 0) return;
      await db
        .prepare(
          `INSERT INTO bundle_digests (name, version, reviews, sha256)
           SELECT json_extract(j.value, '$[0]'), json_extract(j.value, '$[1]'), json_extract(j.value, '$[2]'), json_extract(j.value, '$[3]') FROM json_each(?1) AS j WHERE true
           ON CONFLICT (name, version) DO UPDATE SET reviews = excluded.reviews, sha256 = excluded.sha256`,
        )
        .bind(JSON.stringify(digests.map((d) => [d.name, d.version, d.reviews, d.sha256])))
        .run();
    },
  };
}
