-- Cleanup policies (Nexus `/v1/cleanup-policies`); the JSON is Berth's own policy shape.
-- Repositories name the policies they use in their own definition (`cleanup.policyNames`).
CREATE TABLE cleanup_policies (
    name    TEXT PRIMARY KEY,
    config  TEXT NOT NULL
);

-- When a tag was last pulled (manifest GET by tag), Unix seconds; NULL: never since it was
-- (re)tagged. Written in batches from memory, never on the pull's own path.
ALTER TABLE tags ADD COLUMN last_downloaded INTEGER;
