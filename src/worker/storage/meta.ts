/**
 * @module
 * Metadata storage: namespaces, enrolled publisher keys, versions, dist-tags, tokens. Methods
 * return domain values or small outcome unions, never HTTP. Every method is one D1 round trip
 * (a single statement or one batch), so a request's round trips are a constant.
 */

export interface NamespaceRow {
  namespace: string;
  createdAt: string;
  activeKeys: number;
}

export interface PublisherKeyRow {
  namespace: string;
  keyid: string;
  publicKey: string;
  label: string;
  createdAt: string;
  revokedAt: string | null;
}

export type TokenScope = "read" | "publish";

export interface TokenRow {
  id: string;
  scope: TokenScope;
  /** For publish tokens: the namespaces they may publish in. */
  namespaces: string[];
  label: string;
  createdAt: string;
  revokedAt: string | null;
  /** The token that made this one with `npm token create` (migrations/0007); null: the admin API. */
  createdBy?: string | null;
  /** `cs_` and the token's first 4 random characters, for `npm token list`; '' for older tokens. */
  prefix?: string;
}

/** How many live tokens one token may make with `npm token create`. */
export const MAX_DERIVED_TOKENS = 100;

export interface VersionRow {
  name: string;
  version: string;
  namespace: string;
  sequence: number;
  size: number;
  sha256: string;
  sha512: string;
  sha1: string;
  publisherKeyid: string;
  /** The provenance bundle, JSON. */
  bundle: string;
  /** npm's package.json for npm tarballs (JSON), null for other artifacts. */
  manifest: string | null;
  publishedAt: string;
  deprecated: string | null;
  /**
   * npm versions: `dist.signatures[0]` as JSON `{"keyid","sig"}`, by NPM_SIGNING_KEY (signed at
   * publish, written with the row; migrations/0006). Null: not signed (yet), or not npm.
   */
  npmSignature?: string | null;
  /** npm versions: the README text from the tarball (core/package.ts, ≤ 64 KiB), written at commit only. */
  readme?: string | null;
  /** Review envelopes (JSON), oldest first; filled by reads, ignored by commitVersion. */
  reviews?: string[];
}

export interface RecentPublication {
  name: string;
  version: string;
  namespace: string;
  sequence: number;
  publishedAt: string;
  publisherKeyid: string;
  publisherLabel: string;
  /** package.json's `description`, when it is a string (npm packages). */
  description: string | null;
}

/** A package's metadata as stored: its serial, every version, its dist-tags, its namespace's revoked keys. */
export interface MetadataSource {
  serial: number;
  versions: { version: string; sequence: number; sha512: string; publishedAt: string; deprecated: string | null }[];
  tags: Record<string, string>;
  revokedKeys: RevokedKey[];
  /** The log index of this serial's metadata record (migrations/0012), once recorded. */
  recorded?: number;
}

/** A package serial's log entry to record (core/package-metadata.ts `metadataRecordEntry`). */
export interface MetadataRecordRow {
  name: string;
  serial: number;
  /** The entry text. */
  entry: string;
}

/** A publisher key revoked in a namespace (a `key_revoked` registry statement, logged at `sequence`). */
export interface RevokedKey {
  keyid: string;
  /** Versions the key published with a sequence number ≥ this are void. */
  since: number;
  sequence: number;
  revokedAt: string;
}

/**
 * A registry statement (PROTOCOL §20) committed with the change it records, in one batch, at the
 * sequence number it was signed with: the number must still be above every committed version and
 * statement, else nothing is written and the outcome is `sequence_taken` (sign again with the next).
 */
export interface StatementRow {
  sequence: number;
  kind: "namespace_claimed" | "key_enrolled" | "key_revoked";
  namespace: string;
  keyid: string | null;
  since: number | null;
  /** The signed statement, DSSE JSON. */
  envelope: string;
  createdAt: string;
}

/** What an admin change reads before it signs its statement: one round trip. */
export interface StatementContext {
  lastSequence: number;
  namespaceExists: boolean;
  /** The publisher key asked about, if any and enrolled (active or revoked). */
  key: PublisherKeyRow | null;
}

export interface PublishContext {
  token: TokenRow | null;
  namespaceExists: boolean;
  key: PublisherKeyRow | null;
  versionExists: boolean;
  /** Current version of the dist-tag being published to, if any. */
  taggedVersion: string | null;
  /** The highest sequence number committed so far (0 for none): a publish proposes the next. */
  lastSequence: number;
  /** The store's clock at this read, which precedes the publish's blob write (see `commitVersion`). */
  readAt: string;
}

