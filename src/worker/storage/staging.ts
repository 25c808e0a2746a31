/**
 * @module
 * Staged publishing's storage (migrations/0010): whether a namespace requires a second key's
 * approval, and the staged versions awaiting one. A staged row becomes a version only through
 * `MetaStore.commitVersion`, whose version insert deletes it in the same transaction (a trigger),
 * so a version is never both staged and published. A staged version expires after STAGED_TTL_MS.
 * Every method is one D1 round trip (a refused `stage`: two, the second saying why).
 */

import { BLOB_CLAIM_SECONDS } from "./d1.js";

/**
 * How long a staged version waits for its approval: after this it cannot be approved, no longer
 * blocks staging or publishing the same version again, and the scheduled run deletes it (its
 * blob is then the collector's). A statement nobody approved within a week is not one a second
 * key should be asked to vouch for from memory.
 */
export const STAGED_TTL_MS = 7 * 24 * 60 * 60 * 1000;

/** The `staged_at` below which a staged version has expired at `now`. */
export const stagedCutoff = (now: Date) => new Date(now.getTime() - STAGED_TTL_MS).toISOString();

/** When a version staged at `stagedAt` expires. */
export const stagedExpiry = (stagedAt: string) => new Date(Date.parse(stagedAt) + STAGED_TTL_MS).toISOString();

export interface StagedRow {
  name: string;
  version: string;
  namespace: string;
  /** The dist-tag asked for when it was staged; moved when it is approved. */
  tag: string;
  publisherKeyid: string;
  /** Hex SHA-256 of the publisher statement's payload bytes: what an approval names. */
  statementSha256: string;
  /** The publisher envelope, DSSE JSON, exactly as uploaded. */
  envelope: string;
  size: number;
  sha256: string;
  sha512: string;
  sha1: string;
  /** npm's package.json for npm tarballs (JSON), null for other artifacts. */
  manifest: string | null;
  readme: string | null;
  stagedAt: string;
}

/** What a publish or a stage reads about staging, with its other reads. */
export interface StagingContext {
  approvalRequired: boolean;
  /** name@version is staged, awaiting approval. */
  staged: boolean;
}

/**
 * How staging ended. `published`: the version exists (committed meanwhile); `exists`: it is
 * already staged; `blob_collected`: the blob collector claimed its bytes since `readAt`, so the
 * upload must be repeated (as for a publish, storage/d1.ts `commitVersion`).
 */
export type StageOutcome = "staged" | "exists" | "published" | "blob_collected";

export interface StagingStore {
  /** `now`: the request's time; a staged version older than STAGED_TTL_MS is not `staged`. */
  context(q: { namespace: string; name: string; version: string; now: Date }): Promise<StagingContext>;
  setApprovalRequired(namespace: string, required: boolean, now: string): Promise<"set" | "no_namespace">;
  /** `readAt`: `PublishContext.readAt`, read before the blob was written. Replaces an expired staged row of the same version. */
  stage(row: StagedRow, readAt: string): Promise<StageOutcome>;
  /** Deletes the staged versions expired at `now` (the scheduled run); returns how many. */
  expire(now: Date): Promise<number>;
  getStaged(name: string, version: string): Promise<StagedRow | null>;
  /** Withdraws a staged version (its blob is then unreferenced: the collector takes it, gc.ts). */
  discard(name: string, version: string): Promise<"discarded" | "not_found">;
  /** A namespace's staged versions, oldest first (without their envelopes, manifests and READMEs). */
  listStaged(namespace: string): Promise<Omit<StagedRow, "envelope" | "manifest" | "readme">[]>;
}

interface StagedRecord {
  name: string;
  version: string;
  namespace: string;
  tag: string;
  publisher_keyid: string;
  statement_sha256: string;
  envelope: string;
  size: number;
  sha256: string;
  sha512: string;
  sha1: string;
  manifest: string | null;
  readme: string | null;
  staged_at: string;
}

const toStaged = (r: StagedRecord): StagedRow => ({
  name: r.name,
  version: r.version,
  namespace: r.namespace,
  tag: r.tag,
  publisherKeyid: r.publisher_keyid,
  statementSha256: r.statement_sha256,
  envelope: r.envelope,
  size: r.size,
  sha256: r.sha256,
  sha512: r.sha512,
  sha1: r.sha1,
  manifest: r.manifest,
  readme: r.readme,
  stagedAt: r.staged_at,
});

