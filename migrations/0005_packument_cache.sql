-- The packument edge cache (docs/PROTOCOL.md §11, "Packument caching").
--
-- Each package has a revision: a random tag that the triggers below replace, inside the same
-- transaction, on every write to its versions, dist-tags or reviews. A packument is cached under
-- its revision, so a write makes every data centre's copy unreachable at once, without a purge.
-- Random rather than a counter, so that a database restored to an earlier point (D1 Time Travel)
-- or re-created never reuses a revision for other contents. A later migration that rebuilds one
-- of these tables must create its triggers again (test/worker/packument.test.ts notices).
-- Each trigger is one line: test/helpers/registry.ts splits migrations at a ';' ending a line.
CREATE TABLE package_revisions (
  name     TEXT PRIMARY KEY,
  revision TEXT NOT NULL
) STRICT;

-- SHA-256 of the bundle bytes the bundle route serves (stored bundle plus reviews), which the
-- abbreviated packument links with: remembered when a packument is first built, so later builds
-- read no bundle text. `reviews` is the review count the digest was computed with; a digest whose
-- count differs from the version's current one is not used (a review that lands between a build's
-- read and its write of the digest), and the triggers below drop a version's digest on any change
-- to its reviews or bundle.
CREATE TABLE bundle_digests (
  name    TEXT NOT NULL,
  version TEXT NOT NULL,
  reviews INTEGER NOT NULL,
  sha256  TEXT NOT NULL,
  PRIMARY KEY (name, version)
) STRICT;

INSERT INTO package_revisions (name, revision) SELECT name, lower(hex(randomblob(12))) FROM versions GROUP BY name;

CREATE TRIGGER versions_insert_revision AFTER INSERT ON versions BEGIN INSERT INTO package_revisions (name, revision) VALUES (NEW.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; END;
CREATE TRIGGER versions_update_revision AFTER UPDATE ON versions BEGIN INSERT INTO package_revisions (name, revision) VALUES (NEW.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; INSERT INTO package_revisions (name, revision) VALUES (OLD.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; END;
CREATE TRIGGER versions_delete_revision AFTER DELETE ON versions BEGIN INSERT INTO package_revisions (name, revision) VALUES (OLD.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; DELETE FROM bundle_digests WHERE name = OLD.name AND version = OLD.version; END;
CREATE TRIGGER dist_tags_insert_revision AFTER INSERT ON dist_tags BEGIN INSERT INTO package_revisions (name, revision) VALUES (NEW.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; END;
CREATE TRIGGER dist_tags_update_revision AFTER UPDATE ON dist_tags BEGIN INSERT INTO package_revisions (name, revision) VALUES (NEW.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; INSERT INTO package_revisions (name, revision) VALUES (OLD.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; END;
CREATE TRIGGER dist_tags_delete_revision AFTER DELETE ON dist_tags BEGIN INSERT INTO package_revisions (name, revision) VALUES (OLD.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; END;
CREATE TRIGGER reviews_insert_revision AFTER INSERT ON reviews BEGIN INSERT INTO package_revisions (name, revision) VALUES (NEW.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; DELETE FROM bundle_digests WHERE name = NEW.name AND version = NEW.version; END;
CREATE TRIGGER reviews_update_revision AFTER UPDATE ON reviews BEGIN INSERT INTO package_revisions (name, revision) VALUES (NEW.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; DELETE FROM bundle_digests WHERE name = NEW.name AND version = NEW.version; DELETE FROM bundle_digests WHERE name = OLD.name AND version = OLD.version; END;
CREATE TRIGGER reviews_delete_revision AFTER DELETE ON reviews BEGIN INSERT INTO package_revisions (name, revision) VALUES (OLD.name, lower(hex(randomblob(12)))) ON CONFLICT (name) DO UPDATE SET revision = excluded.revision; DELETE FROM bundle_digests WHERE name = OLD.name AND version = OLD.version; END;
CREATE TRIGGER versions_bundle_digest AFTER UPDATE OF bundle ON versions BEGIN DELETE FROM bundle_digests WHERE name = OLD.name AND version = OLD.version; END;
