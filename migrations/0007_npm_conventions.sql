-- npm conventions (docs/PROTOCOL.md §11, "The npm front door").
--
-- The README of each npm version, read from the signed tarball at publish (src/core/package.ts:
-- a root README*, at most 1 MiB, stored truncated to 64 KiB of UTF-8). NULL for versions
-- published before this migration and for packages without one. Only the full packument reads
-- it, and only for the version `latest` points at.
ALTER TABLE versions ADD COLUMN readme TEXT;

-- Tokens made with `npm token create` (/-/npm/v1/tokens): the token that made them. Such a token
-- is read-only, is revoked with its parent (one statement, storage/d1.ts revokeToken), and makes
-- no tokens itself. NULL: made by the admin API.
ALTER TABLE tokens ADD COLUMN created_by TEXT;

-- The first characters of the token (`cs_` and 4 of its 43 random ones), shown by `npm token
-- list` as npm's registry does, so a person can tell which token is which; '' for older tokens.
ALTER TABLE tokens ADD COLUMN prefix TEXT NOT NULL DEFAULT '';

CREATE INDEX tokens_by_creator ON tokens (created_by) WHERE created_by IS NOT NULL;

-- A packument names the namespace's active publisher keys (`maintainers`) and each version's
-- key label (`_npmUser`): enrolling or revoking a key moves the revision of every package in the
-- namespace, so no cached packument keeps the old list (migrations/0005).
CREATE TRIGGER publisher_keys_insert_revision AFTER INSERT ON publisher_keys BEGIN UPDATE package_revisions SET revision = lower(hex(randomblob(12))) WHERE name IN (SELECT DISTINCT name FROM versions WHERE namespace = NEW.namespace); END;
CREATE TRIGGER publisher_keys_update_revision AFTER UPDATE ON publisher_keys BEGIN UPDATE package_revisions SET revision = lower(hex(randomblob(12))) WHERE name IN (SELECT DISTINCT name FROM versions WHERE namespace = NEW.namespace OR namespace = OLD.namespace); END;
CREATE TRIGGER publisher_keys_delete_revision AFTER DELETE ON publisher_keys BEGIN UPDATE package_revisions SET revision = lower(hex(randomblob(12))) WHERE name IN (SELECT DISTINCT name FROM versions WHERE namespace = OLD.namespace); END;
