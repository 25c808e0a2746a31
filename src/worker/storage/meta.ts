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
}

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
  /** Review envelopes (JSON), oldest first; filled by reads, ignored by commitVersion. */
  reviews?: string[];
}

export interface PublishContext {
  token: TokenRow | null;
  namespaceExists: boolean;
  key: PublisherKeyRow | null;
  versionExists: boolean;
  /** Current version of the dist-tag being published to, if any. */
  taggedVersion: string | null;
}

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
  createNamespace(namespace: string, now: string): Promise<"created" | "exists">;
  listNamespaces(): Promise<NamespaceRow[]>;
  enrolKey(row: Omit<PublisherKeyRow, "revokedAt">): Promise<"enrolled" | "exists" | "no_namespace">;
  revokeKey(namespace: string, keyid: string, now: string): Promise<"revoked" | "not_found">;
  listKeys(namespace: string): Promise<PublisherKeyRow[] | null>;

  createToken(row: TokenRow & { hash: string }): Promise<void>;
  listTokens(): Promise<TokenRow[]>;
  revokeToken(id: string, now: string): Promise<"revoked" | "not_found">;
  findToken(hash: string): Promise<TokenRow | null>;

  publishContext(q: { name: string; version: string; namespace: string; keyid: string; tokenHash: string | null; tag: string }): Promise<PublishContext>;
  nextSequence(): Promise<number>;
  /** The commit point of a publish: the version row and its tag, atomically. */
  commitVersion(row: VersionRow, tag: TagUpdate | null): Promise<"committed" | "exists">;

  getVersion(name: string, version: string): Promise<VersionRow | null>;
  listVersions(name: string): Promise<{ versions: VersionRow[]; tags: Record<string, string> }>;
  /** Bundles of many versions in one round trip; the map is keyed `name@version`. */
  bundles(versions: { name: string; version: string }[]): Promise<Map<string, string>>;

  /** Stores a verified review; one per reviewer per version. */
  addReview(review: { name: string; version: string; keyid: string; verdict: string; envelope: string; createdAt: string }): Promise<"added" | "exists">;

  /** npm deprecation messages (null clears); unsigned, mutable metadata. */
  setDeprecations(name: string, changes: { version: string; message: string | null }[]): Promise<void>;
  setTag(name: string, tag: string, version: string): Promise<"set" | "no_version">;
  deleteTag(name: string, tag: string): Promise<"deleted" | "not_found">;
  search(text: string, size: number, from: number): Promise<{ total: number; results: SearchRow[] }>;
}

export interface SearchRow {
  name: string;
  version: string;
  manifest: string;
  publishedAt: string;
  publisherKeyid: string;
}
