-- Human reviews: statements signed by reviewers' own keys over a version's artifact digests
-- (docs/PROTOCOL.md §5.2). Verified before they are stored; one per reviewer per version.
CREATE TABLE reviews (
  name           TEXT NOT NULL,
  version        TEXT NOT NULL,
  reviewer_keyid TEXT NOT NULL,
  verdict        TEXT NOT NULL,
  envelope       TEXT NOT NULL,           -- the review's DSSE envelope, JSON
  created_at     TEXT NOT NULL,
  PRIMARY KEY (name, version, reviewer_keyid),
  FOREIGN KEY (name, version) REFERENCES versions (name, version)
) STRICT;
