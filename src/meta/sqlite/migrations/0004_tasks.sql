-- Garbage collection and tasks.

-- When a link was last (re)made: re-uploading or mounting a blob an image already links
-- renews its protection by the GC grace window, which `created_at` alone would not.
ALTER TABLE image_blobs ADD COLUMN touched_at INTEGER NOT NULL DEFAULT 0;

-- Tasks created through the admin API (the default ones are derived from the repositories
-- and blob stores at start). The JSON is Berth's own task definition.
CREATE TABLE tasks (
    id      TEXT PRIMARY KEY,
    config  TEXT NOT NULL
);

-- The sweep re-checks each candidate digest: find its references without a scan.
CREATE INDEX manifest_refs_by_ref ON manifest_refs (ref_digest);
CREATE INDEX manifests_by_digest ON manifests (digest);
CREATE INDEX image_blobs_by_digest ON image_blobs (digest);