/**
 * How a commit ended. `sequence_taken`: another version committed the proposed sequence number
 * (or a higher one) first; nothing was written, propose `lastSequence() + 1`. `blob_collected`:
 * the blob collector claimed the artifact's blob after `readAt`, so its bytes may be gone;
 * nothing was written, the upload must be repeated. `key_retired`: the countersignature is not by
 * the registry's current key (the last committed rotation's: another isolate rotated since this
 * one read its signer); nothing was written, sign again with the current key.
 */
export type CommitOutcome = "committed" | "exists" | "sequence_taken" | "blob_collected" | "key_retired";

export interface TagUpdate {
  tag: string;
  /**
   * The version the tag must still point at (null: must not exist yet) for the update to apply.
   * For `latest` the store instead compares semver precedence with what is stored at commit time
   * (concurrent publishes end at the highest); `from` then matters only for a row without a key.
   */
  from: string | null;
}

export interface MetaStore {
  statementContext(namespace: string, keyid?: string): Promise<StatementContext>;
  createNamespace(namespace: string, now: string, statement: StatementRow): Promise<"created" | "exists" | "sequence_taken">;
  listNamespaces(): Promise<NamespaceRow[]>;
  enrolKey(row: Omit<PublisherKeyRow, "revokedAt">, statement: StatementRow): Promise<"enrolled" | "exists" | "no_namespace" | "sequence_taken">;
  revokeKey(namespace: string, keyid: string, now: string, statement: StatementRow): Promise<"revoked" | "not_found" | "sequence_taken">;
  /** The registry's key rotations in log order (PROTOCOL §21): `from` and `to` fingerprints and the envelope JSON. */
  rotations(): Promise<{ sequence: number; from: string; to: string; envelope: string }[]>;
  /**
   * Commits a rotation at `sequence`: `sequence_taken` if the number is gone, `not_current` if
   * `from` is not the key that signs now (or either key was in a rotation before).
   */
  commitRotation(row: { sequence: number; from: string; to: string; envelope: string; createdAt: string }): Promise<"committed" | "sequence_taken" | "not_current">;
  /** A namespace's registry statements after sequence `after`, in log order, at most `limit` (null: no such namespace). */
  listStatements(namespace: string, after: number, limit: number): Promise<{ sequence: number; envelope: string }[] | null>;
  listKeys(namespace: string): Promise<PublisherKeyRow[] | null>;

  createToken(row: TokenRow & { hash: string }): Promise<void>;
  /**
   * A token made by the live token `row.createdBy` (`npm token create`), in one statement: only
   * while that token is live and has fewer than MAX_DERIVED_TOKENS live tokens of its own.
   */
  createDerivedToken(row: TokenRow & { hash: string; createdBy: string }): Promise<"created" | "parent_revoked" | "too_many">;
  listTokens(): Promise<TokenRow[]>;
  /** The live token `id` and the live tokens it made, oldest first (`npm token list`). */
  listOwnTokens(id: string): Promise<TokenRow[]>;
  /**
   * Revokes a token and, in the same statement, the tokens it made. With `by`, only if the token
   * is `by` itself or one `by` made (`npm token revoke`).
   */
  revokeToken(id: string, now: string, by?: string): Promise<"revoked" | "not_found">;
  findToken(hash: string): Promise<TokenRow | null>;

  publishContext(q: { name: string; version: string; namespace: string; keyid: string; tokenHash: string | null; tag: string }): Promise<PublishContext>;
  /** The highest sequence number committed so far (0 for none). */
  lastSequence(): Promise<number>;
  /**
   * The commit point of a publish: the version row and its tag, atomically, and only if
   * `row.sequence` is higher than every committed one and no blob-collector claim on the
   * artifact's blob overlaps the publish (claimed after `readAt`, or within the claim window
   * before it). `readAt` is `PublishContext.readAt`; without it, the commit's own time.
   */
  commitVersion(row: VersionRow, tag: TagUpdate | null, readAt?: string): Promise<CommitOutcome>;

  getVersion(name: string, version: string): Promise<VersionRow | null>;
  listVersions(name: string): Promise<{ versions: VersionRow[]; tags: Record<string, string> }>;
  /** Bundles of many versions in one round trip; the map is keyed `name@version`. */
  bundles(versions: { name: string; version: string }[]): Promise<Map<string, StoredBundle>>;

  /** Stores a verified review; one per reviewer per version. */
  addReview(review: { name: string; version: string; keyid: string; verdict: string; envelope: string; createdAt: string }): Promise<"added" | "exists">;