export function d1StagingStore(db: D1Database): StagingStore {
  return {
    async context({ namespace, name, version, now }) {
      const row = await db
        .prepare(
          `SELECT COALESCE((SELECT required FROM namespace_approval WHERE namespace = ?1), 0) AS required,
                  EXISTS (SELECT 1 FROM staged_versions WHERE name = ?2 AND version = ?3 AND staged_at >= ?4) AS staged`,
        )
        .bind(namespace, name, version, stagedCutoff(now))
        .first<{ required: number; staged: number }>();
      return { approvalRequired: row?.required === 1, staged: row?.staged === 1 };
    },

    async setApprovalRequired(namespace, required, now) {
      const res = await db
        .prepare(
          `INSERT INTO namespace_approval (namespace, required, updated_at)
           SELECT ?1, ?2, ?3 WHERE EXISTS (SELECT 1 FROM namespaces WHERE namespace = ?1)
           ON CONFLICT (namespace) DO UPDATE SET required = excluded.required, updated_at = excluded.updated_at`,
        )
        .bind(namespace, required ? 1 : 0, now)
        .run();
      return res.meta.changes === 1 ? "set" : "no_namespace";
    },

    async stage(row, readAt) {
      // One statement: written only if the version is not published and no blob-collector claim
      // overlaps the upload (the claim window before `readAt` included, as for a commit); from
      // then on the collector spares the blob (migrations/0010's trigger).
      const { results } = await db
        .prepare(
          `INSERT INTO staged_versions (name, version, namespace, tag, publisher_keyid, statement_sha256, envelope, size, sha256, sha512, sha1, manifest, readme, staged_at)
           SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14
           WHERE NOT EXISTS (SELECT 1 FROM versions WHERE name = ?1 AND version = ?2)
             AND NOT EXISTS (SELECT 1 FROM blob_claims WHERE sha512 = ?10
               AND claimed_at > strftime('%Y-%m-%dT%H:%M:%fZ', ?15, '-${BLOB_CLAIM_SECONDS} seconds'))
           ON CONFLICT (name, version) DO UPDATE SET
             namespace = excluded.namespace, tag = excluded.tag, publisher_keyid = excluded.publisher_keyid, statement_sha256 = excluded.statement_sha256,
             envelope = excluded.envelope, size = excluded.size, sha256 = excluded.sha256, sha512 = excluded.sha512, sha1 = excluded.sha1,
             manifest = excluded.manifest, readme = excluded.readme, staged_at = excluded.staged_at
           WHERE staged_versions.staged_at < ?16
           RETURNING name`,
        )
        .bind(row.name, row.version, row.namespace, row.tag, row.publisherKeyid, row.statementSha256, row.envelope, row.size, row.sha256, row.sha512, row.sha1, row.manifest, row.readme, row.stagedAt, readAt, stagedCutoff(new Date(row.stagedAt)))
        .all();
      if (results.length === 1) return "staged";
      // Not written: say why (a second read; the refusal is rare and nothing changes on it).
      const why = await db
        .prepare(
          `SELECT EXISTS (SELECT 1 FROM versions WHERE name = ?1 AND version = ?2) AS published,
                  EXISTS (SELECT 1 FROM staged_versions WHERE name = ?1 AND version = ?2) AS staged`,
        )
        .bind(row.name, row.version)
        .first<{ published: number; staged: number }>();
      return why?.published ? "published" : why?.staged ? "exists" : "blob_collected";
    },

    async getStaged(name, version) {
      const row = await db.prepare("SELECT * FROM staged_versions WHERE name = ? AND version = ?").bind(name, version).first<StagedRecord>();
      return row ? toStaged(row) : null;
    },

    async expire(now) {
      const res = await db.prepare("DELETE FROM staged_versions WHERE staged_at < ?").bind(stagedCutoff(now)).run();
      return res.meta.changes;
    },

    async discard(name, version) {
      const res = await db.prepare("DELETE FROM staged_versions WHERE name = ? AND version = ?").bind(name, version).run();
      return res.meta.changes === 1 ? "discarded" : "not_found";
    },

    async listStaged(namespace) {
      const { results } = await db
        .prepare("SELECT name, version, namespace, tag, publisher_keyid, statement_sha256, size, sha256, sha512, sha1, staged_at FROM staged_versions WHERE namespace = ? ORDER BY staged_at, name, version")
        .bind(namespace)
        .all<Omit<StagedRecord, "envelope" | "manifest" | "readme">>();
      return results.map((r) => {
        const { envelope: _envelope, manifest: _manifest, readme: _readme, ...kept } = toStaged({ ...r, envelope: "", manifest: null, readme: null });
        return kept;
      });
    },
  };
}
