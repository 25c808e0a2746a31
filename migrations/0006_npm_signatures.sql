-- npm registry signatures (docs/PROTOCOL.md §11, "Registry signatures"): each npm version's
-- `dist.signatures` entry, as JSON `{"keyid":"SHA256:…","sig":"<base64 DER ECDSA>"}`, signed with
-- NPM_SIGNING_KEY over `<name>@<version>:<dist.integrity>`. Written in the publish's commit (the
-- same INSERT as the row); NULL for versions published before the key existed and for non-npm
-- artifacts. A packument build signs the npm versions that have no signature under the current
-- key (none yet, or an earlier key's) and stores them (src/worker/npm/signatures.ts); the
-- versions_update_revision trigger (migrations/0005) then moves the package's revision, as for
-- any write to a version.
ALTER TABLE versions ADD COLUMN npm_signature TEXT;