  /** npm deprecation messages (null clears); unsigned, mutable metadata. */
  setDeprecations(name: string, changes: { version: string; message: string | null }[]): Promise<void>;
  setTag(name: string, tag: string, version: string): Promise<"set" | "no_version">;
  deleteTag(name: string, tag: string): Promise<"deleted" | "not_found">;
  search(text: string, size: number, from: number): Promise<{ total: number; results: SearchRow[] }>;
  /**
   * What the signed metadata of each package lists (core/package-metadata.ts), in one round trip;
   * names without versions are absent from the map.
   */
  metadataSources(names: string[]): Promise<Map<string, MetadataSource>>;
  /**
   * Records each package serial as a log entry, each at the next sequence number, unless it is
   * recorded already; in one round trip. Returns the log index of every record, by name.
   */
  recordMetadata(records: MetadataRecordRow[]): Promise<Map<string, number>>;
  /** The last `limit` publications, newest first, and every namespace (the web UI's home page), in one round trip. */
  recentPublications(limit: number): Promise<{ namespaces: NamespaceRow[]; recent: RecentPublication[] }>;

  /** The blob collector's position (src/worker/gc.ts): the last sha512 it examined, null to start over. */
  gcCursor(): Promise<string | null>;
  /** Saves the collector's position and forgets claims too old to matter. */
  saveGcCursor(after: string | null): Promise<void>;
  /**
   * Claims for deletion, in one statement, those of `sha512s` that no version references, and
   * returns them. A claim refuses commits of that blob for `BLOB_CLAIM_SECONDS` (storage/d1.ts).
   */
  claimUnreferencedBlobs(sha512s: string[]): Promise<string[]>;

  /**
   * The package's packument revision (migrations/0005): a random tag that every write to its
   * versions, dist-tags or reviews replaces, in the same transaction. Null: no such package.
   */
  packumentRevision(name: string): Promise<string | null>;
  /**
   * What a packument is built from, in one round trip, with the revision it was read at. `lean`
   * (abbreviated packuments) reads a version's bundle text only when no digest of it is
   * remembered for its current reviews.
   */
  packumentSource(name: string, lean: boolean): Promise<PackumentSource>;
  /**
   * Stores npm signatures made by a packument build for versions that had none by `keyid` (the
   * backfill: versions published before NPM_SIGNING_KEY existed, or under an earlier key).
   */
  rememberNpmSignatures(signatures: NpmSignatureUpdate[]): Promise<void>;
  /** Remembers the SHA-256 of served bundles, each with the review count it was computed for. */
  rememberBundleDigests(digests: BundleDigest[]): Promise<void>;
}

export interface SearchRow {
  name: string;
  version: string;
  manifest: string;
  publishedAt: string;
  publisherKeyid: string;
  /** The publisher key's label ('' if none). */
  publisherLabel?: string;
}

/** A version as packuments need it (see `MetaStore.packumentSource`). */
export interface PackumentRow extends Omit<VersionRow, "bundle" | "reviews" | "readme"> {
  /** The label its publisher key was enrolled with ('' if none; null if the key row is gone). */
  publisherLabel?: string | null;
  /** The bundle exactly as the bundle route serves it (reviews spliced in); null if not read. */
  bundle: string | null;
  /** Hex SHA-256 of those bytes, if remembered (`rememberBundleDigests`). */
  bundleSha256: string | null;
  reviewCount: number;
}

export interface PackumentSource {
  revision: string | null;
  /** The package's metadata serial (migrations/0008), read in the same batch as the versions and tags. */
  serial: number | null;
  /** The log index of that serial's metadata record (migrations/0012), null before it is recorded. */
  recorded?: number | null;
  versions: PackumentRow[];
  tags: Record<string, string>;
  /** Full documents only: the README of the version `latest` points at, if it has one. */
  readme?: { version: string; text: string } | null;
  /** Full documents only: the namespace's active publisher keys, oldest first (`maintainers`). */
  maintainers?: { keyid: string; label: string }[];
  /** Full documents only (their signed metadata lists them): the namespace's revoked publisher keys. */
  revokedKeys?: RevokedKey[];
}

export interface BundleDigest {
  name: string;
  version: string;
  /** The review count of the version when its bundle was hashed. */
  reviews: number;
  sha256: string;
}

export interface NpmSignatureUpdate {
  name: string;
  version: string;
  /** The key that made it: a version already signed by this key is not overwritten. */
  keyid: string;
  /** JSON `{"keyid","sig"}`. */
  signature: string;
}

/** A stored bundle for the batch route: its JSON without `tlogProof` (reviews spliced in), and the parts to add one. */
export interface StoredBundle {
  /** The bundle's JSON text, reviews included, `tlogProof` left out. */
  json: string;
  /** The countersignature's sequence number: its log index. */
  sequence: number;
  /** The tlog-proof stored with it (against the first checkpoint that covered it), if any. */
  tlogProof: string | null;
}
