-- Package metadata in the transparency log (docs/PROTOCOL.md §19.1): one row per package serial
-- the registry signed, each a log entry at its own sequence number (the one sequence of versions,
-- registry statements and key rotations, migrations/0009 and 0011). `entry` is the exact entry
-- text (core/package-metadata.ts metadataRecordEntry: the name, the serial and the SHA-256 of
-- what the statement lists), which a consumer recomputes from the statement it was served.
-- A serial is recorded the first time the registry signs it (a publish records its own at once);
-- its number is allocated in the INSERT, so a record never holds a number a version was promised.
CREATE TABLE metadata_records (
  sequence   INTEGER NOT NULL UNIQUE,
  name       TEXT NOT NULL,
  serial     INTEGER NOT NULL,
  entry      TEXT NOT NULL,
  created_at TEXT NOT NULL,
  UNIQUE (name, serial)
) STRICT;

-- A full packument carries its serial's log index (`countersign.metadataLog`): a record made
-- after the packument was cached replaces it on its next read (migrations/0005).
CREATE TRIGGER metadata_records_insert_revision AFTER INSERT ON metadata_records BEGIN INSERT INTO package_revisions (name, revision) VALUES (NEW.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; END;
