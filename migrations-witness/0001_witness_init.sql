-- countersign witness (src/witness): the latest checkpoint this witness cosigned, one row per log.
-- A row only ever moves forward, by a compare-and-swap on (size, root_hash) (src/witness/d1-store.ts).
CREATE TABLE witness_checkpoints (
  origin TEXT PRIMARY KEY NOT NULL,      -- the checkpoint origin line (the log's key name)
  size INTEGER NOT NULL CHECK (size >= 0),
  root_hash TEXT NOT NULL,               -- base64 of the 32-byte RFC 6962 root
  note TEXT NOT NULL,                    -- the checkpoint note exactly as the log sent it
  cosignature TEXT NOT NULL,             -- the cosignature line(s) this witness answered with
  updated_at TEXT NOT NULL               -- ISO 8601, when it was cosigned
) STRICT;
