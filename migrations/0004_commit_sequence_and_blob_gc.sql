-- Sequence numbers are allocated at the commit point (docs/PROTOCOL.md §12): a version row takes a
-- number above every committed one, checked inside the commit batch, and a publish that is
-- refused or fails takes none. The counter that numbers were drawn from before the commit is gone.
DROP TABLE counters;

-- The blob collector's claims (src/worker/gc.ts, a Cron Trigger): an unreferenced blob is claimed
-- here, in the same statement that checks that no version references it, before R2 deletes it.
-- A publish of the same bytes cannot commit while a claim overlaps it (storage/d1.ts
-- commitVersion), so a blob is never deleted under a version.
CREATE TABLE blob_claims (
  sha512     TEXT PRIMARY KEY,
  claimed_at TEXT NOT NULL                 -- D1 time, strftime('%Y-%m-%dT%H:%M:%fZ')
) STRICT;

-- Where the collector stopped: it examines a bounded number of blobs per run, in key order.
CREATE TABLE gc_state (
  name  TEXT PRIMARY KEY,                  -- 'blobs.after': the last sha512 examined ('' to start over)
  value TEXT NOT NULL
) STRICT;
