-- Registry statements (docs/PROTOCOL.md §20): namespace claims, publisher-key enrolments and
-- revocations, each signed by the registry and appended to its transparency log. They share the
-- versions' sequence numbers (one log, one order): a row's `sequence` is its log index, allocated
-- at the commit point above every committed version and statement (storage/d1.ts), so the column
-- is NOT NULL UNIQUE and never an INTEGER PRIMARY KEY (which would number a NULL itself).
CREATE TABLE registry_statements (
  sequence   INTEGER NOT NULL UNIQUE,
  kind       TEXT NOT NULL CHECK (kind IN ('namespace_claimed', 'key_enrolled', 'key_revoked')),
  namespace  TEXT NOT NULL,
  keyid      TEXT,                         -- the publisher key enrolled or revoked
  since      INTEGER,                      -- key_revoked: versions of the key from this sequence on are void
  envelope   TEXT NOT NULL,                -- the signed statement (DSSE JSON)
  created_at TEXT NOT NULL
) STRICT;

CREATE INDEX registry_statements_by_namespace ON registry_statements (namespace, sequence);

-- A revocation changes what every package of the namespace's signed metadata says (its revoked
-- keys, PROTOCOL §19): their serials rise with it, as for any other change (migration 0008).
CREATE TRIGGER registry_statements_revocation_serial AFTER INSERT ON registry_statements WHEN NEW.kind = 'key_revoked' BEGIN UPDATE package_serials SET serial = max(serial + 1, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) WHERE name IN (SELECT DISTINCT name FROM versions WHERE namespace = NEW.namespace); END;
