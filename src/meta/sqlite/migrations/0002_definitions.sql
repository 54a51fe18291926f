-- Repository and blob store definitions created or changed at run time (admin API), so they
-- survive a restart. The JSON is Berth's own model (src/model.rs), not the Nexus wire shape.
CREATE TABLE repositories (
    name    TEXT PRIMARY KEY,
    config  TEXT NOT NULL
);

CREATE TABLE blob_stores (
    name    TEXT PRIMARY KEY,
    config  TEXT NOT NULL
);
