-- countersign schema v1. Applied by `wrangler d1 migrations apply` (npm start does it locally).

-- Namespaces this registry is authoritative for: a scope (@acme) or an unscoped package name.
CREATE TABLE namespaces (
  namespace  TEXT PRIMARY KEY,
  created_at TEXT NOT NULL
) STRICT;

-- Publisher keys enrolled per namespace. Revoked keys stay for the record.
CREATE TABLE publisher_keys (
  namespace  TEXT NOT NULL REFERENCES namespaces (namespace),
  keyid      TEXT NOT NULL,           -- SHA256: fingerprint
  public_key TEXT NOT NULL,           -- base64 of the 32-byte Ed25519 key
  label      TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  revoked_at TEXT,
  PRIMARY KEY (namespace, keyid)
) STRICT;

-- Published versions: immutable. The bytes live in R2 under artifacts/sha512/<sha512>.
CREATE TABLE versions (
  name            TEXT NOT NULL,
  version         TEXT NOT NULL,
  namespace       TEXT NOT NULL,
  sequence        INTEGER NOT NULL UNIQUE, -- the countersignature's per-registry sequence number
  size            INTEGER NOT NULL,
  sha256          TEXT NOT NULL,
  sha512          TEXT NOT NULL,
  sha1            TEXT NOT NULL,           -- npm's legacy dist.shasum
  publisher_keyid TEXT NOT NULL,
  bundle          TEXT NOT NULL,           -- provenance bundle JSON (publisher envelope + countersignature)
  manifest        TEXT,                    -- npm package.json of npm tarballs, NULL otherwise
  published_at    TEXT NOT NULL,
  deprecated      TEXT,                    -- npm deprecation message (unsigned, mutable)
  PRIMARY KEY (name, version)
) STRICT;

CREATE INDEX versions_by_sha512 ON versions (sha512);

CREATE TABLE dist_tags (
  name    TEXT NOT NULL,
  tag     TEXT NOT NULL,
  version TEXT NOT NULL,
  PRIMARY KEY (name, tag)
) STRICT;

CREATE TABLE counters (
  name  TEXT PRIMARY KEY,
  value INTEGER NOT NULL
) STRICT;

INSERT INTO counters (name, value) VALUES ('sequence', 0);

-- Bearer tokens: only a SHA-256 of the token is stored; the token is shown once at creation.
CREATE TABLE tokens (
  id         TEXT PRIMARY KEY,
  hash       TEXT NOT NULL UNIQUE,
  scope      TEXT NOT NULL CHECK (scope IN ('read', 'publish')),
  namespaces TEXT NOT NULL DEFAULT '[]',  -- JSON array; for publish tokens
  label      TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  revoked_at TEXT
) STRICT;
