-- Staged publishing (docs/PROTOCOL.md §12.1): a namespace may require that every version be
-- approved by a second enrolled key before the registry countersigns it. A staged version is
-- uploaded and checked like any publish, its bytes stored in R2, but it has no sequence number, no
-- countersignature and no log entry: it is in no read route until an approval commits it as a
-- version row (storage/d1.ts commitVersion), which deletes its staged row in the same transaction.
-- Each trigger is one line: test/helpers/registry.ts splits migrations at a ';' ending a line.

-- Namespaces whose direct publishes are refused (`approval_required`); absent: not required.
CREATE TABLE namespace_approval (
  namespace  TEXT PRIMARY KEY REFERENCES namespaces (namespace),
  required   INTEGER NOT NULL CHECK (required IN (0, 1)),
  updated_at TEXT NOT NULL
) STRICT;

-- Versions uploaded with `publish --stage`, awaiting approval. Everything the commit needs except
-- what is made at the commit itself (sequence, countersignature, npm signature, published_at).
CREATE TABLE staged_versions (
  name             TEXT NOT NULL,
  version          TEXT NOT NULL,
  namespace        TEXT NOT NULL,
  tag              TEXT NOT NULL,           -- the dist-tag asked for at staging
  publisher_keyid  TEXT NOT NULL,
  statement_sha256 TEXT NOT NULL,           -- hex SHA-256 of the publisher statement's payload
  envelope         TEXT NOT NULL,           -- the publisher envelope (DSSE JSON), exactly as uploaded
  size             INTEGER NOT NULL,
  sha256           TEXT NOT NULL,
  sha512           TEXT NOT NULL,
  sha1             TEXT NOT NULL,
  manifest         TEXT,                    -- npm package.json of npm tarballs, NULL otherwise
  readme           TEXT,
  staged_at        TEXT NOT NULL,
  PRIMARY KEY (name, version)
) STRICT;

CREATE INDEX staged_versions_by_sha512 ON staged_versions (sha512);

-- A version committed (by an approval, or a direct publish where approval is not required) is no
-- longer staged: in the commit's own transaction.
CREATE TRIGGER versions_insert_unstage AFTER INSERT ON versions BEGIN DELETE FROM staged_versions WHERE name = NEW.name AND version = NEW.version; END;

-- A staged blob is referenced by no version, but must outlive the blob collector's grace period
-- (src/worker/gc.ts): a claim of it is skipped, so the collector never deletes it, and the claim
-- statement does not return it (RAISE(IGNORE) leaves the row out of RETURNING).
CREATE TRIGGER blob_claims_spare_staged BEFORE INSERT ON blob_claims WHEN EXISTS (SELECT 1 FROM staged_versions WHERE sha512 = NEW.sha512) BEGIN SELECT RAISE(IGNORE); END;
CREATE TRIGGER blob_claims_spare_staged_update BEFORE UPDATE ON blob_claims WHEN EXISTS (SELECT 1 FROM staged_versions WHERE sha512 = NEW.sha512) BEGIN SELECT RAISE(IGNORE); END;
