-- The semver precedence of a dist-tag's version as text that sorts in byte order
-- (storage/d1.ts semverSortKey), so a publish's commit batch can move `latest` only forward
-- against what is stored at that moment. Rows from before this migration have NULL until their
-- tag next moves.
ALTER TABLE dist_tags ADD COLUMN sort_key TEXT;
