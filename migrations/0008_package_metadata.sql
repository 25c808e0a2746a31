-- Signed package metadata (docs/PROTOCOL.md §19): each package's serial, which the triggers below
-- raise, in the same transaction, on every change to what the metadata statement lists: a version
-- added (or removed), a deprecation set or cleared, a dist-tag added, moved or removed.
--
-- The serial is the time of the change in milliseconds since 1970, or one more than the last
-- serial if that is not higher: strictly increasing, and still increasing after the database is
-- restored to an earlier point (D1 Time Travel) and written again. (A restored database that is
-- not written again serves its older serial, and consumers that saw a newer one report a
-- rollback: that is what it is.) Each trigger is one line: test/helpers/registry.ts splits
-- migrations at a ';' ending a line.
CREATE TABLE package_serials (
  name   TEXT PRIMARY KEY,
  serial INTEGER NOT NULL
) STRICT;

INSERT INTO package_serials (name, serial) SELECT name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) FROM versions GROUP BY name;

CREATE TRIGGER versions_insert_serial AFTER INSERT ON versions BEGIN INSERT INTO package_serials (name, serial) VALUES (NEW.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) ON CONFLICT (name) DO UPDATE SET serial = max(serial + 1, excluded.serial); END;
CREATE TRIGGER versions_deprecated_serial AFTER UPDATE OF deprecated ON versions BEGIN INSERT INTO package_serials (name, serial) VALUES (NEW.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) ON CONFLICT (name) DO UPDATE SET serial = max(serial + 1, excluded.serial); END;
CREATE TRIGGER versions_delete_serial AFTER DELETE ON versions BEGIN INSERT INTO package_serials (name, serial) VALUES (OLD.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) ON CONFLICT (name) DO UPDATE SET serial = max(serial + 1, excluded.serial); END;
CREATE TRIGGER dist_tags_insert_serial AFTER INSERT ON dist_tags BEGIN INSERT INTO package_serials (name, serial) VALUES (NEW.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) ON CONFLICT (name) DO UPDATE SET serial = max(serial + 1, excluded.serial); END;
CREATE TRIGGER dist_tags_update_serial AFTER UPDATE ON dist_tags BEGIN INSERT INTO package_serials (name, serial) VALUES (NEW.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) ON CONFLICT (name) DO UPDATE SET serial = max(serial + 1, excluded.serial); END;
CREATE TRIGGER dist_tags_delete_serial AFTER DELETE ON dist_tags BEGIN INSERT INTO package_serials (name, serial) VALUES (OLD.name, CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)) ON CONFLICT (name) DO UPDATE SET serial = max(serial + 1, excluded.serial); END;
