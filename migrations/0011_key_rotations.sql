-- Registry key rotations (docs/PROTOCOL.md §21): each hands the registry's identity from one
-- Ed25519 key to the next, signed by both, and is a log entry at its own sequence number — the
-- one sequence of versions and registry statements (migrations/0009). The newest row's `to_keyid`
-- is the key that signs now; a `from_keyid` never signs again (storage/d1.ts refuses to commit
-- what it countersigned).
CREATE TABLE key_rotations (
  sequence   INTEGER NOT NULL UNIQUE,
  from_keyid TEXT NOT NULL UNIQUE,          -- a key is rotated away at most once
  to_keyid   TEXT NOT NULL UNIQUE,          -- and becomes the registry's key at most once
  envelope   TEXT NOT NULL,                 -- the rotation statement, DSSE JSON with two signatures
  created_at TEXT NOT NULL
) STRICT;
